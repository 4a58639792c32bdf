//! The `model:` and `rewiring:` sections of an experiment (docs/model.md §1–§7): the LSNN's
//! sizes, time constants, readout and signs, and DEEP R's settings. The model owns them;
//! `config::Config` aggregates them, with these YAML keys and defaults.

use serde::{Deserialize, Serialize};

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
    /// Saturating, so that absurd counts in a config reach validation's limit instead of
    /// overflowing.
    pub fn n_rec(&self) -> usize {
        self.n_regular.saturating_add(self.n_adaptive)
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
