//! The GPU training engine: buffers, pipelines and bind groups, created once per network
//! and batch shape, and one training iteration encoded as one compute pass and one submit.
//!
//! Dispatch order of an iteration (each kernel's header comment gives its equations):
//! `alif_forward` per time chunk → `readout_loss` → `loss_reduce` → `alif_backward` per time
//! chunk in reverse → `batch_reduce` → `adam`; then the totals (and, when asked, gradients and
//! spikes) are copied to a staging buffer and mapped once. With kernel timing on
//! (`enable_kernel_timing`, for `bench`), a training iteration runs each kernel in a pass of
//! its own with timestamps at both ends (`timing.rs`), still one submit.

use anyhow::{bail, Context as _};
use ndarray::{Array2, Array3};
use wgpu::util::DeviceExt;

use super::budget;
use super::context::{map_read, GpuContext};
use super::kernels::{self, Kernel};
use super::layout::{
    Chunk, Dims, RewireUniform, StepUniform, BSTATE_HEAD, READOUT_TOTALS, REWIRE_STATS_LEN,
    STATE_HEAD, STAT_NONFINITE_GRADS, STAT_NONFINITE_WEIGHTS,
};
use super::shader::ShaderConstants;
use super::timing::{KernelTimer, KernelTimes};
use crate::engine::{check_stream_shape, BatchStats, Engine, GradientReport, StepSettings};
use crate::model::deep_r::{DeepR, RewireStats};
use crate::model::param_layout::{NEURON_ALPHA, NEURON_BETA, NEURON_RHO, NEURON_THR};
use crate::model::{Batch, Network, Params, Readout, Targets};

const F32: u64 = 4;

/// The compiled kernels (pipelines and bind-group layouts, `kernels/`).
struct Pipelines {
    forward: Kernel,
    readout: Kernel,
    loss_reduce: Kernel,
    backward: Kernel,
    batch_reduce: Kernel,
    adam: Kernel,
    deep_r_refill: Kernel,
    sparse_rows: Kernel,
}

/// Buffers that depend on the batch shape (B, T), rebuilt when it changes.
struct BatchResources {
    batch: usize,
    steps: usize,
    dims: Dims,
    /// Time chunks of the forward and backward sweeps: (t0, len), 1-based.
    chunks: Vec<(usize, usize)>,
    x_chunks: Vec<wgpu::Buffer>,
    labels: wgpu::Buffer,
    readout: wgpu::Buffer,
    bits: wgpu::Buffer,
    bits_len: u64,
    forward_groups: Vec<wgpu::BindGroup>,
    backward_groups: Vec<wgpu::BindGroup>,
    /// One bind group per time chunk of the readout (its own chunking).
    readout_groups: Vec<wgpu::BindGroup>,
    loss_reduce_group: wgpu::BindGroup,
    batch_reduce_group: wgpu::BindGroup,
    adam_group: wgpu::BindGroup,
    refill_group: wgpu::BindGroup,
    sparse_rows_group: wgpu::BindGroup,
    staging: wgpu::Buffer,
    staging_len: u64,
    /// The forward state [B, N, state_stride] and the readout trace state [B, N, 2] (what a
    /// stream carries from one pass to the next, with the last row of `bits`).
    state: wgpu::Buffer,
    pstate: wgpu::Buffer,
    /// A running stream of forward passes (`Engine::stream_start`), if any.
    stream: Option<GpuStream>,
}

/// A stream of forward passes on the GPU: whether a pass has run (the next one resumes) and
/// the saved copies of `state`, `pstate` and `bits`.
struct GpuStream {
    resume: bool,
    saved: Option<[wgpu::Buffer; 3]>,
}

pub struct GpuEngine {
    ctx: GpuContext,
    network: Network,
    constants: ShaderConstants,
    chunk_steps: usize,
    pipelines: Pipelines,
    /// Trained parameters (P) followed by the per-neuron constants α | ρ | β | thr.
    model: wgpu::Buffer,
    /// delay_in | delay_rec | W_rec row lists [n·n] | row counts [n] (sparse_rows.wgsl).
    delays: wgpu::Buffer,
    constraints: wgpu::Buffer,
    grads: wgpu::Buffer,
    /// DEEP R: settings (`RewireUniform`) and the counters of the last step.
    rewire_buf: wgpu::Buffer,
    rewire_stats_buf: wgpu::Buffer,
    deep_r: Option<DeepR>,
    rewire_stats: Option<RewireStats>,
    /// Adam moments m | v.
    moments: wgpu::Buffer,
    /// The trained parameters and moments before the last Adam step (P | m | v): what a
    /// refused step (the NaN guard) restores.
    backup: wgpu::Buffer,
    /// The optimiser's counters (`layout::STATS_LAYOUT`) of the last training step.
    step_counters: [u32; REWIRE_STATS_LEN],
    step_buf: wgpu::Buffer,
    batch_res: Option<BatchResources>,
    profile: Option<std::collections::BTreeMap<&'static str, f64>>,
    /// Per-kernel timestamp timing of training iterations (`enable_kernel_timing`), if on.
    timer: Option<KernelTimer>,
}

fn storage(device: &wgpu::Device, label: &str, size: u64) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: size.max(16),
        usage: wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_DST
            | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    })
}

fn storage_init<T: bytemuck::Pod>(device: &wgpu::Device, label: &str, data: &[T]) -> wgpu::Buffer {
    let bytes: &[u8] = bytemuck::cast_slice(data);
    let mut padded = bytes.to_vec();
    padded.resize(bytes.len().max(16).next_multiple_of(4), 0);
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: &padded,
        usage: wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_DST
            | wgpu::BufferUsages::COPY_SRC,
    })
}

