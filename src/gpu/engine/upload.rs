//! Uploading a batch: the inputs into the time chunks, the labels or target values, and the
//! per-step uniform; writing Adam's moments and clearing the optimiser's counters.

use anyhow::bail;
use ndarray::Array3;

use super::GpuEngine;
use crate::engine::StepSettings;
use crate::gpu::layout::{StepUniform, REWIRE_STATS_LEN};
use crate::model::{Batch, Readout, Targets};

impl GpuEngine {
    /// Uploads the inputs `x` [T, B, n_in] into the time chunks (sizing the batch buffers).
    pub(super) fn upload_inputs(&mut self, x: &Array3<f32>) -> anyhow::Result<()> {
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
    pub(super) fn upload_batch(&mut self, batch: &Batch) -> anyhow::Result<u32> {
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

    pub(super) fn write_step(&self, step: &StepUniform) {
        self.ctx
            .queue
            .write_buffer(&self.step_buf, 0, bytemuck::bytes_of(step));
    }

    /// The step uniform of training step `s`: Adam's settings and bias corrections.
    pub(super) fn write_train_step(&self, s: &StepSettings, n_scored: u32) {
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
    }

    /// Adam's moments m | v.
    pub(super) fn write_moments(&self, m: &[f32], v: &[f32]) {
        let mut mv = m.to_vec();
        mv.extend_from_slice(v);
        self.ctx
            .queue
            .write_buffer(&self.moments, 0, bytemuck::cast_slice(&mv));
    }

    /// The optimiser's counters from zero: written before the step's submit, so ordered
    /// before adam.
    pub(super) fn clear_step_counters(&self) {
        self.ctx.queue.write_buffer(
            &self.rewire_stats_buf,
            0,
            bytemuck::cast_slice(&[0u32; REWIRE_STATS_LEN]),
        );
    }
}
