//! Reading results back from the GPU and decoding them: the staging buffer, the totals and
//! counters of an iteration, the stats of a batch, gradients and spikes, predictions and
//! frame outputs, the parameters and Adam moments, the row lists.

use ndarray::{Array2, Array3};

use super::{GpuEngine, F32};
use crate::engine::BatchStats;
use crate::gpu::context::map_read;
use crate::gpu::layout::{READOUT_TOTALS, REWIRE_STATS_LEN};
use crate::model::{Network, Params, Readout};

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

    /// The length in bytes of the totals and rates at the head of `readout`.
    fn totals_len(&self) -> u64 {
        (READOUT_TOTALS as u64 + self.network.n_rec() as u64) * F32
    }

    /// Encodes the copy of the totals and rates to the staging buffer, and after them, when
    /// `adam` ran, the optimiser's counters: one mapping per iteration.
    pub(super) fn encode_totals_copy(&self, enc: &mut wgpu::CommandEncoder, adam: bool) {
        let r = self.batch_res.as_ref().expect("batch resources");
        let totals_len = self.totals_len();
        enc.copy_buffer_to_buffer(&r.readout, 0, &r.staging, 0, totals_len);
        if adam {
            let counters_len = (REWIRE_STATS_LEN * 4) as u64;
            enc.copy_buffer_to_buffer(
                &self.rewire_stats_buf,
                0,
                &r.staging,
                totals_len,
                counters_len,
            );
        }
    }

    /// Reads what `encode_totals_copy` copied after the submit: returns the totals and, when
    /// `adam` ran, keeps the optimiser's counters in `step_counters`.
    pub(super) fn read_totals(&mut self, adam: bool) -> anyhow::Result<Vec<f32>> {
        let totals_len = self.totals_len();
        let read = self.read_staging(totals_len + (REWIRE_STATS_LEN * 4) as u64)?;
        let totals: Vec<f32> = bytemuck::pod_collect_to_vec(&read[..totals_len as usize]);
        if adam {
            let counters: Vec<u32> = bytemuck::pod_collect_to_vec(&read[totals_len as usize..]);
            self.step_counters.copy_from_slice(&counters);
        }
        Ok(totals)
    }

    /// The gradients and the spike bits of the last pass.
    pub(super) fn read_grads_and_bits(&self) -> anyhow::Result<(Vec<f32>, Vec<u32>)> {
        let p = self.network.params.len() as u64;
        let grads = bytemuck::pod_collect_to_vec(&self.read_via_staging(&self.grads, p * F32)?);
        let r = self.batch_res.as_ref().expect("batch resources");
        let bits = bytemuck::pod_collect_to_vec(&self.read_via_staging(&r.bits, r.bits_len)?);
        Ok((grads, bits))
    }

    /// The predicted classes [decisions, B] of the last pass: one decision per sequence for
    /// the window readout, one per frame otherwise.
    pub(super) fn read_predictions(&self) -> anyhow::Result<Array2<i32>> {
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
        Ok(Array2::from_shape_vec(
            (decisions, r.batch),
            classes.iter().map(|&c| c as i32).collect(),
        )
        .expect("decisions × batch predictions"))
    }

    /// The network with the trained parameters read back from the model buffer.
    pub(super) fn read_network(&self) -> anyhow::Result<Network> {
        let p = self.network.params.len();
        let flat = self.read_buffer(&self.model, p as u64 * F32)?;
        let mut net = self.network.clone();
        let (n_in, n, n_out) = (net.n_in(), net.n_rec(), net.n_out());
        net.params = Params::from_flat(&flat[..p], n_in, n, n_out);
        Ok(net)
    }

    /// Adam's moments (m, v).
    pub(super) fn read_moments(&self) -> anyhow::Result<(Vec<f32>, Vec<f32>)> {
        let p = self.network.params.len();
        let mv = self.read_buffer(&self.moments, 2 * p as u64 * F32)?;
        Ok((mv[..p].to_vec(), mv[p..2 * p].to_vec()))
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
