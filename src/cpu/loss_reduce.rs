//! Reference batch totals of the firing-rate regulariser, M9: the twin of the rates and
//! L_reg of `shaders/loss_reduce.wgsl` (which also sums the per-sequence task losses that
//! `readout_loss.rs` computes).

use ndarray::{Array1, Array3};

use super::real::Real;
use crate::model::Network;

/// M9: r̄_j = mean of z [T, B, N] over batch and time (spikes per ms); L_reg = c·Σ_j (r̄_j − f0)².
pub fn rates_and_regulariser<S: Real>(z: &Array3<S>, net: &Network) -> (Array1<S>, S) {
    let (t_len, batch, n) = z.dim();
    let f0 = S::from_f64(net.sim.reg_rate_per_ms() as f64);
    let inv_bt = S::from_f64(1.0 / (batch * t_len) as f64);
    let mut rates = Array1::from_elem(n, S::zero());
    let mut loss_reg = S::zero();
    for j in 0..n {
        let mut sum = S::zero();
        for ti in 0..t_len {
            for bi in 0..batch {
                sum += z[[ti, bi, j]];
            }
        }
        rates[j] = sum * inv_bt;
        let e = rates[j] - f0;
        loss_reg += e * e;
    }
    loss_reg = S::from_f64(net.sim.reg_coeff as f64) * loss_reg;
    (rates, loss_reg)
}
