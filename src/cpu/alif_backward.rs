//! Reference BPTT, the recurrences B1–B7 of docs/model.md §3b: the twin of
//! `shaders/alif_backward.wgsl` (recurrent sweep) and `shaders/readout_loss.wgsl` (readout part).

use ndarray::{Array1, Array2, Array3};

use super::alif_forward::{ForwardTrace, ParamsOf};
use super::readout_loss::LossOutput;
use super::real::Real;
use crate::model::{Network, ParamLayout, Readout, Targets, Tensor};

/// Gradients of the total loss with respect to the effective weights.
#[derive(Clone, Debug)]
pub struct Gradients<S> {
    pub w_in: Array2<S>,
    pub w_rec: Array2<S>,
    pub w_out: Array2<S>,
    pub b_out: Array1<S>,
}

impl<S: Copy> Gradients<S> {
    /// Flat in the layout of [`crate::model::Params::to_flat`].
    pub fn to_flat(&self) -> Vec<S> {
        let layout = ParamLayout::new(self.w_in.nrows(), self.w_rec.nrows(), self.w_out.ncols());
        let mut v = Vec::with_capacity(layout.len());
        for block in layout.blocks() {
            match block.tensor {
                Tensor::WIn => v.extend(self.w_in.iter()),
                Tensor::WRec => v.extend(self.w_rec.iter()),
                Tensor::WOut => v.extend(self.w_out.iter()),
                Tensor::BOut => v.extend(self.b_out.iter()),
            }
        }
        v
    }
}

/// δy_t for each step and sequence, [T, B, n_out] (zero where the loss does not read y_t):
/// what readout_loss.wgsl leaves in the readout buffer for alif_backward.wgsl.
pub fn output_errors<S: Real>(
    net: &Network,
    loss: &LossOutput<S>,
    targets: &Targets,
    t_len: usize,
    batch: usize,
) -> Array3<S> {
    let n_out = net.n_out();
    let mut dy = Array3::from_elem((t_len, batch, n_out), S::zero());
    match (net.sim.readout, targets) {
        (Readout::Window(k), Targets::Labels(labels)) => {
            // logits = mean of the last K y_t: δy_t = (softmax − onehot)/(B·K) there.
            let scale = S::from_f64(1.0 / (batch * k) as f64);
            for bi in 0..batch {
                for o in 0..n_out {
                    let onehot = if labels[bi] as usize == o {
                        S::one()
                    } else {
                        S::zero()
                    };
                    let g = (loss.probs[[0, bi, o]] - onehot) * scale;
                    for ti in t_len - k..t_len {
                        dy[[ti, bi, o]] = g;
                    }
                }
            }
        }
        (Readout::Framewise(k), Targets::FrameLabels(labels)) => {
            // Frame logits = mean of y_t over its k steps: each step gets δ/k.
            let scale = S::from_f64(1.0 / (loss.scored.max(1) * k) as f64);
            for f in 0..t_len / k {
                for bi in 0..batch {
                    let label = labels[[f * k + k - 1, bi]];
                    if label < 0 {
                        continue;
                    }
                    for o in 0..n_out {
                        let onehot = if label as usize == o {
                            S::one()
                        } else {
                            S::zero()
                        };
                        let g = (loss.probs[[f, bi, o]] - onehot) * scale;
                        for ti in f * k..(f + 1) * k {
                            dy[[ti, bi, o]] = g;
                        }
                    }
                }
            }
        }
        (Readout::Regression(k), Targets::FrameValues(values)) => {
            // L = Σ (y_f − target)² / (n_scored · n_out), y_f the mean of y_t over the frame.
            let scale = S::from_f64(2.0 / (loss.scored.max(1) * n_out * k) as f64);
            for f in 0..t_len / k {
                for bi in 0..batch {
                    let last = f * k + k - 1;
                    if !values[[last, bi, 0]].is_finite() {
                        continue;
                    }
                    for o in 0..n_out {
                        let target = S::from_f64(values[[last, bi, o]] as f64);
                        let g = (loss.probs[[f, bi, o]] - target) * scale;
                        for ti in f * k..(f + 1) * k {
                            dy[[ti, bi, o]] = g;
                        }
                    }
                }
            }
        }
        (readout, _) => panic!("targets do not match the {readout:?} readout"),
    }
    dy
}

