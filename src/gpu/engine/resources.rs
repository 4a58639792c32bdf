//! The buffers and bind groups that depend on the batch shape (B, T), built once per shape.

use super::{GpuEngine, F32};
use crate::gpu::budget;
use crate::gpu::kernels::{self, roles, Buf};
use crate::gpu::layout::{Chunk, Dims, READOUT_TOTALS, REWIRE_STATS_LEN};
use crate::model::param_layout::{NEURON_ALPHA, NEURON_BETA, NEURON_RHO, NEURON_THR};
use crate::model::Network;
use crate::model::Readout;
use anyhow::bail;

/// Buffers that depend on the batch shape (B, T), rebuilt when it changes.
pub(super) struct BatchResources {
    pub(super) batch: usize,
    pub(super) steps: usize,
    pub(super) dims: Dims,
    /// Time chunks of the forward and backward sweeps: (t0, len), 1-based.
    pub(super) chunks: Vec<(usize, usize)>,
    pub(super) x_chunks: Vec<Buf<roles::X>>,
    pub(super) labels: Buf<roles::Labels>,
    pub(super) readout: Buf<roles::Readout>,
    pub(super) bits: Buf<roles::Bits>,
    pub(super) bits_len: u64,
    pub(super) forward_groups: Vec<wgpu::BindGroup>,
    pub(super) backward_groups: Vec<wgpu::BindGroup>,
    /// One bind group per time chunk of the readout (its own chunking).
    pub(super) readout_groups: Vec<wgpu::BindGroup>,
    pub(super) loss_reduce_group: wgpu::BindGroup,
    pub(super) batch_reduce_group: wgpu::BindGroup,
    pub(super) adam_group: wgpu::BindGroup,
    pub(super) refill_group: wgpu::BindGroup,
    pub(super) sparse_rows_group: wgpu::BindGroup,
    pub(super) staging: wgpu::Buffer,
    pub(super) staging_len: u64,
    /// The forward state [B, N, state_stride] and the readout trace state [B, N, 2] (what a
    /// stream carries from one pass to the next, with the last row of `bits`).
    pub(super) state: Buf<roles::State>,
    pub(super) pstate: Buf<roles::Pstate>,
    /// A running stream of forward passes (`Engine::stream_start`), if any.
    pub(super) stream: Option<GpuStream>,
}

/// A stream of forward passes on the GPU: whether a pass has run (the next one resumes) and
/// the saved copies of `state`, `pstate` and `bits`.
pub(super) struct GpuStream {
    pub(super) resume: bool,
    pub(super) saved: Option<[wgpu::Buffer; 3]>,
}

