//! The GPU training engine: the order of the stages of one training iteration, encoded as
//! one compute pass and one submit, and the [`Engine`] interface. Its parts live in
//! `engine/`: building the kernels and the engine's buffers (`build.rs`), the buffers of a
//! batch shape (`resources.rs`), uploads, read-backs, the stream API, DEEP R's refill and
//! profiling.
//!
//! Dispatch order of an iteration (each kernel's header comment gives its equations):
//! `alif_forward` per time chunk → `readout_loss` → `loss_reduce` → `alif_backward` per time
//! chunk in reverse → `batch_reduce` → `adam`; then the totals (and, when asked, gradients and
//! spikes) are copied to a staging buffer and mapped once. With kernel timing on
//! (`enable_kernel_timing`, for `bench`), a training iteration runs each kernel in a pass of
//! its own with timestamps at both ends (`timing.rs`), still one submit.

use anyhow::bail;
use ndarray::{Array2, Array3};

use super::context::GpuContext;
use super::kernels::{self, roles, Buf};
use super::layout::{RewireUniform, StepUniform, READOUT_TOTALS, REWIRE_STATS_LEN};
use super::shader::ShaderConstants;
use super::timing::KernelTimer;
use crate::engine::{BatchStats, Engine, GradientReport, StepSettings};
use crate::model::deep_r::{DeepR, RewireStats};
use crate::model::{Batch, Network, Params, Readout};

mod build;
mod profiling;
mod readback;
mod resources;
mod rewiring;
mod stage;
mod stream;
mod upload;

use build::Pipelines;
use profiling::profile_stages;
use resources::BatchResources;
use stage::{encode_stages, Stage};

const F32: u64 = 4;

pub struct GpuEngine {
    ctx: GpuContext,
    network: Network,
    constants: ShaderConstants,
    chunk_steps: usize,
    pipelines: Pipelines,
    /// Trained parameters (P) followed by the per-neuron constants α | ρ | β | thr.
    model: Buf<roles::Model>,
    /// delay_in | delay_rec | W_rec row lists [n·n] | row counts [n] (sparse_rows.wgsl).
    delays: Buf<roles::Delays>,
    constraints: Buf<roles::Constraints>,
    /// The host's copy of the constraint codes ([`Engine::constraints`]).
    constraint_codes: Vec<u32>,
    grads: Buf<roles::Grads>,
    /// DEEP R: settings (`RewireUniform`) and the counters of the last step.
    rewire_buf: Buf<RewireUniform>,
    rewire_stats_buf: Buf<roles::Stats>,
    deep_r: Option<DeepR>,
    rewire_stats: Option<RewireStats>,
    /// Adam moments m | v.
    moments: Buf<roles::Moments>,
    /// The trained parameters and moments before the last Adam step (P | m | v): what a
    /// refused step (the NaN guard) restores.
    backup: wgpu::Buffer,
    /// The optimiser's counters (`layout::STATS_LAYOUT`) of the last training step.
    step_counters: [u32; REWIRE_STATS_LEN],
    step_buf: Buf<StepUniform>,
    batch_res: Option<BatchResources>,
    profile: Option<std::collections::BTreeMap<&'static str, f64>>,
    /// Per-kernel timestamp timing of training iterations (`enable_kernel_timing`), if on.
    timer: Option<KernelTimer>,
}

impl GpuEngine {
    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    pub fn workgroup_size(&self) -> u32 {
        self.constants.workgroup_size
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
        if let Some(profile) = self.profile.as_mut() {
            profile_stages(&self.ctx, profile, &stages)?;
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
        // Kernel timing (opt-in) times training iterations only.
        let timer = self
            .timer
            .as_ref()
            .filter(|_| adam && self.profile.is_none());
        let timed = encode_stages(&mut enc, &stages, timer, self.profile.is_some());
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
        self.start_stream(batch, steps)
    }

    fn stream_advance(&mut self, x: &Array3<f32>, noise_seed: u32) -> anyhow::Result<Array3<f32>> {
        self.advance_stream(x, noise_seed)
    }

    fn stream_save(&mut self) -> anyhow::Result<()> {
        self.save_stream()
    }

    fn stream_restore(&mut self) -> anyhow::Result<()> {
        self.restore_stream()
    }

    fn stream_state(&self) -> anyhow::Result<Vec<u32>> {
        self.read_stream_state()
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

    fn constraints(&self) -> &[u32] {
        &self.constraint_codes
    }

    fn rewiring(&self) -> Option<&DeepR> {
        self.deep_r.as_ref()
    }
}
