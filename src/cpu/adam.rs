//! Reference Adam (docs/model.md §6) and the sign constraints that follow it: the twin of
//! `shaders/adam.wgsl` (with `cpu::deep_r` for its DEEP R part).

use super::deep_r::rewire_entries;
use crate::model::deep_r::{DeepR, RewireStats};
use crate::model::init::Constraint;

/// Hyperparameters of one Adam step; `lr` already carries the step-decay schedule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamHyper {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    /// 1-based step number, for the bias corrections.
    pub step: u32,
}

impl AdamHyper {
    /// (1 − β1^t, 1 − β2^t), computed on the host in f64 and passed to the kernel so that
    /// both engines use the same rounded values.
    pub fn bias_corrections(&self) -> (f32, f32) {
        let t = self.step as i32;
        (
            (1.0 - (self.beta1 as f64).powi(t)) as f32,
            (1.0 - (self.beta2 as f64).powi(t)) as f32,
        )
    }
}

/// First and second moments, flat like the parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct AdamState {
    pub m: Vec<f32>,
    pub v: Vec<f32>,
}

impl AdamState {
    pub fn new(len: usize) -> AdamState {
        AdamState {
            m: vec![0.0; len],
            v: vec![0.0; len],
        }
    }
}

/// One Adam step on flat parameters (Kingma & Ba, with bias correction):
/// m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; w ← w − lr·(m/c1)/(√(v/c2) + ε).
pub fn adam_step(params: &mut [f32], grads: &[f32], state: &mut AdamState, h: &AdamHyper) {
    let (c1, c2) = h.bias_corrections();
    for i in 0..params.len() {
        let g = grads[i];
        let m = h.beta1 * state.m[i] + (1.0 - h.beta1) * g;
        let v = h.beta2 * state.v[i] + (1.0 - h.beta2) * g * g;
        state.m[i] = m;
        state.v[i] = v;
        params[i] -= h.lr * (m / c1) / ((v / c2).sqrt() + h.eps);
    }
}

/// Projects flat parameters onto their sign constraints: the step of adam.wgsl that follows
/// the Adam update (the switch on the constraint codes of `model::init::Constraint`).
pub fn apply_constraints(params: &mut [f32], constraints: &[u32]) {
    for (w, &c) in params.iter_mut().zip(constraints) {
        *w = Constraint::clamp(*w, c);
    }
}

/// The step of adam.wgsl: Adam on every parameter, the projection on the sign constraints,
/// and under DEEP R its R1–R4 (`rewire_entries`, from the weights before the step). Returns
/// what the rewiring did; the refill (R5) follows in `optimiser_step`.
pub fn adam_update(
    params: &mut [f32],
    grads: &[f32],
    state: &mut AdamState,
    h: &AdamHyper,
    constraints: &[u32],
    deep_r: Option<&DeepR>,
) -> Option<RewireStats> {
    let before = params.to_vec();
    adam_step(params, grads, state, h);
    apply_constraints(params, constraints);
    deep_r.map(|d| rewire_entries(&before, params, constraints, d, h.lr, h.step))
}
