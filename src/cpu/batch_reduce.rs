//! Reference batch reduction: the twin of `shaders/batch_reduce.wgsl`. The gradient of a
//! batch is the sum of the per-sequence gradients (B6, B7), in the order b = 0..B, with the
//! entries that receive no gradient set to zero: the recurrent diagonal (no autapses:
//! `Constraint::Zero`) and, under DEEP R's `dense_gradients: false` (R2), the inactive
//! rewired entries (w = 0).
//!
//! The reference engine itself sums over the batch inside `alif_backward` (per-sequence
//! partials are the GPU's way to avoid float atomics) and applies the DEEP R part of the mask
//! in `optimiser_step` (`deep_r::zero_inactive_gradients`); this function is the kernel's
//! exact twin for `tests/kernels.rs`.

use super::deep_r::rewired_sign;
use crate::model::init::Constraint;

/// Whether entry `e` gets no gradient: the kernel's mask.
pub fn masked(w: f32, c: u32, sparse_gradients: bool) -> bool {
    c == Constraint::Zero as u32 || (sparse_gradients && w == 0.0 && rewired_sign(c).is_some())
}

/// Sums `partials` [B, P] (one flat gradient per sequence) over the batch in order and
/// applies the mask of [`masked`] given the weights `params` [P].
pub fn batch_reduce(
    partials: &[f32],
    params: &[f32],
    constraints: &[u32],
    sparse_gradients: bool,
) -> Vec<f32> {
    let p = params.len();
    (0..p)
        .map(|e| {
            let mut sum = 0.0f32;
            for seq in partials.chunks_exact(p) {
                sum += seq[e];
            }
            if masked(params[e], constraints[e], sparse_gradients) {
                0.0
            } else {
                sum
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_in_order_and_masks_the_diagonal_and_inactive_rewired_entries() {
        let (z, f, rp) = (
            Constraint::Zero as u32,
            Constraint::Free as u32,
            Constraint::RewiredPositive as u32,
        );
        let params = [0.0, 0.5, 0.0, 0.2];
        let c = [z, f, rp, rp];
        let partials = [1.0, 2.0, 3.0, 4.0, 10.0, 20.0, 30.0, 40.0];
        assert_eq!(
            batch_reduce(&partials, &params, &c, false),
            [0.0, 22.0, 33.0, 44.0]
        );
        assert_eq!(
            batch_reduce(&partials, &params, &c, true),
            [0.0, 22.0, 0.0, 44.0]
        );
    }
}