impl GpuEngine {
    /// Builds (or reuses) the buffers for batches of `batch` sequences of `steps` steps.
    pub(super) fn ensure_batch(&mut self, batch: usize, steps: usize) -> anyhow::Result<()> {
        if let Some(r) = &self.batch_res {
            if r.batch == batch && r.steps == steps {
                return Ok(());
            }
        }
        self.batch_res = None;
        let net = &self.network;
        let device = &self.ctx.device;
        let limits = device.limits();
        let max_binding = limits.max_storage_buffer_binding_size;
        let (n, n_in, n_out) = (net.n_rec(), net.n_in(), net.n_out());
        let p = net.params.len();
        let sparse = self.deep_r.as_ref().is_some_and(|d| !d.dense_gradients);
        let dims = Dims::for_batch(net, batch, steps, sparse)?;
        let readout_len = dims.readout_len() as u64 * F32;
        let partials_len = (batch * p) as u64 * F32;
        let bits_len = dims.bits_len() as u64 * F32;
        for (what, len) in [
            ("readout/dy", readout_len),
            ("per-sequence gradients", partials_len),
            ("spike bits", bits_len),
        ] {
            if len > max_binding {
                bail!("the {what} buffer for a batch of {batch} x {steps} steps needs {len} bytes, over the adapter's storage binding limit of {max_binding}: lower train.batch_size");
            }
        }
        // Time chunks: at most chunk_steps; small enough that the per-chunk records
        // (v_{t-1}, b_t) and inputs fit one storage binding; and, on drivers that cap loop
        // iterations per invocation, within that cap (see budget.rs).
        let per_step = (batch * n * 8).max(batch * n_in * 4) as u64;
        let fit = (max_binding / per_step.max(1)) as usize;
        if fit == 0 {
            bail!("one time step of a batch of {batch} needs {per_step} bytes, over the adapter's storage binding limit of {max_binding} bytes: lower train.batch_size");
        }
        let wg = self.constants.workgroup_size;
        let mut sweep_len = self.chunk_steps.min(fit);
        let mut readout_chunk_len = self.chunk_steps;
        if let Some(limit) = self.ctx.loop_limit {
            // 10 % margin under the measured cap.
            let cap = limit * 9 / 10;
            let too_big = |what: &str| {
                anyhow::anyhow!("the {what} kernel cannot run one time step of this network within the adapter's loop limit ({limit} iterations per invocation); use a larger device.workgroup_size")
            };
            sweep_len = sweep_len
                .min(
                    budget::forward(&dims, wg)
                        .max_steps(cap)
                        .ok_or_else(|| too_big("forward"))?,
                )
                .min(
                    budget::backward(&dims, wg)
                        .max_steps(cap)
                        .ok_or_else(|| too_big("backward"))?,
                );
            readout_chunk_len = readout_chunk_len.min(
                budget::readout(&dims, wg)
                    .max_steps(cap)
                    .ok_or_else(|| too_big("readout"))?,
            );
            if budget::loss_reduce(&dims, wg) > cap || budget::batch_reduce(&dims) > cap {
                bail!("a batch of {batch} exceeds the adapter's loop limit ({limit} iterations per invocation) in the batch reductions: lower the batch size");
            }
        }
        let chunks = budget::chunks(steps, sweep_len);
        let readout_chunks = budget::chunks(steps, readout_chunk_len);
        let dims_buf = Buf::uniform(device, "dims", &dims);
        let pstate = Buf::storage(device, "readout trace state", (batch * n * 2) as u64 * F32);
        let state = Buf::storage(
            device,
            "forward state",
            (batch * n * dims.state_stride as usize) as u64 * F32,
        );
        let bstate = Buf::<roles::Bstate>::storage(
            device,
            "backward state",
            (batch * n * dims.bstate_stride as usize) as u64 * F32,
        );
        let bits = Buf::storage(device, "spike bits", bits_len);
        let readout = Buf::storage(device, "readout", readout_len);
        let partials =
            Buf::<roles::Partials>::storage(device, "per-sequence gradients", partials_len);
        // Classes [B] or [T, B]; regression targets as f32 bits [T, B, n_out].
        let labels_len = match net.sim.readout {
            Readout::Window(_) => batch,
            Readout::Framewise(_) => steps * batch,
            Readout::Regression(_) => steps * batch * n_out,
        };
        let labels = Buf::storage(device, "labels", labels_len as u64 * 4);
        let mut x_chunks = Vec::new();
        let mut forward_groups = Vec::new();
        let mut backward_groups = Vec::new();
        for (c, &(t0, len)) in chunks.iter().enumerate() {
            let x = Buf::storage(
                device,
                &format!("x chunk {c}"),
                (len * batch * n_in) as u64 * F32,
            );
            let records = Buf::<roles::Records>::storage(
                device,
                &format!("records chunk {c}"),
                (len * batch * n) as u64 * 8,
            );
            let chunk_buf = Buf::uniform(
                device,
                &format!("chunk {c}"),
                &Chunk {
                    t0: t0 as u32,
                    len: len as u32,
                    ..Chunk::default()
                },
            );
            forward_groups.push(
                kernels::alif_forward::Bindings {
                    dims: &dims_buf,
                    chunk: &chunk_buf,
                    step: &self.step_buf,
                    model: &self.model,
                    delays: &self.delays,
                    x: &x,
                    state: &state,
                    records: &records,
                    bits: &bits,
                }
                .bind_group(
                    device,
                    &self.pipelines.forward,
                    &format!("alif_forward chunk {c}"),
                ),
            );
            backward_groups.push(
                kernels::alif_backward::Bindings {
                    dims: &dims_buf,
                    chunk: &chunk_buf,
                    model: &self.model,
                    delays: &self.delays,
                    x: &x,
                    records: &records,
                    bits: &bits,
                    readout: &readout,
                    bstate: &bstate,
                    partials: &partials,
                }
                .bind_group(
                    device,
                    &self.pipelines.backward,
                    &format!("alif_backward chunk {c}"),
                ),
            );
            x_chunks.push(x);
        }
        let readout_groups = readout_chunks
            .iter()
            .enumerate()
            .map(|(c, &(t0, len))| {
                let chunk_buf = Buf::uniform(
                    device,
                    &format!("readout chunk {c}"),
                    &Chunk {
                        t0: t0 as u32,
                        len: len as u32,
                        ..Chunk::default()
                    },
                );
                kernels::readout_loss::Bindings {
                    dims: &dims_buf,
                    chunk: &chunk_buf,
                    step: &self.step_buf,
                    model: &self.model,
                    bits: &bits,
                    labels: &labels,
                    readout: &readout,
                    partials: &partials,
                    pstate: &pstate,
                }
                .bind_group(
                    device,
                    &self.pipelines.readout,
                    &format!("readout_loss chunk {c}"),
                )
            })
            .collect();
        let loss_reduce_group = kernels::loss_reduce::Bindings {
            dims: &dims_buf,
            state: &state,
            readout: &readout,
        }
        .bind_group(device, &self.pipelines.loss_reduce, "loss_reduce");
        let batch_reduce_group = kernels::batch_reduce::Bindings {
            dims: &dims_buf,
            partials: &partials,
            constraints: &self.constraints,
            grads: &self.grads,
            model: &self.model,
        }
        .bind_group(device, &self.pipelines.batch_reduce, "batch_reduce");
        let adam_group = kernels::adam::Bindings {
            dims: &dims_buf,
            step: &self.step_buf,
            grads: &self.grads,
            constraints: &self.constraints,
            model: &self.model,
            moments: &self.moments,
            rewire: &self.rewire_buf,
            stats: &self.rewire_stats_buf,
        }
        .bind_group(device, &self.pipelines.adam, "adam");
        let refill_group = kernels::deep_r_refill::Bindings {
            dims: &dims_buf,
            rewire: &self.rewire_buf,
            constraints: &self.constraints,
            model: &self.model,
            stats: &self.rewire_stats_buf,
        }
        .bind_group(device, &self.pipelines.deep_r_refill, "deep_r_refill");
        let sparse_rows_group = kernels::sparse_rows::Bindings {
            dims: &dims_buf,
            model: &self.model,
            delays: &self.delays,
        }
        .bind_group(device, &self.pipelines.sparse_rows, "sparse_rows");
        // Room for the totals and rates followed by the optimiser's counters (`run`).
        let counters_len = ((READOUT_TOTALS as usize + n + REWIRE_STATS_LEN) * 4) as u64;
        let staging_len = readout_len
            .max(p as u64 * F32 * 3)
            .max(bits_len)
            .max(counters_len);
        let staging = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("staging"),
            size: staging_len,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.batch_res = Some(BatchResources {
            batch,
            steps,
            dims,
            chunks,
            x_chunks,
            labels,
            readout,
            bits,
            bits_len,
            forward_groups,
            backward_groups,
            readout_groups,
            loss_reduce_group,
            batch_reduce_group,
            adam_group,
            refill_group,
            sparse_rows_group,
            staging,
            staging_len,
            state,
            pstate,
            stream: None,
        });
        Ok(())
    }

