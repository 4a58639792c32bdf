//! What a training engine offers, whichever device runs it: the CPU reference
//! ([`crate::cpu::CpuEngine`]) or the WGSL kernels ([`crate::gpu::GpuEngine`]).

use ndarray::{Array2, Array3};
use serde::{Deserialize, Serialize};

use crate::model::deep_r::{DeepR, RewireStats};
use crate::model::{Batch, Network, Readout};

/// Adam's hyperparameters (docs/model.md §6), the `train.adam:` section of an experiment:
/// the optimiser's own settings, aggregated by `config::TrainConfig`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdamConfig {
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

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

impl StepSettings {
    /// Adam step number `step` (1-based) at learning rate `lr`, with `adam`'s moments.
    pub fn adam(adam: &AdamConfig, lr: f32, step: u32, noise_seed: u32) -> StepSettings {
        StepSettings {
            lr,
            beta1: adam.beta1,
            beta2: adam.beta2,
            eps: adam.eps,
            step,
            noise_seed,
        }
    }
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

    /// Mean firing rate over all neurons, in Hz (`rates` are spikes per ms).
    pub fn mean_rate_hz(&self) -> f64 {
        1000.0 * self.rates.iter().map(|&r| r as f64).sum::<f64>() / self.rates.len().max(1) as f64
    }
}

/// One batch's loss, gradients (flat, layout of `Params::to_flat`) and spikes [T, B, n_rec].
#[derive(Clone, Debug)]
pub struct GradientReport {
    pub stats: BatchStats,
    pub grads: Vec<f32>,
    pub spikes: Array3<f32>,
}

impl GradientReport {
    /// The report as the gradient file holds it (`model::checkpoint::save_gradients`).
    pub fn record(&self) -> crate::model::checkpoint::GradientRecord<'_> {
        crate::model::checkpoint::GradientRecord {
            loss: self.stats.loss,
            loss_task: self.stats.loss_task,
            loss_reg: self.stats.loss_reg,
            grads: &self.grads,
            spikes: &self.spikes,
        }
    }
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
    /// Starts a stream of forward passes over `batch` sequences that continue one another,
    /// each `steps` long: the state one pass leaves is where the next begins. For running a
    /// trained network through an episode piece by piece (reading its outputs as it goes, as
    /// an agent acting on them would) and for probing it without disturbing it
    /// ([`Engine::stream_save`], [`Engine::stream_restore`]). Regression readout only;
    /// `steps` must be whole frames and whole rounds of the delay ring (see
    /// [`check_stream_shape`]). Any other pass of the engine ends the stream.
    fn stream_start(&mut self, batch: usize, steps: usize) -> anyhow::Result<()>;
    /// The stream's next pass, inputs `x` [steps, batch, n_in]: each frame's outputs
    /// [steps/k, batch, n_out], as [`Engine::frame_outputs`]. Within the pass the steps count
    /// from 1 again, which matters only for the noise of M1 (keyed by `noise_seed` and the
    /// step): give each pass its own seed.
    fn stream_advance(&mut self, x: &Array3<f32>, noise_seed: u32) -> anyhow::Result<Array3<f32>>;
    /// Keeps a copy of the stream's state (on the device for the GPU); one copy at a time.
    fn stream_save(&mut self) -> anyhow::Result<()>;
    /// Puts the saved state back, exactly: the stream continues as if the passes since the
    /// save had never run.
    fn stream_restore(&mut self) -> anyhow::Result<()>;
    /// The stream's whole state as bit patterns (neuron state, delay ring, readout trace, last
    /// spikes), in an engine-specific order: for checking that a restore is exact.
    fn stream_state(&self) -> anyhow::Result<Vec<u32>>;
    /// Forward, loss and BPTT; weights unchanged.
    fn gradients(&mut self, batch: &Batch, noise_seed: u32) -> anyhow::Result<GradientReport>;
    /// The network with its current weights.
    fn network(&self) -> anyhow::Result<Network>;
    /// Adam moments (m, v), flat like the parameters.
    fn adam_moments(&self) -> anyhow::Result<(Vec<f32>, Vec<f32>)>;
    fn set_adam_moments(&mut self, m: &[f32], v: &[f32]) -> anyhow::Result<()>;
    /// Turns DEEP R on (docs/model.md §7) for the following training steps: after each Adam step
    /// the rewired entries (constraint codes 4/5) go through R1–R5.
    fn set_rewiring(&mut self, deep_r: DeepR) -> anyhow::Result<()>;
    /// What the last training step's rewiring did; None without DEEP R.
    fn rewire_stats(&self) -> Option<RewireStats>;
    /// The sign-constraint code of every trained parameter, as the engine was built with
    /// (docs/formats.md, `train.constraints`): they never change while it trains, and a
    /// checkpoint or a raster takes them from here.
    fn constraints(&self) -> &[u32];
    /// The DEEP R settings of [`Engine::set_rewiring`]; None without rewiring.
    fn rewiring(&self) -> Option<&DeepR>;
}