fn uniform_init<T: bytemuck::Pod>(device: &wgpu::Device, label: &str, data: &T) -> wgpu::Buffer {
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: bytemuck::bytes_of(data),
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
    })
}

/// One kernel of an iteration: its pipeline, a bind group per dispatch (one per time chunk
/// for the sweeps) and the workgroup grid.
struct Stage<'a> {
    name: &'static str,
    pipeline: &'a wgpu::ComputePipeline,
    groups: Vec<&'a wgpu::BindGroup>,
    grid: (u32, u32),
}

impl<'a> Stage<'a> {
    fn new(kernel: &'a Kernel, groups: Vec<&'a wgpu::BindGroup>, grid: (u32, u32)) -> Self {
        Stage {
            name: kernel.name,
            pipeline: &kernel.pipeline,
            groups,
            grid,
        }
    }

    fn record(&self, pass: &mut wgpu::ComputePass<'_>) {
        pass.set_pipeline(self.pipeline);
        for g in &self.groups {
            pass.set_bind_group(0, *g, &[]);
            pass.dispatch_workgroups(self.grid.0, self.grid.1, 1);
        }
    }

    fn encode(&self, enc: &mut wgpu::CommandEncoder) {
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(self.name),
            timestamp_writes: None,
        });
        self.record(&mut pass);
    }
}

impl GpuEngine {
    /// Times each kernel separately from now on (one submit per kernel: slower, for
    /// `lsnn-gpu bench --profile`). Milliseconds accumulate per kernel name.
    pub fn enable_profiling(&mut self) {
        self.profile = Some(std::collections::BTreeMap::new());
    }

