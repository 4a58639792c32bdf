//! The `task:` section of an experiment: which task and its own parameters (sequence length,
//! encodings, learning-to-learn episodes). The tasks own it; `config::Config` aggregates it.

use serde::{Deserialize, Serialize};

use super::l2l_eval::L2lEvalSettings;
use crate::data::settings::DataConfig;
use crate::model::settings::ModelConfig;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Random Poisson input spikes with random labels: for benchmarks and gradient checks.
    #[default]
    Synthetic,
    Smnist,
    Timit,
    L2lTn,
    L2lSine,
    MetaRl,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TaskConfig {
    pub kind: TaskKind,
    /// Sequence length in steps (synthetic task; other tasks derive it from their data).
    pub steps: usize,
    /// Firing probability per step of each synthetic input channel.
    pub input_rate: f32,
    /// Sequential MNIST: simulation steps per pixel (1 or 2; docs/experiments.md §1).
    pub ms_per_pixel: usize,
    /// Sequential MNIST: side of the presented image, 28 (the reference) or 14 / 7 (each pixel
    /// the mean of a 2×2 / 4×4 block: shorter sequences for quick runs; ours).
    pub image_side: usize,
    /// Framewise readout (TIMIT): simulation steps per labelled frame; each 10 ms feature
    /// frame is presented for this many steps and scored by the mean of y_t over them
    /// (docs/experiments.md §2: 5).
    pub steps_per_frame: usize,
    /// TIMIT: how the features enter the network: `analog` input currents (docs/experiments.md §2)
    /// or `spikes` (option, ours: Bernoulli rate coding, two channels per feature).
    pub frame_input: super::timit::FrameInput,
    /// TIMIT `spikes` input: firing rate (Hz) of a channel whose feature is at or beyond
    /// `feature_saturation` standard deviations (ours).
    pub feature_spike_rate_hz: f32,
    /// TIMIT `spikes` input: |z-score| at which a channel's rate saturates (ours).
    pub feature_saturation: f32,
    /// Learning-to-learn: input/target pairs per episode (docs/experiments.md §3: 500).
    pub pairs_per_episode: usize,
    /// Learning-to-learn: input neurons coding each value (x1, x2, previous target; 100).
    pub neurons_per_value: usize,
    /// Learning-to-learn: the range [lo, hi] each input is drawn from, uniformly; absent: the
    /// family's default, target networks [−1, 1] (docs/experiments.md §3, ours), sines [−5, 5]. For
    /// target networks it sets how nonlinear the tasks are (README "Learning-to-learn").
    pub input_range: Option<[f32; 2]>,
    /// Sequential MNIST: input encoding (threshold crossing, the reference; or population).
    pub encoding: super::smnist_encoding::Encoding,
    /// Population coding: peak rate of a channel, Hz (ours).
    pub population_peak_rate_hz: f32,
    /// Population coding: width of the Gaussian tuning curves, intensity units (ours).
    pub population_width: f32,
}

impl Default for TaskConfig {
    fn default() -> Self {
        TaskConfig {
            kind: TaskKind::Synthetic,
            steps: 840,
            input_rate: 0.02,
            ms_per_pixel: 1,
            image_side: 28,
            steps_per_frame: 1,
            frame_input: Default::default(),
            feature_spike_rate_hz: 200.0,
            feature_saturation: 3.0,
            pairs_per_episode: 500,
            neurons_per_value: 100,
            input_range: None,
            encoding: Default::default(),
            population_peak_rate_hz: 100.0,
            population_width: 0.05,
        }
    }
}

impl TaskConfig {
    /// Sequence length T of the task.
    pub fn sequence_steps(&self) -> usize {
        match self.kind {
            TaskKind::Smnist => super::smnist_encoding::steps(self.image_side, self.ms_per_pixel),
            _ => self.steps,
        }
    }
}

/// What a task is built from: its own section and what it reads of the others (the data set,
/// the time step and readout of the model, the seed and batch sizes of training, the final
/// evaluation of learning-to-learn). Borrowed from the experiment's config
/// (`config::Config::task_run`), so that the tasks never see the whole config.
#[derive(Clone, Copy, Debug)]
pub struct TaskRun<'a> {
    pub task: &'a TaskConfig,
    pub data: &'a DataConfig,
    pub model: &'a ModelConfig,
    pub l2l_eval: &'a L2lEvalSettings,
    /// `train.seed`: batches are a pure function of it and the iteration.
    pub seed: u64,
    /// `train.batch_size`.
    pub batch_size: usize,
    /// `eval.batch_size`.
    pub eval_batch_size: usize,
}
