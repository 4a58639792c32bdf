//! What a training engine offers, whichever device runs it: the CPU reference
//! ([`crate::cpu::CpuEngine`]) or the WGSL kernels ([`crate::gpu::GpuEngine`]).

use ndarray::{Array2, Array3};

use crate::model::deep_r::{DeepR, RewireStats};
use crate::model::{Batch, Network};

/// Optimiser settings for one step (the learning rate already follows the schedule).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepSettings {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    /// 1-based Adam step number.
    pub step: u32,
    /// Seed of the injected noise for this iteration (M1).
    pub noise_seed: u32,
}

/// Losses and metrics of one forward pass over a batch.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchStats {
    pub loss: f32,
    pub loss_task: f32,
    pub loss_reg: f32,
    /// Correct predictions and scored predictions (sequences or frames).
    pub correct: usize,
    pub scored: usize,
    /// r̄_j, spikes per ms, per neuron (M9).
    pub rates: Vec<f32>,
}

impl BatchStats {
    pub fn accuracy(&self) -> f32 {
        self.correct as f32 / self.scored.max(1) as f32
    }
}

/// One batch's loss, gradients (flat, layout of `Params::to_flat`) and spikes [T, B, n_rec].
#[derive(Clone, Debug)]
pub struct GradientReport {
    pub stats: BatchStats,
    pub grads: Vec<f32>,
    pub spikes: Array3<f32>,
}

pub trait Engine {
    /// A short human-readable name ("cpu reference", or the adapter's name).
    fn describe(&self) -> String;
    /// Forward, BPTT and one Adam step (with the sign constraints applied after it).
    fn train_step(&mut self, batch: &Batch, settings: &StepSettings) -> anyhow::Result<BatchStats>;
    /// Forward pass and loss only; weights unchanged.
    fn evaluate(&mut self, batch: &Batch, noise_seed: u32) -> anyhow::Result<BatchStats>;
    /// Forward pass and loss, with the predicted class (argmax of the logits) of every
    /// decision the readout makes: [1, B] for the window readout, [T/k, B] for the framewise
    /// readout with k steps per frame (every frame, labelled or not). Weights unchanged.
    fn predict(
        &mut self,
        batch: &Batch,
        noise_seed: u32,
    ) -> anyhow::Result<(BatchStats, Array2<i32>)>;
    /// Forward pass of a regression readout: each frame's outputs (the mean of y_t over its
    /// steps), [T/k, B, n_out]. An error for the other readouts. Weights unchanged.
    fn frame_outputs(&mut self, batch: &Batch, noise_seed: u32) -> anyhow::Result<Array3<f32>>;
    /// Forward, loss and BPTT; weights unchanged.
    fn gradients(&mut self, batch: &Batch, noise_seed: u32) -> anyhow::Result<GradientReport>;
    /// The network with its current weights.
    fn network(&self) -> anyhow::Result<Network>;
    /// Adam moments (m, v), flat like the parameters.
    fn adam_moments(&self) -> anyhow::Result<(Vec<f32>, Vec<f32>)>;
    fn set_adam_moments(&mut self, m: &[f32], v: &[f32]) -> anyhow::Result<()>;
    /// Turns DEEP R on (model.md §7) for the following training steps: after each Adam step
    /// the rewired entries (constraint codes 4/5) go through R1–R5.
    fn set_rewiring(&mut self, deep_r: DeepR) -> anyhow::Result<()>;
    /// What the last training step's rewiring did; None without DEEP R.
    fn rewire_stats(&self) -> Option<RewireStats>;
}