    /// Accumulated milliseconds per kernel since profiling was enabled.
    pub fn profile(&self) -> Option<&std::collections::BTreeMap<&'static str, f64>> {
        self.profile.as_ref()
    }

    /// Times each kernel of every training iteration (`train_step`) from now on, on the GPU,
    /// with timestamp queries: each kernel then runs in a compute pass of its own, in the same
    /// single submit, and the timestamps are read back after it. Starts from zero when already
    /// on. Returns why not when the device lacks `TIMESTAMP_QUERY` (then nothing changes).
    /// Training runs leave it off and pay nothing.
    pub fn enable_kernel_timing(&mut self) -> Result<(), String> {
        self.timer = Some(KernelTimer::new(&self.ctx)?);
        Ok(())
    }

    /// Stops kernel timing; returns what it measured.
    pub fn disable_kernel_timing(&mut self) -> Option<KernelTimes> {
        self.timer.take().map(|t| t.times().clone())
    }

    /// Per-kernel times of the training iterations since `enable_kernel_timing`, if on.
    pub fn kernel_times(&self) -> Option<&KernelTimes> {
        self.timer.as_ref().map(|t| t.times())
    }

    /// Uploads the network and builds the pipelines. `workgroup_size` None = by adapter type.
    pub fn new(
        ctx: GpuContext,
        network: Network,
        constraints: &[u32],
        workgroup_size: Option<u32>,
        chunk_steps: usize,
    ) -> anyhow::Result<GpuEngine> {
        let n = network.n_rec();
        if n > crate::config::MAX_NEURONS || network.n_in() > crate::config::MAX_NEURONS {
            bail!(
                "the GPU kernels support at most {} neurons and inputs",
                crate::config::MAX_NEURONS
            );
        }
        if network.n_out() > 256 {
            bail!("the GPU kernels support at most 256 readout classes");
        }
        let max_wg = ctx.device.limits().max_compute_invocations_per_workgroup;
        // Measured on lavapipe at the sMNIST size (benches/RESULTS.md): 32 and 64 invocations
        // are fastest, 16 and 128+ slower. GPUs want wide workgroups. Overridable with
        // device.workgroup_size.
        let wg = workgroup_size
            .unwrap_or(if ctx.is_cpu_adapter() { 64 } else { 128 })
            .min(max_wg);
        let constants = ShaderConstants::new(wg);
        let device = &ctx.device;
        let make = |name| Kernel::new(device, name, &constants);
        let pipelines = Pipelines {
            forward: make(kernels::alif_forward::NAME),
            readout: make(kernels::readout_loss::NAME),
            loss_reduce: make(kernels::loss_reduce::NAME),
            backward: make(kernels::alif_backward::NAME),
            batch_reduce: make(kernels::batch_reduce::NAME),
            adam: make(kernels::adam::NAME),
            deep_r_refill: make(kernels::deep_r_refill::NAME),
            sparse_rows: make(kernels::sparse_rows::NAME),
        };
        let p = network.params.len();
        let model = storage_init(device, "model", &Self::model_data(&network));
        let mut delay_data: Vec<u32> = network.delay_in.iter().copied().collect();
        delay_data.extend(network.delay_rec.iter());
        // Room for the row lists and counts of W_rec and W_in, written by sparse_rows.wgsl.
        let n_in = network.n_in();
        delay_data.resize(delay_data.len() + n * n + n + n_in * n + n_in, 0);
        let delays = storage_init(device, "delays", &delay_data);
        let constraints_buf = storage_init(device, "constraints", constraints);
        let grads = storage(device, "grads", p as u64 * F32);
        let moments = storage(device, "adam moments", 2 * p as u64 * F32);
        let backup = storage(device, "weights before the step", 3 * p as u64 * F32);
        let step_buf = uniform_init(device, "step uniform", &StepUniform::default());
        let rewire_buf = uniform_init(device, "rewire uniform", &RewireUniform::default());
        let rewire_stats_buf = storage(
            device,
            "rewire stats",
            (REWIRE_STATS_LEN * std::mem::size_of::<u32>()) as u64,
        );
        Ok(GpuEngine {
            ctx,
            network,
            constants,
            chunk_steps,
            pipelines,
            model,
            delays,
            constraints: constraints_buf,
            grads,
            rewire_buf,
            rewire_stats_buf,
            deep_r: None,
            rewire_stats: None,
            moments,
            backup,
            step_counters: [0; REWIRE_STATS_LEN],
            step_buf,
            batch_res: None,
            profile: None,
            timer: None,
        })
    }

    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    pub fn workgroup_size(&self) -> u32 {
        self.constants.workgroup_size
    }

    /// The model buffer: the trained parameters, then the per-neuron constants in the
    /// blocks of `param_layout::NEURON_CONSTANTS`.
    fn model_data(net: &Network) -> Vec<f32> {
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

    /// Builds (or reuses) the buffers for batches of `batch` sequences of `steps` steps.
    fn ensure_batch(&mut self, batch: usize, steps: usize) -> anyhow::Result<()> {
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
        let layout = net.params.layout();
        let p = layout.len();
        let nd = net.sim.n_delay as usize;
        let (window, steps_per_frame) = match net.sim.readout {
            Readout::Window(k) => {
                if k > steps {
                    bail!("readout window {k} is longer than the sequence ({steps} steps)");
                }
                (k, 1)
            }
            Readout::Framewise(k) | Readout::Regression(k) => {
                if k == 0 || !steps.is_multiple_of(k) {
                    bail!("the frame readout needs whole frames: {steps} steps are not a multiple of {k} steps per frame");
                }
                (0, k)
            }
        };
        let rec_words = n.div_ceil(32);
        let in_words = n_in.div_ceil(32);
        let off_rates = READOUT_TOTALS as usize;
        let off_per_seq = off_rates + n;
        let off_dy = off_per_seq + 3 * batch;
        let dy_len = if window > 0 {
            batch * n_out
        } else {
            steps * batch * n_out
        };
        let off_pred = off_dy + dy_len;
        let pred_len = if window > 0 {
            batch
        } else {
            steps / steps_per_frame * batch
        };
        // Regression: the frame outputs themselves, [T/k, B, n_out].
        let off_out = off_pred + pred_len;
        let out_len = match net.sim.readout {
            Readout::Regression(k) => steps / k * batch * n_out,
            _ => 0,
        };
        let readout_len = (off_out + out_len) as u64 * F32;
        let partials_len = (batch * p) as u64 * F32;
        let bits_len = ((steps + 1) * batch * 2 * rec_words) as u64 * F32;
        for (what, len) in [
            ("readout/dy", readout_len),
            ("per-sequence gradients", partials_len),
            ("spike bits", bits_len),
        ] {
            if len > max_binding {
                bail!("the {what} buffer for a batch of {batch} x {steps} steps needs {len} bytes, over the adapter's storage binding limit of {max_binding}: lower train.batch_size");
            }
        }
        let dims = Dims {
            n_in: n_in as u32,
            n_rec: n as u32,
            n_out: n_out as u32,
            batch: batch as u32,
            steps: steps as u32,
            n_delay: nd as u32,
            n_ref: net.sim.n_ref,
            window: window as u32,
            rec_words: rec_words as u32,
            in_words: in_words as u32,
            n_params: p as u32,
            off_w_rec: layout.w_rec().offset as u32,
            off_w_out: layout.w_out().offset as u32,
            off_b_out: layout.b_out().offset as u32,
            off_neurons: layout.neuron_offset(NEURON_ALPHA) as u32,
            off_delay_rec: (n_in * n) as u32,
            state_stride: STATE_HEAD + nd as u32,
            bstate_stride: BSTATE_HEAD + nd as u32,
            off_rates: off_rates as u32,
            off_per_seq: off_per_seq as u32,
            off_dy: off_dy as u32,
            steps_per_frame: steps_per_frame as u32,
            regression: matches!(net.sim.readout, Readout::Regression(_)) as u32,
            off_out: off_out as u32,
            off_pred: off_pred as u32,
            off_rows: (n_in * n + n * n) as u32,
            off_row_len: (n_in * n + 2 * n * n) as u32,
            off_in_rows: (n_in * n + 2 * n * n + n) as u32,
            off_in_row_len: (2 * n_in * n + 2 * n * n + n) as u32,
            sparse_gradients: self.deep_r.as_ref().is_some_and(|d| !d.dense_gradients) as u32,
            dt: net.sim.dt,
            dampening: net.sim.dampening,
            kappa: net.sim.kappa(),
            noise_std: net.sim.noise_std,
            reg_coeff: net.sim.reg_coeff,
            reg_rate: net.sim.reg_rate_per_ms(),
        };
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
        let dims_buf = uniform_init(device, "dims", &dims);
        let pstate = storage(device, "readout trace state", (batch * n * 2) as u64 * F32);
        let state = storage(
            device,
            "forward state",
            (batch * n * dims.state_stride as usize) as u64 * F32,
        );
        let bstate = storage(
            device,
            "backward state",
            (batch * n * dims.bstate_stride as usize) as u64 * F32,
        );
        let bits = storage(device, "spike bits", bits_len);
        let readout = storage(device, "readout", readout_len);
        let partials = storage(device, "per-sequence gradients", partials_len);
        // Classes [B] or [T, B]; regression targets as f32 bits [T, B, n_out].
        let labels_len = match net.sim.readout {
            Readout::Window(_) => batch,
            Readout::Framewise(_) => steps * batch,
            Readout::Regression(_) => steps * batch * n_out,
        };
        let labels = storage(device, "labels", labels_len as u64 * 4);
        let mut x_chunks = Vec::new();
        let mut forward_groups = Vec::new();
        let mut backward_groups = Vec::new();
        for (c, &(t0, len)) in chunks.iter().enumerate() {
            let x = storage(
                device,
                &format!("x chunk {c}"),
                (len * batch * n_in) as u64 * F32,
            );
            let records = storage(
                device,
                &format!("records chunk {c}"),
                (len * batch * n) as u64 * 8,
            );
            let chunk_buf = uniform_init(
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
                let chunk_buf = uniform_init(
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

    /// Uploads the inputs `x` [T, B, n_in] into the time chunks (sizing the batch buffers).
    fn upload_inputs(&mut self, x: &Array3<f32>) -> anyhow::Result<()> {
        let (steps, batch, n_in) = x.dim();
        if n_in != self.network.n_in() {
            bail!(
                "batch has {n_in} input channels, the network {}",
                self.network.n_in()
            );
        }
        self.ensure_batch(batch, steps)?;
        let r = self.batch_res.as_ref().expect("batch resources");
        let x = x.as_standard_layout();
        let xs = x.as_slice().expect("contiguous input");
        let row = batch * n_in;
        for (buf, &(t0, len)) in r.x_chunks.iter().zip(&r.chunks) {
            self.ctx.queue.write_buffer(
                buf,
                0,
                bytemuck::cast_slice(&xs[(t0 - 1) * row..(t0 - 1 + len) * row]),
            );
        }
        Ok(())
    }

    /// Uploads inputs and labels (or target values); returns the loss's normaliser: the
    /// number of scored frames (times the outputs for the regression readout).
    fn upload_batch(&mut self, batch: &Batch) -> anyhow::Result<u32> {
        crate::engine::check_batch(&self.network, batch)?;
        self.upload_inputs(&batch.x)?;
        let r = self.batch_res.as_ref().expect("batch resources");
        let queue = &self.ctx.queue;
        let (labels, scored): (Vec<i32>, u32) = match (&self.network.sim.readout, &batch.targets) {
            (Readout::Window(_), Targets::Labels(l)) => (l.to_vec(), l.len() as u32),
            (Readout::Framewise(k), Targets::FrameLabels(l)) => {
                let l = l.as_standard_layout();
                // A frame is scored by the label of its last step.
                let scored = l
                    .outer_iter()
                    .skip(k - 1)
                    .step_by(*k)
                    .map(|row| row.iter().filter(|&&v| v >= 0).count())
                    .sum::<usize>();
                (l.iter().copied().collect(), scored as u32)
            }
            (Readout::Regression(k), Targets::FrameValues(v)) => {
                let v = v.as_standard_layout();
                if v.shape()[2] != self.network.n_out() {
                    bail!(
                        "{} target values per step, the network has {} outputs",
                        v.shape()[2],
                        self.network.n_out()
                    );
                }
                if let Some(bad) = v.iter().find(|x| x.is_infinite()) {
                    bail!("target value {bad} is not finite (NaN marks a step not scored)");
                }
                // A frame is scored if the target at its last step is a number; the kernel
                // sees an unscored step as the bit pattern of −1 (comparing integers: a NaN
                // need not survive the shader compiler).
                let scored = v
                    .outer_iter()
                    .skip(k - 1)
                    .step_by(*k)
                    .map(|row| row.outer_iter().filter(|o| o[0].is_finite()).count())
                    .sum::<usize>();
                let bits: Vec<i32> = v
                    .iter()
                    .map(|x| if x.is_nan() { -1 } else { x.to_bits() as i32 })
                    .collect();
                queue.write_buffer(&r.labels, 0, bytemuck::cast_slice::<i32, u8>(&bits));
                return Ok((scored * self.network.n_out()) as u32);
            }
            (readout, _) => bail!("the batch's targets do not match the {readout:?} readout"),
        };
        let n_out = self.network.n_out() as i32;
        if let Some(bad) = labels.iter().find(|&&l| l >= n_out || l < -1) {
            bail!("label {bad} is outside 0..{n_out}");
        }
        if matches!(self.network.sim.readout, Readout::Window(_)) && labels.iter().any(|&l| l < 0) {
            bail!("the window readout needs a label for every sequence");
        }
        queue.write_buffer(&r.labels, 0, bytemuck::cast_slice(&labels));
        Ok(scored)
    }

    fn write_step(&self, step: &StepUniform) {
        self.ctx
            .queue
            .write_buffer(&self.step_buf, 0, bytemuck::bytes_of(step));
    }

    /// Encodes forward, loss and (optionally) backward, reduction and Adam; submits once;
    /// reads back the totals, and the gradients and spikes when `want_grads`.
    fn run(
        &mut self,
        backward: bool,
        adam: bool,
        want_grads: bool,
    ) -> anyhow::Result<(Vec<f32>, Vec<f32>, Vec<u32>)> {
        let r = self.batch_res.as_ref().expect("batch resources");
        let device = self.ctx.device.clone();
        let b = r.batch as u32;
        let p = self.network.params.len() as u32;
        let max_dim = device.limits().max_compute_workgroups_per_dimension;
        let k = &self.pipelines;
        let c = &self.constants;
        let (n_in, n) = (self.network.n_in() as u32, self.network.n_rec() as u32);
        // The kernels of this iteration, in order (each kernel's header gives its equations).
        let mut stages: Vec<Stage> = vec![
            Stage::new(
                &k.forward,
                r.forward_groups.iter().collect(),
                kernels::alif_forward::grid(b),
            ),
            Stage::new(
                &k.readout,
                r.readout_groups.iter().collect(),
                kernels::readout_loss::grid(b),
            ),
            Stage::new(
                &k.loss_reduce,
                vec![&r.loss_reduce_group],
                kernels::loss_reduce::grid(),
            ),
        ];
        if backward {
            stages.push(Stage::new(
                &k.sparse_rows,
                vec![&r.sparse_rows_group],
                kernels::sparse_rows::grid(n_in, n, c),
            ));
            stages.push(Stage::new(
                &k.backward,
                r.backward_groups.iter().rev().collect(),
                kernels::alif_backward::grid(b),
            ));
            stages.push(Stage::new(
                &k.batch_reduce,
                vec![&r.batch_reduce_group],
                kernels::batch_reduce::grid(p, c, max_dim),
            ));
        }
        if adam {
            stages.push(Stage::new(
                &k.adam,
                vec![&r.adam_group],
                kernels::adam::grid(p, c, max_dim),
            ));
            // Counters from zero: written before this submit, so ordered before adam.
            self.ctx.queue.write_buffer(
                &self.rewire_stats_buf,
                0,
                bytemuck::cast_slice(&[0u32; REWIRE_STATS_LEN]),
            );
            if self.deep_r.is_some() {
                stages.push(Stage::new(
                    &k.deep_r_refill,
                    vec![&r.refill_group],
                    kernels::deep_r_refill::grid(),
                ));
            }
        }
        if self.profile.is_some() {
            // Profiling: one submit per kernel, timed on the host after the GPU is idle.
            for stage in &stages {
                let mut enc = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some(stage.name),
                });
                stage.encode(&mut enc);
                let start = std::time::Instant::now();
                self.ctx.queue.submit([enc.finish()]);
                device
                    .poll(wgpu::PollType::Wait {
                        submission_index: None,
                        timeout: None,
                    })
                    .context("waiting for the GPU")?;
                let ms = start.elapsed().as_secs_f64() * 1e3;
                if let Some(p) = self.profile.as_mut() {
                    *p.entry(stage.name).or_insert(0.0) += ms;
                }
            }
        }
        let mut enc = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("iteration"),
        });
        if adam {
            // What a refused step restores (the NaN guard): copied before the kernels run.
            let pb = p as u64 * F32;
            enc.copy_buffer_to_buffer(&self.model, 0, &self.backup, 0, pb);
            enc.copy_buffer_to_buffer(&self.moments, 0, &self.backup, pb, 2 * pb);
        }
        // Kernel timing (opt-in) times training iterations: a pass per kernel, each with a
        // timestamp at its start and end, resolved in the same submit.
        let timer = self
            .timer
            .as_ref()
            .filter(|_| adam && self.profile.is_none());
        let timed: Vec<&'static str> = match timer {
            Some(_) => stages.iter().map(|s| s.name).collect(),
            None => Vec::new(),
        };
        if let Some(timer) = timer {
            for (i, stage) in stages.iter().enumerate() {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some(stage.name),
                    timestamp_writes: Some(timer.pass_writes(i)),
                });
                stage.record(&mut pass);
            }
            timer.encode_resolve(&mut enc, stages.len());
        } else if self.profile.is_none() {
            // One compute pass, one submit.
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("iteration"),
                timestamp_writes: None,
            });
            for stage in &stages {
                stage.record(&mut pass);
            }
        }
        let n = self.network.n_rec() as u64;
        let totals_len = (READOUT_TOTALS as u64 + n) * F32;
        enc.copy_buffer_to_buffer(&r.readout, 0, &r.staging, 0, totals_len);
        // The optimiser's counters ride along with the totals: one mapping per iteration.
        let counters_len = (REWIRE_STATS_LEN * 4) as u64;
        if adam {
            enc.copy_buffer_to_buffer(
                &self.rewire_stats_buf,
                0,
                &r.staging,
                totals_len,
                counters_len,
            );
        }
        self.ctx.queue.submit([enc.finish()]);
        let read = self.read_staging(totals_len + counters_len)?;
        let totals: Vec<f32> = bytemuck::pod_collect_to_vec(&read[..totals_len as usize]);
        if adam {
            let counters: Vec<u32> = bytemuck::pod_collect_to_vec(&read[totals_len as usize..]);
            self.step_counters.copy_from_slice(&counters);
        }
        let (mut grads, mut bits) = (Vec::new(), Vec::new());
        if want_grads {
            grads =
                bytemuck::pod_collect_to_vec(&self.read_via_staging(&self.grads, p as u64 * F32)?);
            let r = self.batch_res.as_ref().expect("batch resources");
            bits = bytemuck::pod_collect_to_vec(&self.read_via_staging(&r.bits, r.bits_len)?);
        }
        if let (false, Some(timer)) = (timed.is_empty(), self.timer.as_mut()) {
            timer.read(&device, &timed)?;
        }
        Ok((totals, grads, bits))
    }

    /// Maps the first `len` bytes of the staging buffer after the last submit.
    fn read_staging(&self, len: u64) -> anyhow::Result<Vec<u8>> {
        let r = self.batch_res.as_ref().expect("batch resources");
        debug_assert!(len <= r.staging_len);
        map_read(&self.ctx.device, &r.staging, len)
    }

    /// Copies the first `len` bytes of `src` into the staging buffer and reads them.
    fn read_via_staging(&self, src: &wgpu::Buffer, len: u64) -> anyhow::Result<Vec<u8>> {
        let r = self.batch_res.as_ref().expect("batch resources");
        let mut enc = self
            .ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("read back"),
            });
        enc.copy_buffer_to_buffer(src, 0, &r.staging, 0, len);
        self.ctx.queue.submit([enc.finish()]);
        self.read_staging(len)
    }

    /// Copies the first `len` bytes of `buf` to a fresh staging buffer and reads them as f32.
    fn read_buffer(&self, buf: &wgpu::Buffer, len: u64) -> anyhow::Result<Vec<f32>> {
        Ok(bytemuck::pod_collect_to_vec(
            &self.read_buffer_bytes(buf, len)?,
        ))
    }

    /// Copies the first `len` bytes of `buf` to a fresh staging buffer and reads them.
    fn read_buffer_bytes(&self, buf: &wgpu::Buffer, len: u64) -> anyhow::Result<Vec<u8>> {
        self.read_buffer_range(buf, 0, len)
    }

    /// Copies `len` bytes of `buf` from byte `offset` to a fresh staging buffer and reads them.
    fn read_buffer_range(
        &self,
        buf: &wgpu::Buffer,
        offset: u64,
        len: u64,
    ) -> anyhow::Result<Vec<u8>> {
        let staging = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("read"),
            size: len,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self
            .ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("read"),
            });
        enc.copy_buffer_to_buffer(buf, offset, &staging, 0, len);
        self.ctx.queue.submit([enc.finish()]);
        map_read(&self.ctx.device, &staging, len)
    }

    /// Each frame's outputs [T/k, B, n_out] of the last pass (regression readout).
    fn read_frame_outputs(&self, k: usize) -> anyhow::Result<Array3<f32>> {
        let r = self.batch_res.as_ref().expect("batch resources");
        let shape = (r.steps / k, r.batch, self.network.n_out());
        let len = (shape.0 * shape.1 * shape.2) as u64 * F32;
        let offset = r.dims.off_out as u64 * F32;
        let values: Vec<f32> =
            bytemuck::pod_collect_to_vec(&self.read_buffer_range(&r.readout, offset, len)?);
        Ok(Array3::from_shape_vec(shape, values).expect("frames × batch × outputs"))
    }

    /// The batch resources of the running stream, or why there is none.
    fn stream_resources(&self) -> anyhow::Result<&BatchResources> {
        match &self.batch_res {
            Some(r) if r.stream.is_some() => Ok(r),
            _ => bail!("no stream running: call stream_start first (any other pass ends a stream)"),
        }
    }

    /// Ends a running stream: the pass about to run overwrites its state.
    fn end_stream(&mut self) {
        if let Some(r) = self.batch_res.as_mut() {
            r.stream = None;
        }
    }

    /// Copies each whole buffer of `from` into the one of `to` (same sizes), in one submit.
    fn copy_buffers(&self, from: &[&wgpu::Buffer], to: &[&wgpu::Buffer]) {
        let mut enc = self
            .ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("stream state copy"),
            });
        for (src, dst) in from.iter().zip(to) {
            enc.copy_buffer_to_buffer(src, 0, dst, 0, src.size());
        }
        self.ctx.queue.submit([enc.finish()]);
    }

    /// Writes the DEEP R uniform for Adam step `iteration`.
    fn write_rewire(&self, iteration: u32) {
        let Some(d) = &self.deep_r else { return };
        // Refill draws per dispatch: under the loop cap where the driver has one (10 % margin).
        let max_attempts = self
            .ctx
            .loop_limit
            .map_or(1 << 20, |l| (l * 9 / 10).min(1 << 20) as u32);
        let per = |f: fn(&crate::model::deep_r::RewiredMatrix) -> u32| {
            [f(&d.matrices[0]), f(&d.matrices[1]), f(&d.matrices[2]), 0]
        };
        let u = RewireUniform {
            enabled: 1,
            budget: d.budget,
            iteration,
            max_attempts,
            seed_lo: d.seed as u32,
            seed_hi: (d.seed >> 32) as u32,
            l1: d.l1,
            temperature: d.temperature,
            offset: per(|m| m.offset),
            size: per(|m| m.rows * m.cols),
            capacity: per(|m| m.capacity),
            choice: [d.choice[0], d.choice[1], d.choice[2], u32::MAX],
            ..RewireUniform::default()
        };
        self.ctx
            .queue
            .write_buffer(&self.rewire_buf, 0, bytemuck::bytes_of(&u));
    }

    /// Reads the rewiring counters of the step just run; dispatches the refill again while
    /// connections are missing (only when a draw budget under the loop cap ran out).
    fn finish_refill(&mut self) -> anyhow::Result<()> {
        let budget = self.deep_r.as_ref().map_or(0, |d| d.budget);
        for _ in 0..1000 {
            let c: Vec<u32> = bytemuck::pod_collect_to_vec(
                &self.read_via_staging(&self.rewire_stats_buf, (REWIRE_STATS_LEN * 4) as u64)?,
            );
            if c[0] + c[1] + c[2] >= budget {
                self.rewire_stats = Some(RewireStats {
                    active: [c[0], c[1], c[2]],
                    rewired: c[3],
                });
                return Ok(());
            }
            let r = self.batch_res.as_ref().expect("batch resources");
            let mut enc = self
                .ctx
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("deep_r_refill (continued)"),
                });
            Stage::new(
                &self.pipelines.deep_r_refill,
                vec![&r.refill_group],
                kernels::deep_r_refill::grid(),
            )
            .encode(&mut enc);
            self.ctx.queue.submit([enc.finish()]);
        }
        bail!("DEEP R's refill could not restore the connection budget ({budget}): is rewiring.connectivity close to 1?")
    }

    /// The NaN guard, the GPU's twin of the checks of `cpu::engine::optimiser_step`: when
    /// adam.wgsl counted a non-finite gradient or updated weight, restores the weights and
    /// moments of before the step and names the first offending tensor entry.
    fn refuse_non_finite(&self, s: &StepSettings) -> anyhow::Result<()> {
        let bad_grads = self.step_counters[STAT_NONFINITE_GRADS as usize];
        let bad_weights = self.step_counters[STAT_NONFINITE_WEIGHTS as usize];
        if bad_grads == 0 && bad_weights == 0 {
            return Ok(());
        }
        let layout = self.network.params.layout();
        let p = layout.len() as u64 * F32;
        // Read the offender before restoring: the weights are about to be overwritten.
        let (values, what) = if bad_grads > 0 {
            (self.read_buffer(&self.grads, p)?, "gradient")
        } else {
            (self.read_buffer(&self.model, p)?, "weight")
        };
        let mut enc = self
            .ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("restore the weights"),
            });
        enc.copy_buffer_to_buffer(&self.backup, 0, &self.model, 0, p);
        enc.copy_buffer_to_buffer(&self.backup, p, &self.moments, 0, 2 * p);
        self.ctx.queue.submit([enc.finish()]);
        let e = values.iter().position(|v| !v.is_finite());
        let name = e.map_or_else(|| "a parameter".to_string(), |e| layout.name_of(e));
        let value = e.map_or(f32::NAN, |e| values[e]);
        if what == "gradient" {
            bail!(
                "the gradient of {name} is not finite ({value}) at Adam step {} ({bad_grads} non-finite gradients): the weights are left as they were. Lower train.learning_rate, or check the input scale and model.thr",
                s.step
            )
        }
        bail!(
            "Adam step {} made {name} non-finite ({value}) at learning rate {} ({bad_weights} non-finite weights): the weights are left as they were and the checkpoints already written are kept. Lower train.learning_rate",
            s.step,
            s.lr
        )
    }

    /// The row lists and counts of sparse_rows.wgsl for W_rec and W_in, as last built (for
    /// tests): ((W_rec lists, counts), (W_in lists, counts)).
    #[allow(clippy::type_complexity)]
    pub fn row_lists(&self) -> anyhow::Result<((Vec<u32>, Vec<u32>), (Vec<u32>, Vec<u32>))> {
        let (n_in, n) = (self.network.n_in(), self.network.n_rec());
        let all: Vec<u32> = bytemuck::pod_collect_to_vec(&self.read_buffer_bytes(
            &self.delays,
            ((2 * n_in * n + 2 * n * n + n + n_in) * 4) as u64,
        )?);
        let rec_lists = n_in * n + n * n;
        let rec_counts = rec_lists + n * n;
        let in_lists = rec_counts + n;
        let in_counts = in_lists + n_in * n;
        Ok((
            (
                all[rec_lists..rec_counts].to_vec(),
                all[rec_counts..in_lists].to_vec(),
            ),
            (all[in_lists..in_counts].to_vec(), all[in_counts..].to_vec()),
        ))
    }

    fn stats(&self, totals: &[f32]) -> BatchStats {
        let n = self.network.n_rec();
        let off = READOUT_TOTALS as usize;
        BatchStats {
            loss: totals[0],
            loss_task: totals[1],
            loss_reg: totals[2],
            correct: totals[3] as usize,
            scored: totals[4] as usize,
            rates: totals[off..off + n].to_vec(),
        }
    }

    /// Spike bitmasks [T+1, B, 2, words] → spikes [T, B, N] as 0/1.
    fn unpack_spikes(&self, bits: &[u32]) -> Array3<f32> {
        let r = self.batch_res.as_ref().expect("batch resources");
        let (t_len, batch, n) = (r.steps, r.batch, self.network.n_rec());
        let words = r.dims.rec_words as usize;
        // Row (t, b) holds the spike mask then the pseudo-derivative mask (common.wgsl).
        Array3::from_shape_fn((t_len, batch, n), |(t, b, j)| {
            let w = bits[((t + 1) * batch + b) * 2 * words + j / 32];
            ((w >> (j % 32)) & 1) as f32
        })
    }
}