    /// The model buffer: the trained parameters, then the per-neuron constants in the
    /// blocks of `param_layout::NEURON_CONSTANTS`.
    pub fn model_data(net: &Network) -> Vec<f32> {
        let layout = net.params.layout();
        let mut data = net.params.to_flat();
        data.resize(layout.model_len(), 0.0);
        let dt = net.sim.dt;
        for (k, values) in [
            (NEURON_ALPHA, net.neurons.alpha(dt)),
            (NEURON_RHO, net.neurons.rho(dt)),
            (NEURON_BETA, net.neurons.beta.clone()),
            (NEURON_THR, net.neurons.thr.clone()),
        ] {
            let at = layout.neuron_offset(k);
            data[at..at + layout.n_rec].copy_from_slice(values.as_slice().expect("contiguous"));
        }
        data
    }

    /// The delay buffer: delay_in | delay_rec, then room for the row lists and counts of
    /// W_rec and W_in that sparse_rows.wgsl writes (`Dims::delays_len` words in all).
    pub fn delay_data(net: &Network) -> Vec<u32> {
        let (n, n_in) = (net.n_rec(), net.n_in());
        let mut data: Vec<u32> = net.delay_in.iter().copied().collect();
        data.extend(net.delay_rec.iter());
        data.resize(data.len() + n * n + n + n_in * n + n_in, 0);
        data
    }
}