/// BPTT through readout, regulariser and the recurrent population (B1–B7).
pub fn alif_backward<S: Real>(
    net: &Network,
    params: &ParamsOf<S>,
    x: &Array3<f32>,
    trace: &ForwardTrace<S>,
    loss: &LossOutput<S>,
    targets: &Targets,
) -> Gradients<S> {
    let (t_len, batch, n) = trace.z.dim();
    let n_in = net.n_in();
    let n_out = net.n_out();
    let sim = &net.sim;
    let dt = S::from_f64(sim.dt as f64);
    let inv_dt = S::from_f64(1.0 / sim.dt as f64);
    let gamma = sim.dampening as f64;
    let kappa = S::from_f64(sim.kappa() as f64);
    let alpha = net.neurons.alpha(sim.dt);
    let rho = net.neurons.rho(sim.dt);
    let beta = &net.neurons.beta;
    let sf = |v: f32| S::from_f64(v as f64);

    let dy = output_errors(net, loss, targets, t_len, batch);
    let mut g = Gradients {
        w_in: Array2::from_elem((n_in, n), S::zero()),
        w_rec: Array2::from_elem((n, n), S::zero()),
        w_out: Array2::from_elem((n, n_out), S::zero()),
        b_out: Array1::from_elem(n_out, S::zero()),
    };

    // Readout: ∂W_out = Σ p_tᵀ·δy_t, ∂b_out = Σ δy_t.
    for ti in 0..t_len {
        for bi in 0..batch {
            for o in 0..n_out {
                let d = dy[[ti, bi, o]];
                g.b_out[o] += d;
                for j in 0..n {
                    g.w_out[[j, o]] += loss.trace_out[[ti, bi, j]] * d;
                }
            }
        }
    }

    // M9: ∂L_reg/∂z_t[b, j] = 2c(r̄_j − f0)/(B·T), the same for every step and sequence.
    let f0 = S::from_f64(sim.reg_rate_per_ms() as f64);
    let reg_scale = S::from_f64(2.0 * sim.reg_coeff as f64 / (batch * t_len) as f64);
    let dz_reg: Vec<S> = (0..n).map(|j| reg_scale * (loss.rates[j] - f0)).collect();

    for bi in 0..batch {
        // dz_later[ti][k]: what later steps sent back to z_t (B6, B7), indexed by step t − 1.
        let mut dz_later = vec![vec![S::zero(); n]; t_len];
        // δI_t for every step (read back through the delays by B6).
        let mut d_current = vec![vec![S::zero(); n]; t_len];
        let mut dv_next = vec![S::zero(); n]; // δv_{t+1}
        let mut du_next = vec![S::zero(); n]; // δu_{t+1}
        let mut thr_next = vec![S::one(); n]; // A_{t+1}
        let mut db_next = vec![S::zero(); n]; // δb_{t+1}
        let mut dp_next = vec![S::zero(); n]; // δp_{t+1}

        for t in (1..=t_len).rev() {
            let ti = t - 1;
            for j in 0..n {
                // Readout trace: δp_t = δy_t·W_outᵀ + κ·δp_{t+1}.
                let mut dp = kappa * dp_next[j];
                for o in 0..n_out {
                    dp += dy[[ti, bi, o]] * params.w_out[[j, o]];
                }
                dp_next[j] = dp;
                // B1.
                let dz = (S::one() - kappa) * dp + dz_reg[j] + dz_later[ti][j];
                // B2: the spike z_t = H(u_t)/dt, u_t = (v_{t−1} − A_t)/A_t.
                let thr_t = trace.thr_adaptive[[ti, bi, j]];
                let v_prev = trace.v_prev[[ti, bi, j]];
                let u = (v_prev - thr_t) / thr_t;
                let du = if trace.refractory[[ti, bi, j]] {
                    S::zero()
                } else {
                    let psi = (1.0 - u.value().abs()).max(0.0) * gamma;
                    dz * S::from_f64(psi) * inv_dt
                };
                // B3.
                let dv = sf(alpha[j]) * dv_next[j] + du_next[j] / thr_next[j];
                // B4.
                let z_prev = if ti > 0 {
                    trace.z[[ti - 1, bi, j]]
                } else {
                    S::zero()
                };
                let d_thr = -du * v_prev / (thr_t * thr_t) - z_prev * dt * dv;
                // B5.
                let db = sf(rho[j]) * db_next[j] + sf(beta[j]) * d_thr;
                // B6 (first part).
                d_current[ti][j] = (S::one() - sf(alpha[j])) * dv;
                // B7.
                if ti > 0 {
                    dz_later[ti - 1][j] += -thr_t * dt * dv + (S::one() - sf(rho[j])) * db;
                }
                dv_next[j] = dv;
                du_next[j] = du;
                thr_next[j] = thr_t;
                db_next[j] = db;
            }
            // B6: every synapse routes δI_t back to its source, through its delay.
            for j in 0..n {
                let di = d_current[ti][j];
                for i in 0..n_in {
                    let d = net.delay_in[[i, j]] as usize;
                    if t > d {
                        // x_{t−d} reached I_t.
                        let xv = x[[t - d - 1, bi, i]];
                        if xv != 0.0 {
                            g.w_in[[i, j]] += sf(xv) * di;
                        }
                    }
                }
                for k in 0..n {
                    let d = net.delay_rec[[k, j]] as usize;
                    if t > d + 1 {
                        // z_{t−1−d} reached I_t.
                        let s = t - 1 - d;
                        g.w_rec[[k, j]] += trace.z[[s - 1, bi, k]] * di;
                        dz_later[s - 1][k] += params.w_rec[[k, j]] * di;
                    }
                }
            }
        }
    }
    // No autapses: the diagonal is not a parameter.
    for j in 0..n {
        g.w_rec[[j, j]] = S::zero();
    }
    g
}