impl Engine for GpuEngine {
    fn describe(&self) -> String {
        self.ctx.describe()
    }

    fn train_step(&mut self, batch: &Batch, s: &StepSettings) -> anyhow::Result<BatchStats> {
        self.end_stream();
        let n_scored = self.upload_batch(batch)?;
        let hyper = crate::cpu::AdamHyper {
            lr: s.lr,
            beta1: s.beta1,
            beta2: s.beta2,
            eps: s.eps,
            step: s.step,
        };
        let (bias1, bias2) = hyper.bias_corrections();
        self.write_step(&StepUniform {
            lr: s.lr,
            beta1: s.beta1,
            beta2: s.beta2,
            eps: s.eps,
            bias1,
            bias2,
            noise_seed: s.noise_seed,
            n_scored,
            ..StepUniform::default()
        });
        if self.deep_r.is_some() {
            self.write_rewire(s.step);
        }
        let (totals, _, _) = self.run(true, true, false)?;
        self.refuse_non_finite(s)?;
        if self.deep_r.is_some() {
            self.finish_refill()?;
        }
        Ok(self.stats(&totals))
    }

    fn evaluate(&mut self, batch: &Batch, noise_seed: u32) -> anyhow::Result<BatchStats> {
        self.end_stream();
        let n_scored = self.upload_batch(batch)?;
        self.write_step(&StepUniform {
            noise_seed,
            n_scored,
            ..StepUniform::default()
        });
        let (totals, _, _) = self.run(false, false, false)?;
        Ok(self.stats(&totals))
    }

