//! Reference DEEP R (docs/model.md §7): R1–R4 after the Adam step (the twin of the rewired branch
//! of `shaders/adam.wgsl`); the R5 refill is `deep_r_refill.rs`, the twin of
//! `shaders/deep_r_refill.wgsl`.
//! Random numbers come from Philox under the run's key, so both engines place the same
//! connections.

pub use super::deep_r_refill::refill;
use super::philox::{key_of, normal, philox4x32_10};
use crate::model::deep_r::{DeepR, RewireStats, STREAM_NOISE};
use crate::model::init::Constraint;

/// The fixed sign of a rewired parameter's constraint code, or None if not rewired.
pub fn rewired_sign(code: u32) -> Option<f32> {
    match code {
        c if c == Constraint::RewiredPositive as u32 => Some(1.0),
        c if c == Constraint::RewiredNegative as u32 => Some(-1.0),
        _ => None,
    }
}

/// The `dense_gradients: false` variant of R2: the gradients of inactive rewired entries
/// (w = 0) are zeroed before the Adam step (the twin of the check in batch_reduce.wgsl).
pub fn zero_inactive_gradients(params: &[f32], grads: &mut [f32], constraints: &[u32]) {
    for ((g, &w), &c) in grads.iter_mut().zip(params).zip(constraints) {
        if w == 0.0 && rewired_sign(c).is_some() {
            *g = 0.0;
        }
    }
}

/// R1–R4 on every rewired entry, given the weights `before` the Adam step (R1: active iff
/// non-zero) and `params` after it (R2). R3: an entry inactive before stays exactly 0, an
/// active one whose θ went ≤ 0 disconnects. R4: active entries take θ ← θ − lr·l1 +
/// √(2·lr·T)·N(0,1) (the noise drawn only when T > 0) and disconnect if that makes θ ≤ 0.
/// `step` is the 1-based Adam step, the Philox counter's iteration.
pub fn rewire_entries(
    before: &[f32],
    params: &mut [f32],
    constraints: &[u32],
    d: &DeepR,
    lr: f32,
    step: u32,
) -> RewireStats {
    let key = key_of(d.seed);
    let noise_scale = (2.0 * lr * d.temperature).sqrt();
    let mut stats = RewireStats::default();
    for (k, m) in d.matrices.iter().enumerate() {
        let lo = m.offset as usize;
        for e in lo..lo + (m.rows * m.cols) as usize {
            let Some(s) = rewired_sign(constraints[e]) else {
                continue;
            };
            let theta_old = s * before[e];
            let mut theta = s * params[e];
            if theta_old <= 0.0 || theta <= 0.0 {
                theta = 0.0;
            } else {
                theta -= lr * d.l1;
                if d.temperature > 0.0 {
                    let r = philox4x32_10([step, STREAM_NOISE, e as u32, 0], key);
                    theta += noise_scale * normal(r[0], r[1]);
                }
                theta = theta.max(0.0);
            }
            params[e] = s * theta;
            if theta > 0.0 {
                stats.active[k] += 1;
            } else if theta_old > 0.0 {
                stats.rewired += 1;
            }
        }
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::deep_r::{RewiredMatrix, REFILL_THETA};

    /// One 2 × 3 "W_rec-like" matrix whose diagonal (0, 0), (1, 1) is not rewired.
    fn setup(l1: f32, temperature: f32, budget: u32) -> (DeepR, Vec<u32>) {
        let m = RewiredMatrix {
            offset: 0,
            rows: 2,
            cols: 3,
            capacity: 4,
        };
        let empty = RewiredMatrix {
            offset: 6,
            rows: 0,
            cols: 0,
            capacity: 0,
        };
        let (p, n, z) = (
            Constraint::RewiredPositive as u32,
            Constraint::RewiredNegative as u32,
            Constraint::Zero as u32,
        );
        let d = DeepR {
            l1,
            temperature,
            budget,
            matrices: [m, empty, empty],
            // Every draw picks matrix 0.
            choice: [u32::MAX, u32::MAX, u32::MAX],
            seed: 9,
            dense_gradients: true,
        };
        (d, vec![z, p, n, p, z, n])
    }

    #[test]
    fn r3_r4_disconnect_flips_keep_inactive_zero_and_shrink() {
        let (d, c) = setup(0.5, 0.0, 2);
        let before = [0.0, 0.4, -0.3, 0.0, 0.0, -0.2];
        // After Adam (and the sign clamp): entry 1 stays active, entry 2 flipped (clamped to
        // 0), entry 3 was inactive and must stay 0, entry 5 stays active.
        let mut w = [0.0, 0.35, 0.0, 0.25, 0.0, -0.15];
        let stats = rewire_entries(&before, &mut w, &c, &d, 0.1, 1);
        // R4: θ -= lr·l1 = 0.05.
        assert_eq!(w, [0.0, 0.35 - 0.05, 0.0, 0.0, 0.0, -(0.15 - 0.05)]);
        assert_eq!(stats.active, [2, 0, 0]);
        assert_eq!(stats.rewired, 1);
    }

    #[test]
    fn refill_restores_the_budget_on_free_positions_only() {
        let (d, c) = setup(0.0, 0.0, 4);
        let mut w = [0.0, 0.3, 0.0, 0.0, 0.0, 0.0];
        let mut stats = RewireStats {
            active: [1, 0, 0],
            rewired: 0,
        };
        let draws = refill(&mut w, &c, &d, 1, &mut stats);
        assert_eq!(stats.active, [4, 0, 0]);
        assert!(draws >= 3);
        // The only free positions were 2, 3, 5 (0 and 4 are the diagonal): all filled with
        // their fixed sign, the active entry untouched.
        assert_eq!(
            w,
            [0.0, 0.3, -REFILL_THETA, REFILL_THETA, 0.0, -REFILL_THETA]
        );
    }

    #[test]
    fn zero_l1_and_temperature_without_flips_change_nothing() {
        let (d, c) = setup(0.0, 0.0, 3);
        let before = [0.0, 0.4, -0.3, 0.0, 0.0, -0.2];
        let after = [0.0, 0.41, -0.29, 0.0, 0.0, -0.21];
        let mut w = after;
        let mut stats = rewire_entries(&before, &mut w, &c, &d, 0.1, 1);
        assert_eq!(refill(&mut w, &c, &d, 1, &mut stats), 0);
        assert_eq!(w, after);
        assert_eq!((stats.active, stats.rewired), ([3, 0, 0], 0));
    }
}
