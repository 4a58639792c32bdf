//! Opt-in timing of the kernels: host-side profiling (a submit per kernel) and GPU
//! timestamps (`timing.rs`).

use std::collections::BTreeMap;

use anyhow::Context as _;

use super::{GpuEngine, Stage};
use crate::gpu::context::GpuContext;
use crate::gpu::timing::{KernelTimer, KernelTimes};

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
}

/// Profiling: one submit per kernel, timed on the host after the GPU is idle; milliseconds
/// accumulate in `profile` per kernel name.
pub(super) fn profile_stages(
    ctx: &GpuContext,
    profile: &mut BTreeMap<&'static str, f64>,
    stages: &[Stage],
) -> anyhow::Result<()> {
    for stage in stages {
        let mut enc = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some(stage.name),
            });
        stage.encode(&mut enc);
        let start = std::time::Instant::now();
        ctx.queue.submit([enc.finish()]);
        ctx.device
            .poll(wgpu::PollType::Wait {
                submission_index: None,
                timeout: None,
            })
            .context("waiting for the GPU")?;
        let ms = start.elapsed().as_secs_f64() * 1e3;
        *profile.entry(stage.name).or_insert(0.0) += ms;
    }
    Ok(())
}