    fn predict(
        &mut self,
        batch: &Batch,
        noise_seed: u32,
    ) -> anyhow::Result<(BatchStats, Array2<i32>)> {
        let stats = self.evaluate(batch, noise_seed)?;
        let r = self.batch_res.as_ref().expect("batch resources");
        let decisions = match self.network.sim.readout {
            Readout::Window(_) => 1,
            Readout::Framewise(k) | Readout::Regression(k) => r.steps / k,
        };
        let len = decisions * r.batch;
        let offset = r.dims.off_pred as u64 * F32;
        let classes: Vec<f32> = bytemuck::pod_collect_to_vec(&self.read_buffer_range(
            &r.readout,
            offset,
            len as u64 * F32,
        )?);
        let pred = Array2::from_shape_vec(
            (decisions, r.batch),
            classes.iter().map(|&c| c as i32).collect(),
        )
        .expect("decisions × batch predictions");
        Ok((stats, pred))
    }

    fn frame_outputs(&mut self, batch: &Batch, noise_seed: u32) -> anyhow::Result<Array3<f32>> {
        let Readout::Regression(k) = self.network.sim.readout else {
            bail!("frame outputs are read back for the regression readout only");
        };
        self.evaluate(batch, noise_seed)?;
        self.read_frame_outputs(k)
    }

