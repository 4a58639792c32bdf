//! Reference forward pass, M1–M6: the twin of `shaders/alif_forward.wgsl`.

use ndarray::{Array1, Array2, Array3};

use super::noise::noise_normal;
use super::real::Real;
use crate::model::{Network, Params};

/// Parameters in the scalar type of the computation (f32, f64 or dual numbers).
#[derive(Clone, Debug)]
pub struct ParamsOf<S> {
    pub w_in: Array2<S>,
    pub w_rec: Array2<S>,
    pub w_out: Array2<S>,
    pub b_out: Array1<S>,
}

impl<S: Real> ParamsOf<S> {
    pub fn from_params(p: &Params) -> ParamsOf<S> {
        let c = |x: &f32| S::from_f64(*x as f64);
        ParamsOf {
            w_in: p.w_in.map(c),
            w_rec: p.w_rec.map(c),
            w_out: p.w_out.map(c),
            b_out: p.b_out.map(c),
        }
    }
}

/// What the forward pass produces, per step t = 1…T (stored at index t − 1), batch b, neuron j.
#[derive(Clone, Debug)]
pub struct ForwardTrace<S> {
    /// z_t: 0 or 1/dt (M5).
    pub z: Array3<S>,
    /// v_{t−1}: the voltage the spike of step t is computed from (M5).
    pub v_prev: Array3<S>,
    /// A_t = thr + β·b_t (M3).
    pub thr_adaptive: Array3<S>,
    /// b_t (M2).
    pub b: Array3<S>,
    /// R_t: the neuron spiked within the last n_ref steps, so z_t is forced to 0 (M5).
    pub refractory: Array3<bool>,
    /// v_T, the voltage after the last step (not needed by BPTT; for inspection).
    pub v_last: Array2<S>,
}

impl<S> ForwardTrace<S> {
    pub fn steps(&self) -> usize {
        self.z.shape()[0]
    }
}

/// Simulates the recurrent population for every sequence of the batch.
///
/// `x` is [T, B, n_in]. `noise_seed` keys the counter-based noise of M1 (ignored when σ = 0).
pub fn alif_forward<S: Real>(
    net: &Network,
    params: &ParamsOf<S>,
    x: &Array3<f32>,
    noise_seed: u32,
) -> ForwardTrace<S> {
    let (t_len, batch, n_in) = x.dim();
    let n = net.n_rec();
    assert_eq!(n_in, net.n_in(), "input width does not match the network");
    let sim = &net.sim;
    let dt = sim.dt as f64;
    let n_delay = sim.n_delay as usize;
    let alpha = net.neurons.alpha(sim.dt);
    let rho = net.neurons.rho(sim.dt);
    let sf = |v: f32| S::from_f64(v as f64);

    let shape = (t_len, batch, n);
    let mut tr = ForwardTrace {
        z: Array3::from_elem(shape, S::zero()),
        v_prev: Array3::from_elem(shape, S::zero()),
        thr_adaptive: Array3::from_elem(shape, S::zero()),
        b: Array3::from_elem(shape, S::zero()),
        refractory: Array3::from_elem(shape, false),
        v_last: Array2::from_elem((batch, n), S::zero()),
    };

    for bi in 0..batch {
        // State entering step t: z_{t−1}, v_{t−1}, b_{t−1}; all zero at t = 1 (model.md §2).
        let mut z_prev = vec![S::zero(); n];
        let mut v = vec![S::zero(); n];
        let mut b = vec![S::zero(); n];
        // Step of each neuron's last spike (None = never): gives R_t.
        let mut last_spike: Vec<Option<usize>> = vec![None; n];
        // ring[s % n_delay][j] accumulates the input current of step s (M1).
        let mut ring = vec![vec![S::zero(); n]; n_delay];

        for t in 1..=t_len {
            let ti = t - 1;
            // M1: x_t reaches I_{t+d}; z_{t−1} reaches I_{(t−1)+1+d} = I_{t+d}.
            for i in 0..n_in {
                let xv = x[[ti, bi, i]];
                if xv != 0.0 {
                    for j in 0..n {
                        let d = net.delay_in[[i, j]] as usize;
                        ring[(t + d) % n_delay][j] += sf(xv) * params.w_in[[i, j]];
                    }
                }
            }
            // No skipping of silent neurons here: with dual numbers a silent z_{t−1} still
            // carries the pseudo-derivative (M6), and that path must reach I.
            for k in 0..n {
                for j in 0..n {
                    let d = net.delay_rec[[k, j]] as usize;
                    ring[(t + d) % n_delay][j] += z_prev[k] * params.w_rec[[k, j]];
                }
            }
            let slot = t % n_delay;
            for j in 0..n {
                let mut current = ring[slot][j];
                ring[slot][j] = S::zero();
                if sim.noise_std > 0.0 {
                    let e = noise_normal(noise_seed, t as u32, bi as u32, j as u32);
                    current += sf(sim.noise_std * e);
                }
                let a_j = sf(alpha[j]);
                let r_j = sf(rho[j]);
                // M2, M3.
                let b_t = r_j * b[j] + (S::one() - r_j) * z_prev[j];
                let thr_t = sf(net.neurons.thr[j]) + sf(net.neurons.beta[j]) * b_t;
                // M5: from the previous voltage; refractory neurons are silenced.
                let refractory =
                    sim.n_ref > 0 && last_spike[j].is_some_and(|s| t - s <= sim.n_ref as usize);
                let u = (v[j] - thr_t) / thr_t;
                let z_t = if refractory {
                    S::zero()
                } else {
                    S::spike(u, sim.dampening as f64, 1.0 / dt)
                };
                // M4: reset by the current adaptive threshold, for the previous step's spike.
                let v_t =
                    a_j * v[j] + (S::one() - a_j) * current - thr_t * z_prev[j] * S::from_f64(dt);

                tr.v_prev[[ti, bi, j]] = v[j];
                tr.b[[ti, bi, j]] = b_t;
                tr.thr_adaptive[[ti, bi, j]] = thr_t;
                tr.refractory[[ti, bi, j]] = refractory;
                tr.z[[ti, bi, j]] = z_t;
                if z_t.value() != 0.0 {
                    last_spike[j] = Some(t);
                }
                v[j] = v_t;
                b[j] = b_t;
            }
            for j in 0..n {
                z_prev[j] = tr.z[[ti, bi, j]];
            }
        }
        for j in 0..n {
            tr.v_last[[bi, j]] = v[j];
        }
    }
    tr
}
