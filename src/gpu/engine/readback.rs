//! Reading results back from the GPU: the staging buffer, the stats of a batch, the
//! spikes, the row lists, and the NaN guard's refusal of a step.

use anyhow::bail;
use ndarray::Array3;

use super::{GpuEngine, F32};
use crate::engine::{BatchStats, StepSettings};
use crate::gpu::context::map_read;
use crate::gpu::layout::{READOUT_TOTALS, STAT_NONFINITE_GRADS, STAT_NONFINITE_WEIGHTS};

impl GpuEngine {
    /// Maps the first `len` bytes of the staging buffer after the last submit.
    pub(super) fn read_staging(&self, len: u64) -> anyhow::Result<Vec<u8>> {
        let r = self.batch_res.as_ref().expect("batch resources");
        debug_assert!(len <= r.staging_len);
        map_read(&self.ctx.device, &r.staging, len)
    }

    /// Copies the first `len` bytes of `src` into the staging buffer and reads them.
    pub(super) fn read_via_staging(&self, src: &wgpu::Buffer, len: u64) -> anyhow::Result<Vec<u8>> {
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
    pub(super) fn read_buffer(&self, buf: &wgpu::Buffer, len: u64) -> anyhow::Result<Vec<f32>> {
        Ok(bytemuck::pod_collect_to_vec(
            &self.read_buffer_bytes(buf, len)?,
        ))
    }

    /// Copies the first `len` bytes of `buf` to a fresh staging buffer and reads them.
    pub(super) fn read_buffer_bytes(
        &self,
        buf: &wgpu::Buffer,
        len: u64,
    ) -> anyhow::Result<Vec<u8>> {
        self.read_buffer_range(buf, 0, len)
    }

    /// Copies `len` bytes of `buf` from byte `offset` to a fresh staging buffer and reads them.
    pub(super) fn read_buffer_range(
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
    pub(super) fn read_frame_outputs(&self, k: usize) -> anyhow::Result<Array3<f32>> {
        let r = self.batch_res.as_ref().expect("batch resources");
        let shape = (r.steps / k, r.batch, self.network.n_out());
        let len = (shape.0 * shape.1 * shape.2) as u64 * F32;
        let offset = r.dims.off_out as u64 * F32;
        let values: Vec<f32> =
            bytemuck::pod_collect_to_vec(&self.read_buffer_range(&r.readout, offset, len)?);
        Ok(Array3::from_shape_vec(shape, values).expect("frames × batch × outputs"))
    }

    /// The NaN guard, the GPU's twin of the checks of `cpu::engine::optimiser_step`: when
    /// adam.wgsl counted a non-finite gradient or updated weight, restores the weights and
    /// moments of before the step and names the first offending tensor entry.
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

    pub(super) fn stats(&self, totals: &[f32]) -> BatchStats {
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
    pub(super) fn unpack_spikes(&self, bits: &[u32]) -> Array3<f32> {
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