    fn stream_start(&mut self, batch: usize, steps: usize) -> anyhow::Result<()> {
        check_stream_shape(&self.network, batch, steps)?;
        self.ensure_batch(batch, steps)?;
        let r = self.batch_res.as_mut().expect("batch resources");
        // A stream's passes score nothing: every target is "not scored" (−1, as
        // `upload_batch` writes a NaN), written once here. Every other use of the labels
        // buffer ends the stream first.
        let unscored = vec![-1i32; steps * batch * self.network.n_out()];
        self.ctx
            .queue
            .write_buffer(&r.labels, 0, bytemuck::cast_slice(&unscored));
        r.stream = Some(GpuStream {
            resume: false,
            saved: None,
        });
        Ok(())
    }

    fn stream_advance(&mut self, x: &Array3<f32>, noise_seed: u32) -> anyhow::Result<Array3<f32>> {
        let Readout::Regression(k) = self.network.sim.readout else {
            bail!("a stream of forward passes needs the regression readout");
        };
        let (steps, batch, _) = x.dim();
        let resume = {
            let r = self.stream_resources()?;
            if (steps, batch) != (r.steps, r.batch) {
                bail!(
                    "a pass of the stream has {} steps of {} sequences, not {steps} of {batch}",
                    r.steps,
                    r.batch
                );
            }
            r.stream.as_ref().expect("a stream").resume
        };
        self.upload_inputs(x)?;
        self.write_step(&StepUniform {
            noise_seed,
            resume: u32::from(resume),
            ..StepUniform::default()
        });
        self.run(false, false, false)?;
        let r = self.batch_res.as_mut().expect("batch resources");
        r.stream.as_mut().expect("a stream").resume = true;
        self.read_frame_outputs(k)
    }

