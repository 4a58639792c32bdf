//! Reference DEEP R refill, R5 of docs/model.md §7: the twin of `shaders/deep_r_refill.wgsl`.

use super::deep_r::rewired_sign;
use super::philox::{below, key_of, philox4x32_10};
use crate::model::deep_r::{DeepR, RewireStats, REFILL_THETA, STREAM_REFILL};

/// R5: places `budget − Σ active` connections at uniformly random inactive positions with
/// θ = 1e-12. Draw a (from 0) is Philox(step, STREAM_REFILL, a): word 0 picks the matrix
/// ∝ capacity, word 1 the position in it; a draw that hits a full matrix, a diagonal or an
/// active position is rejected (rejection keeps the placement uniform over the free
/// positions). Updates `stats.active`; returns the number of draws made.
pub fn refill(
    params: &mut [f32],
    constraints: &[u32],
    d: &DeepR,
    step: u32,
    stats: &mut RewireStats,
) -> u32 {
    let key = key_of(d.seed);
    let total: u32 = stats.active.iter().sum();
    let missing = d.budget.saturating_sub(total);
    let (mut placed, mut draws) = (0u32, 0u32);
    while placed < missing {
        let r = philox4x32_10([step, STREAM_REFILL, draws, 0], key);
        draws += 1;
        let k = d.matrix_of_word(r[0]);
        let m = &d.matrices[k];
        if stats.active[k] >= m.capacity {
            continue;
        }
        let e = (m.offset + below(r[1], m.rows * m.cols)) as usize;
        let Some(s) = rewired_sign(constraints[e]) else {
            continue;
        };
        if params[e] != 0.0 {
            continue;
        }
        params[e] = s * REFILL_THETA;
        stats.active[k] += 1;
        placed += 1;
    }
    draws
}
