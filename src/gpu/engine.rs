//! The GPU training engine: the order of the stages of one training iteration, encoded as
//! one compute pass and one submit, and the [`Engine`] interface. Its parts live in
//! `engine/`: building the kernels and the engine's buffers (`build.rs`), the buffers of a
//! batch shape (`resources.rs`), uploads, read-backs and their decoding, the NaN guard's
//! backup and restore (`nan_guard.rs`), the stream API, DEEP R's refill and profiling.
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
use super::layout::{RewireUniform, StepUniform, REWIRE_STATS_LEN};
use super::shader::ShaderConstants;
use super::timing::KernelTimer;
use crate::engine::{BatchStats, Engine, GradientReport, StepSettings};
use crate::model::deep_r::{DeepR, RewireStats};
use crate::model::{Batch, Network, Readout};

mod build;
mod nan_guard;
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
            self.clear_step_counters();
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
            self.encode_backup(&mut enc);
        }
        // Kernel timing (opt-in) times training iterations only.
        let timer = self
            .timer
            .as_ref()
            .filter(|_| adam && self.profile.is_none());
        let timed = encode_stages(&mut enc, &stages, timer, self.profile.is_some());
        self.encode_totals_copy(&mut enc, adam);
        self.ctx.queue.submit([enc.finish()]);
        let totals = self.read_totals(adam)?;
        let (grads, bits) = if want_grads {
            self.read_grads_and_bits()?
        } else {
            (Vec::new(), Vec::new())
        };
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
        self.write_train_step(s, n_scored);
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
        Ok((stats, self.read_predictions()?))
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
        self.read_network()
    }

    fn adam_moments(&self) -> anyhow::Result<(Vec<f32>, Vec<f32>)> {
        self.read_moments()
    }

    fn set_adam_moments(&mut self, m: &[f32], v: &[f32]) -> anyhow::Result<()> {
        self.write_moments(m, v);
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
