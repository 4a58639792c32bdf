//! DEEP R (docs/model.md §7): the rewiring description shared by both engines.
//!
//! A rewired parameter has a fixed sign s (Dale's law: its presynaptic neuron's; without it, a
//! seeded random sign) and a magnitude θ ≥ 0; the engines store the effective weight w = s·θ
//! only, so θ = s·w and "active" is w ≠ 0 (an active θ is at least the refill's 1e-12). The
//! sign lives in the parameter's constraint code ([`Constraint::RewiredPositive`] /
//! [`Constraint::RewiredNegative`]); the recurrent diagonal keeps [`Constraint::Zero`], so an
//! autapse is never counted in the budget nor placed by the refill.
//!
//! [`Constraint::RewiredPositive`]: super::init::Constraint::RewiredPositive
//! [`Constraint::RewiredNegative`]: super::init::Constraint::RewiredNegative
//! [`Constraint::Zero`]: super::init::Constraint::Zero

/// θ of a connection placed by the refill (R5).
pub const REFILL_THETA: f32 = 1e-12;
/// Philox stream of the Langevin noise (counter: iteration, stream, parameter index).
pub const STREAM_NOISE: u32 = 0;
/// Philox stream of the refill draws (counter: iteration, stream, draw number).
pub const STREAM_REFILL: u32 = 1;

/// One rewired matrix inside the flat parameter vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RewiredMatrix {
    /// First flat index.
    pub offset: u32,
    pub rows: u32,
    pub cols: u32,
    /// Positions a connection may take (rows·cols, minus the diagonal for W_rec).
    pub capacity: u32,
}

/// DEEP R settings of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct DeepR {
    /// L1 coefficient (R4).
    pub l1: f32,
    /// Langevin temperature T (R4).
    pub temperature: f32,
    /// Fixed number K of active connections over all rewired matrices (R5).
    pub budget: u32,
    /// W_in, W_rec, W_out.
    pub matrices: [RewiredMatrix; 3],
    /// Cumulative thresholds on a 32-bit uniform word for choosing the matrix of a refilled
    /// connection ∝ capacity·p (one p for all matrices): matrix k when word < cum[k].
    pub choice: [u32; 3],
    /// Key of the Philox draws.
    pub seed: u64,
    /// R2 over every entry (the reference) or over active connections only (ours, faster).
    pub dense_gradients: bool,
}

impl DeepR {
    pub fn new(
        l1: f32,
        temperature: f32,
        budget: u32,
        matrices: [RewiredMatrix; 3],
        seed: u64,
    ) -> DeepR {
        let total: f64 = matrices.iter().map(|m| m.capacity as f64).sum();
        let mut acc = 0.0;
        let mut choice = [u32::MAX; 3];
        for (k, m) in matrices.iter().enumerate().take(2) {
            acc += m.capacity as f64;
            choice[k] = ((acc / total) * 4_294_967_296.0).min(u32::MAX as f64) as u32;
        }
        DeepR {
            l1,
            temperature,
            budget,
            matrices,
            choice,
            seed,
            dense_gradients: true,
        }
    }

    /// The same settings with R2 dense (true, the reference) or over active entries only.
    pub fn with_dense_gradients(mut self, dense: bool) -> DeepR {
        self.dense_gradients = dense;
        self
    }

    /// The matrix (0, 1, 2) of a uniform word.
    pub fn matrix_of_word(&self, x: u32) -> usize {
        if x < self.choice[0] {
            0
        } else if x < self.choice[1] {
            1
        } else {
            2
        }
    }
}

/// What one rewiring step did, per iteration (for metrics.jsonl).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RewireStats {
    /// Active connections of W_in, W_rec, W_out after the step (sums to the budget).
    pub active: [u32; 3],
    /// Connections that went inactive in R3/R4 (and were placed anew by R5).
    pub rewired: u32,
}
