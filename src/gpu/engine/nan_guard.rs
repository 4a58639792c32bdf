//! The NaN guard, the GPU's twin of the checks of `cpu::engine::optimiser_step`: the
//! trained parameters and Adam moments are backed up before each Adam step, and a step that
//! made a gradient or a weight non-finite is undone.

use anyhow::bail;

use super::{GpuEngine, F32};
use crate::engine::StepSettings;
use crate::gpu::layout::{STAT_NONFINITE_GRADS, STAT_NONFINITE_WEIGHTS};

impl GpuEngine {
    /// Encodes the backup of what a refused step restores (P | m | v), before the kernels of
    /// the step in the same encoder.
    pub(super) fn encode_backup(&self, enc: &mut wgpu::CommandEncoder) {
        let pb = self.network.params.len() as u64 * F32;
        enc.copy_buffer_to_buffer(&self.model, 0, &self.backup, 0, pb);
        enc.copy_buffer_to_buffer(&self.moments, 0, &self.backup, pb, 2 * pb);
    }

    /// When adam.wgsl counted a non-finite gradient or updated weight, restores the weights
    /// and moments of before the step and names the first offending tensor entry.
    pub(super) fn refuse_non_finite(&self, s: &StepSettings) -> anyhow::Result<()> {
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
}
