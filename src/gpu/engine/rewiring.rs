//! DEEP R on the GPU: the rewiring uniform of each step and the refill's completion.

use anyhow::bail;

use super::{GpuEngine, Stage};
use crate::gpu::kernels;
use crate::gpu::layout::{RewireUniform, REWIRE_STATS_LEN};
use crate::model::deep_r::RewireStats;

impl GpuEngine {
    /// Writes the DEEP R uniform for Adam step `iteration`.
    pub(super) fn write_rewire(&self, iteration: u32) {
        let Some(d) = &self.deep_r else { return };
        // Refill draws per dispatch: under the loop cap where the driver has one (10 % margin).
        let max_attempts = self
            .ctx
            .loop_limit
            .map_or(1 << 20, |l| (l * 9 / 10).min(1 << 20) as u32);
        let u = RewireUniform::new(d, iteration, max_attempts);
        self.ctx
            .queue
            .write_buffer(&self.rewire_buf, 0, bytemuck::bytes_of(&u));
    }

    /// Reads the rewiring counters of the step just run; dispatches the refill again while
    /// connections are missing (only when a draw budget under the loop cap ran out).
    pub(super) fn finish_refill(&mut self) -> anyhow::Result<()> {
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
}
