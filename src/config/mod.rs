//! The experiment configuration: one YAML schema shared by every experiment, deserialised
//! into typed structs with defaults, then validated. This is the single source of truth for
//! every parameter; nothing numeric is hard-coded elsewhere.
//!
//! Loading (`Config::load`), `--set key.path=value` overrides and validation live in
//! `config/load.rs` and `config/validate.rs`.

use serde::{Deserialize, Serialize};

mod load;
mod validate;

pub use load::{apply_override, ConfigError, SourcePos};
pub use validate::{MAX_DELAY, MAX_NEURONS};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub task: TaskConfig,
    #[serde(default)]
    pub data: DataConfig,
    #[serde(default)]
    pub model: ModelConfig,
    #[serde(default)]
    pub rewiring: Option<RewiringConfig>,
    #[serde(default)]
    pub train: TrainConfig,
    #[serde(default)]
    pub eval: EvalConfig,
    #[serde(default)]
    pub device: DeviceConfig,
    /// Meta-RL (task.kind meta_rl): arena, observation code, GAE, PPO.
    #[serde(default)]
    pub rl: crate::rl::settings::RlConfig,
}

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
    pub frame_input: crate::tasks::timit::FrameInput,
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
    pub encoding: crate::tasks::smnist_encoding::Encoding,
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
            TaskKind::Smnist => {
                crate::tasks::smnist_encoding::steps(self.image_side, self.ms_per_pixel)
            }
            _ => self.steps,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// Directory or file holding the data set. TIMIT: the corpus (the directory with TRAIN/
    /// and TEST/, or one above it); when unset, the TIMIT_DIR environment variable.
    pub path: Option<String>,
    /// Training examples held out for validation (5,000 in the reference sMNIST split).
    pub validation_size: usize,
    /// TIMIT: where the extracted features are cached (default: the directory that holds the
    /// run directory, `runs/` unless `--out` says otherwise).
    pub cache_dir: Option<String>,
    /// TIMIT: the core test speakers (default: the standard 24, `data::timit::speakers`).
    pub core_test_speakers: Option<Vec<String>>,
    /// TIMIT: the development (validation) speakers (default: the standard 50).
    pub dev_speakers: Option<Vec<String>>,
    /// TIMIT: training speakers held out for validation when no development speaker is in the
    /// corpus (ours).
    pub holdout_speakers: usize,
    /// TIMIT: MFCC feature settings (docs/experiments.md §2).
    pub mfcc: crate::data::timit::mfcc::MfccSettings,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            path: None,
            validation_size: 5000,
            cache_dir: None,
            core_test_speakers: None,
            dev_speakers: None,
            holdout_speakers: 50,
            mfcc: Default::default(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ReadoutKind {
    #[default]
    Window,
    Framewise,
    /// Squared error of the frame outputs against target values (learning-to-learn).
    Regression,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReadoutConfig {
    pub kind: ReadoutKind,
    /// K: the window readout averages y_t over the last K steps (docs/model.md §4; 28 reference).
    pub window: usize,
    /// τ_out of the readout trace, ms (M7; 20 reference).
    pub tau_out: f32,
}

impl Default for ReadoutConfig {
    fn default() -> Self {
        ReadoutConfig {
            kind: ReadoutKind::Window,
            window: 28,
            tau_out: 20.0,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DaleConfig {
    /// Fraction of excitatory neurons and input channels (0.75 reference, docs/model.md §1).
    pub proportion_excitatory: f32,
}

impl Default for DaleConfig {
    fn default() -> Self {
        DaleConfig {
            proportion_excitatory: 0.75,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Input channels; `None` = given by the task (80 for sMNIST).
    pub n_in: Option<usize>,
    /// Readout classes; `None` = given by the task (10 for sMNIST).
    pub n_out: Option<usize>,
    /// Regular LIF neurons (β = 0), indices 0..n_regular.
    pub n_regular: usize,
    /// Adaptive (ALIF) neurons, indices n_regular..n_rec.
    pub n_adaptive: usize,
    /// Membrane time constant τ_m, ms (M0a).
    pub tau_m: f32,
    /// Adaptation time constant τ_a of the adaptive neurons, ms (M0b).
    pub tau_a: f32,
    /// If set, τ_a of each adaptive neuron is drawn uniformly from [lo, hi] ms (learning-to-learn).
    pub tau_a_range: Option<[f32; 2]>,
    /// Adaptation strength β of the adaptive neurons (M3).
    pub beta: f32,
    /// Baseline threshold thr (M3).
    pub thr: f32,
    /// Refractory period, steps (M5).
    pub n_ref: u32,
    /// Synaptic delays are drawn uniformly from 0..n_delay steps (M1).
    pub n_delay: u32,
    /// Time step, ms.
    pub dt: f32,
    /// γ of the pseudo-derivative (M6).
    pub dampening: f32,
    /// σ of the injected input noise (M1).
    pub noise_std: f32,
    pub readout: ReadoutConfig,
    /// Dale's law signs; absent = unconstrained signs.
    pub dale: Option<DaleConfig>,
}

impl Default for ModelConfig {
    /// The sequential-MNIST LSNN of the reference code (docs/experiments.md §1).
    fn default() -> Self {
        ModelConfig {
            n_in: None,
            n_out: None,
            n_regular: 120,
            n_adaptive: 100,
            tau_m: 20.0,
            tau_a: 700.0,
            tau_a_range: None,
            beta: 1.8,
            thr: 0.01,
            n_ref: 5,
            n_delay: 10,
            dt: 1.0,
            dampening: 0.3,
            noise_std: 0.0,
            readout: ReadoutConfig::default(),
            dale: None,
        }
    }
}

impl ModelConfig {
    pub fn n_rec(&self) -> usize {
        self.n_regular + self.n_adaptive
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RewiringConfig {
    /// Fraction p of connections kept active by DEEP R (docs/model.md §7).
    pub connectivity: f32,
    /// L1 coefficient (R4).
    pub l1: f32,
    /// Langevin temperature T (R4).
    pub temperature: f32,
    /// R2 as the reference: gradients (and so Adam moments) for every entry, inactive ones
    /// too. `false` (ours): only active connections get a gradient, the moments of inactive
    /// entries decay as if their gradient were 0, and the BPTT sweep skips inactive synapses
    /// in its weight-gradient accumulation (cheaper at low connectivity).
    pub dense_gradients: bool,
    /// The sparse start. `false` (docs/model.md §5): the dense start (balanced, spectral radius 1)
    /// masked to a random p fraction, so each neuron's input variance falls by p. `true`
    /// (ours): the survivors are scaled by 1/√p and, with Dale's law, W_rec is re-balanced
    /// and rescaled to spectral radius 1 after masking, so the sparse start drives its
    /// neurons as hard as the dense one (it then fires ~2× as often, benches/RESULTS.md).
    pub rescale_survivors: bool,
}

impl Default for RewiringConfig {
    fn default() -> Self {
        RewiringConfig {
            connectivity: 0.12,
            l1: 0.01,
            temperature: 0.0,
            dense_gradients: true,
            rescale_survivors: false,
        }
    }
}

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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    pub iterations: usize,
    pub batch_size: usize,
    pub seed: u64,
    /// Initial learning rate (docs/model.md §6).
    pub learning_rate: f32,
    /// The learning rate is multiplied by `lr_decay` every `lr_decay_every` iterations.
    pub lr_decay: f32,
    pub lr_decay_every: usize,
    pub adam: AdamConfig,
    /// c_reg of M9.
    pub reg_coeff: f32,
    /// f0 of M9, Hz.
    pub reg_rate_hz: f32,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            iterations: 36_000,
            batch_size: 256,
            seed: 0,
            learning_rate: 0.01,
            lr_decay: 0.8,
            lr_decay_every: 2500,
            adam: AdamConfig::default(),
            reg_coeff: 0.1,
            reg_rate_hz: 10.0,
        }
    }
}

impl TrainConfig {
    /// Learning rate in force at (0-based) iteration `it`: step decay (docs/model.md §6).
    pub fn learning_rate_at(&self, it: usize) -> f32 {
        let k = it.checked_div(self.lr_decay_every).unwrap_or(0);
        self.learning_rate * self.lr_decay.powi(k as i32)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvalConfig {
    /// Validate every this many iterations (0 = only at the end).
    pub every: usize,
    pub batch_size: usize,
    /// Learning-to-learn: the final evaluation on unseen tasks against the baselines and the
    /// probing of the internal model.
    pub l2l: crate::tasks::l2l_eval::L2lEvalSettings,
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            every: 500,
            batch_size: 256,
            l2l: Default::default(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// A hardware GPU when wgpu finds one, else the native engine (the fastest path on a
    /// machine without a GPU: Mesa's software adapters are slower than it).
    #[default]
    Auto,
    /// A wgpu adapter (software adapters count).
    Gpu,
    /// The native engine: multi-threaded, event-driven, on the host's cores (`src/native/`).
    Native,
    /// The readable CPU reference (`src/cpu/`): the oracle of the tests, slow by design.
    Cpu,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    Vulkan,
    Metal,
    Dx12,
    Gl,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeviceConfig {
    pub kind: DeviceKind,
    pub backend: Option<BackendKind>,
    /// Substring of the adapter name to select.
    pub adapter: Option<String>,
    /// Invocations per workgroup; `None` = chosen by adapter type (CPU adapters want few).
    pub workgroup_size: Option<u32>,
    /// Time steps per dispatch of the forward and backward sweeps (keeps each dispatch short
    /// enough for OS watchdogs and each time-chunk buffer under the storage-binding limit).
    pub chunk_steps: usize,
}

impl Default for DeviceConfig {
    fn default() -> Self {
        DeviceConfig {
            kind: DeviceKind::Auto,
            backend: None,
            adapter: None,
            workgroup_size: None,
            chunk_steps: 128,
        }
    }
}

#[cfg(test)]
mod schedule_tests {
    use super::TrainConfig;

    #[test]
    fn learning_rate_decays_in_steps() {
        let t = TrainConfig {
            learning_rate: 0.01,
            lr_decay: 0.8,
            lr_decay_every: 2500,
            ..TrainConfig::default()
        };
        assert_eq!(t.learning_rate_at(0), 0.01);
        assert_eq!(t.learning_rate_at(2499), 0.01);
        assert!((t.learning_rate_at(2500) - 0.008).abs() < 1e-9);
        assert!((t.learning_rate_at(7600) - 0.01 * 0.8f32.powi(3)).abs() < 1e-9);
        let never = TrainConfig {
            lr_decay_every: 0,
            ..t
        };
        assert_eq!(never.learning_rate_at(100_000), 0.01);
    }
}