/// Whether a stream of passes of `steps` steps can run on `net` (see [`Engine::stream_start`]):
/// a regression readout whose frames and delay ring fit a whole number of times into a pass,
/// so that frames and ring slots line up from one pass to the next.
pub fn check_stream_shape(net: &Network, batch: usize, steps: usize) -> anyhow::Result<()> {
    let Readout::Regression(k) = net.sim.readout else {
        anyhow::bail!("a stream of forward passes needs the regression readout");
    };
    let n_delay = net.sim.n_delay as usize;
    anyhow::ensure!(
        batch > 0 && steps > 0,
        "a stream needs at least one sequence and one step"
    );
    anyhow::ensure!(
        steps.is_multiple_of(k),
        "a stream's passes of {steps} steps are not whole frames of {k} steps"
    );
    anyhow::ensure!(
        steps.is_multiple_of(n_delay),
        "a stream's passes of {steps} steps are not whole rounds of the {n_delay}-slot delay ring"
    );
    Ok(())
}

/// Checks that `batch` fits `net` before any engine computes on it: the input width, the
/// targets' kind and shape for the network's readout, whole frames, a window no longer than
/// the sequence, labels within the classes, finite inputs and target values (NaN marks an
/// unscored regression step). One check for every engine, so that no input file can make
/// one of them panic where another gives an error.
pub fn check_batch(net: &Network, batch: &crate::model::Batch) -> anyhow::Result<()> {
    use crate::model::Targets;
    let (steps, size, n_in) = batch.x.dim();
    anyhow::ensure!(
        steps > 0 && size > 0,
        "the batch is empty ({steps} steps of {size} sequences)"
    );
    anyhow::ensure!(
        n_in == net.n_in(),
        "the batch's x has {n_in} input channels, the network {}",
        net.n_in()
    );
    if let Some(bad) = batch.x.iter().find(|v| !v.is_finite()) {
        anyhow::bail!("the batch's x holds a value that is not finite ({bad})");
    }
    let n_out = net.n_out();
    let label_ok = |l: i32| l >= 0 && (l as usize) < n_out;
    match (net.sim.readout, &batch.targets) {
        (Readout::Window(k), Targets::Labels(labels)) => {
            anyhow::ensure!(
                k > 0 && k <= steps,
                "readout window {k} does not fit the sequence ({steps} steps)"
            );
            anyhow::ensure!(
                labels.len() == size,
                "the batch has {} labels for {size} sequences",
                labels.len()
            );
            if let Some(bad) = labels.iter().find(|&&l| !label_ok(l)) {
                anyhow::bail!("label {bad} is outside 0..{n_out}");
            }
        }
        (Readout::Framewise(k), Targets::FrameLabels(labels)) => {
            check_frames(k, steps)?;
            anyhow::ensure!(
                labels.dim() == (steps, size),
                "the batch's labels are {:?}, not [steps, batch] = [{steps}, {size}]",
                labels.shape()
            );
            if let Some(bad) = labels.iter().find(|&&l| l != -1 && !label_ok(l)) {
                anyhow::bail!("label {bad} is outside 0..{n_out} (or −1 for an unscored step)");
            }
        }
        (Readout::Regression(k), Targets::FrameValues(values)) => {
            check_frames(k, steps)?;
            anyhow::ensure!(
                values.dim() == (steps, size, n_out),
                "the batch's target values are {:?}, not [steps, batch, n_out] = [{steps}, {size}, {n_out}]",
                values.shape()
            );
            if let Some(bad) = values.iter().find(|v| v.is_infinite()) {
                anyhow::bail!("target value {bad} is not finite (NaN marks a step not scored)");
            }
        }
        (readout, _) => anyhow::bail!("the batch's targets do not match the {readout:?} readout"),
    }
    Ok(())
}

fn check_frames(k: usize, steps: usize) -> anyhow::Result<()> {
    anyhow::ensure!(
        k > 0 && steps.is_multiple_of(k),
        "the frame readout needs whole frames: {steps} steps are not a multiple of {k} steps per frame"
    );
    Ok(())
}

/// Where a host engine's stream of passes stands ([`Engine::stream_start`]): the state the
/// next pass begins from, and the one copy [`Engine::stream_save`] keeps.
#[derive(Clone, Debug)]
pub struct StreamState<T> {
    pub now: T,
    saved: Option<T>,
}

impl<T: Clone> StreamState<T> {
    pub fn new(now: T) -> StreamState<T> {
        StreamState { now, saved: None }
    }

    /// [`Engine::stream_save`]: keeps a copy of `now` (one at a time).
    pub fn save(&mut self) {
        self.saved = Some(self.now.clone());
    }

    /// [`Engine::stream_restore`]: puts the saved copy back, exactly.
    pub fn restore(&mut self) -> anyhow::Result<()> {
        self.now = self
            .saved
            .clone()
            .ok_or_else(|| anyhow::anyhow!("the stream has no saved state to restore"))?;
        Ok(())
    }
}

/// The running stream of an engine, or the error of a stream call made without one.
pub fn running_stream<S>(stream: Option<S>) -> anyhow::Result<S> {
    stream.ok_or_else(|| anyhow::anyhow!("no stream running: call stream_start first"))
}