    fn stream_save(&mut self) -> anyhow::Result<()> {
        let r = self.stream_resources()?;
        let sources = [&r.state, &r.pstate, &r.bits];
        let saved = match &r.stream.as_ref().expect("a stream").saved {
            Some(saved) => saved.clone(),
            None => sources.map(|b| storage(&self.ctx.device, "saved stream state", b.size())),
        };
        self.copy_buffers(&sources, &saved.each_ref());
        let r = self.batch_res.as_mut().expect("batch resources");
        r.stream.as_mut().expect("a stream").saved = Some(saved);
        Ok(())
    }

    fn stream_restore(&mut self) -> anyhow::Result<()> {
        let r = self.stream_resources()?;
        let stream = r.stream.as_ref().expect("a stream");
        let saved = stream
            .saved
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("the stream has no saved state to restore"))?;
        // A restored state is one a pass has left: the next pass resumes from it.
        anyhow::ensure!(stream.resume, "the stream has not run a pass yet");
        self.copy_buffers(&saved.each_ref(), &[&r.state, &r.pstate, &r.bits]);
        Ok(())
    }

    fn stream_state(&self) -> anyhow::Result<Vec<u32>> {
        let r = self.stream_resources()?;
        let mut words: Vec<u32> =
            bytemuck::pod_collect_to_vec(&self.read_buffer_bytes(&r.state, r.state.size())?);
        words.extend(bytemuck::pod_collect_to_vec::<u8, u32>(
            &self.read_buffer_bytes(&r.pstate, r.pstate.size())?,
        ));
        // The last row of the spike bits (z_T and its pseudo-derivative mask): the next pass
        // starts from it.
        let row = (r.batch * 2 * r.dims.rec_words as usize) as u64 * F32;
        words.extend(bytemuck::pod_collect_to_vec::<u8, u32>(
            &self.read_buffer_range(&r.bits, r.steps as u64 * row, row)?,
        ));
        Ok(words)
    }

    fn gradients(&mut self, batch: &Batch, noise_seed: u32) -> anyhow::Result<GradientReport> {
        self.end_stream();
        let n_scored = self.upload_batch(batch)?;
        self.write_step(&StepUniform {
            noise_seed,
            n_scored,
            ..StepUniform::default()
        });
        let (totals, grads, bits) = self.run(true, false, true)?;
        Ok(GradientReport {
            stats: self.stats(&totals),
            grads,
            spikes: self.unpack_spikes(&bits),
        })
    }

    fn network(&self) -> anyhow::Result<Network> {
        let p = self.network.params.len();
        let flat = self.read_buffer(&self.model, p as u64 * F32)?;
        let mut net = self.network.clone();
        let (n_in, n, n_out) = (net.n_in(), net.n_rec(), net.n_out());
        net.params = Params::from_flat(&flat[..p], n_in, n, n_out);
        Ok(net)
    }

    fn adam_moments(&self) -> anyhow::Result<(Vec<f32>, Vec<f32>)> {
        let p = self.network.params.len();
        let mv = self.read_buffer(&self.moments, 2 * p as u64 * F32)?;
        Ok((mv[..p].to_vec(), mv[p..2 * p].to_vec()))
    }

    fn set_adam_moments(&mut self, m: &[f32], v: &[f32]) -> anyhow::Result<()> {
        let mut mv = m.to_vec();
        mv.extend_from_slice(v);
        self.ctx
            .queue
            .write_buffer(&self.moments, 0, bytemuck::cast_slice(&mv));
        Ok(())
    }

    fn set_rewiring(&mut self, deep_r: DeepR) -> anyhow::Result<()> {
        self.deep_r = Some(deep_r);
        // The dims uniform carries the gradient mode: rebuild the batch resources.
        self.batch_res = None;
        self.write_rewire(0);
        Ok(())
    }

    fn rewire_stats(&self) -> Option<RewireStats> {
        self.rewire_stats
    }
}
