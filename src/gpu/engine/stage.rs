//! One kernel's dispatches in an iteration, recorded into a compute pass.

use crate::gpu::kernels::Kernel;
use crate::gpu::timing::KernelTimer;

/// One kernel of an iteration: its pipeline, a bind group per dispatch (one per time chunk
/// for the sweeps) and the workgroup grid.
pub(super) struct Stage<'a> {
    pub(super) name: &'static str,
    pub(super) pipeline: &'a wgpu::ComputePipeline,
    pub(super) groups: Vec<&'a wgpu::BindGroup>,
    pub(super) grid: (u32, u32),
}

impl<'a> Stage<'a> {
    pub(super) fn new(
        kernel: &'a Kernel,
        groups: Vec<&'a wgpu::BindGroup>,
        grid: (u32, u32),
    ) -> Self {
        Stage {
            name: kernel.name,
            pipeline: &kernel.pipeline,
            groups,
            grid,
        }
    }

    pub(super) fn record(&self, pass: &mut wgpu::ComputePass<'_>) {
        pass.set_pipeline(self.pipeline);
        for g in &self.groups {
            pass.set_bind_group(0, *g, &[]);
            pass.dispatch_workgroups(self.grid.0, self.grid.1, 1);
        }
    }

    pub(super) fn encode(&self, enc: &mut wgpu::CommandEncoder) {
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(self.name),
            timestamp_writes: None,
        });
        self.record(&mut pass);
    }
}

/// Records the stages of an iteration into `enc`: with `timer`, a pass per kernel with a
/// timestamp at its start and end, resolved in the same submit (returns the timed names);
/// otherwise one compute pass for all, unless `profiled` (the stages already ran one submit
/// each).
pub(super) fn encode_stages(
    enc: &mut wgpu::CommandEncoder,
    stages: &[Stage],
    timer: Option<&KernelTimer>,
    profiled: bool,
) -> Vec<&'static str> {
    if let Some(timer) = timer {
        for (i, stage) in stages.iter().enumerate() {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(stage.name),
                timestamp_writes: Some(timer.pass_writes(i)),
            });
            stage.record(&mut pass);
        }
        timer.encode_resolve(enc, stages.len());
        return stages.iter().map(|s| s.name).collect();
    }
    if !profiled {
        // One compute pass, one submit.
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("iteration"),
            timestamp_writes: None,
        });
        for stage in stages {
            stage.record(&mut pass);
        }
    }
    Vec::new()
}
