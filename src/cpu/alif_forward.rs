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
    /// The state after step T, from which a later pass can continue ([`alif_forward_from`]).
    pub end: ForwardState<S>,
}

/// The population's state between two steps, per sequence b and neuron j: what a forward
/// pass that continues an earlier one starts from (the GPU keeps the same in its `state`
/// buffer and the spike bits of the last step).
#[derive(Clone, Debug, PartialEq)]
pub struct ForwardState<S> {
    /// z_{t−1} [B, N].
    pub z_prev: Array2<S>,
    /// v_{t−1} [B, N].
    pub v: Array2<S>,
    /// b_{t−1} [B, N].
    pub b: Array2<S>,
    /// Steps of refractoriness left [B, N]: n_ref after a spike, then one less per step (M5).
    pub refractory_left: Array2<u32>,
    /// Input current already scheduled for the coming steps by the delays (M1),
    /// [B, n_delay, N] indexed by step % n_delay.
    pub ring: Array3<S>,
}

impl<S: Real> ForwardState<S> {
    /// Everything zero: the state before step 1 (docs/model.md §2).
    pub fn zeros(batch: usize, n_rec: usize, n_delay: usize) -> ForwardState<S> {
        ForwardState {
            z_prev: Array2::from_elem((batch, n_rec), S::zero()),
            v: Array2::from_elem((batch, n_rec), S::zero()),
            b: Array2::from_elem((batch, n_rec), S::zero()),
            refractory_left: Array2::zeros((batch, n_rec)),
            ring: Array3::from_elem((batch, n_delay, n_rec), S::zero()),
        }
    }
}

impl<S> ForwardTrace<S> {
    pub fn steps(&self) -> usize {
        self.z.shape()[0]
    }
}

/// Simulates the recurrent population for every sequence of the batch, from the zero state.
///
/// `x` is [T, B, n_in]. `noise_seed` keys the counter-based noise of M1 (ignored when σ = 0).
pub fn alif_forward<S: Real>(
    net: &Network,
    params: &ParamsOf<S>,
    x: &Array3<f32>,
    noise_seed: u32,
) -> ForwardTrace<S> {
    let start = ForwardState::zeros(x.dim().1, net.n_rec(), net.sim.n_delay as usize);
    alif_forward_from(net, params, x, noise_seed, &start)
}

/// [`alif_forward`] continuing from `start` (the `end` of an earlier pass): the steps of `x`
/// are numbered 1…T again, which only matters for the noise of M1 (keyed by the step).
pub fn alif_forward_from<S: Real>(
    net: &Network,
    params: &ParamsOf<S>,
    x: &Array3<f32>,
    noise_seed: u32,
    start: &ForwardState<S>,
) -> ForwardTrace<S> {
    let (t_len, batch, n_in) = x.dim();
    let n = net.n_rec();
    assert_eq!(
        start.v.dim(),
        (batch, n),
        "the start state does not match the batch"
    );
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
        end: start.clone(),
    };

    for bi in 0..batch {
        // State entering step t: z_{t−1}, v_{t−1}, b_{t−1} (all zero at t = 1 of a fresh
        // pass, docs/model.md §2).
        let mut z_prev = start.z_prev.row(bi).to_vec();
        let mut v = start.v.row(bi).to_vec();
        let mut b = start.b.row(bi).to_vec();
        // Steps of refractoriness left (R_t = left > 0): n_ref after a spike, as the kernel.
        let mut refractory_left = start.refractory_left.row(bi).to_vec();
        // ring[s % n_delay][j] accumulates the input current of step s (M1).
        let mut ring: Vec<Vec<S>> = (0..n_delay)
            .map(|d| start.ring.slice(ndarray::s![bi, d, ..]).to_vec())
            .collect();

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
                let refractory = refractory_left[j] > 0;
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
                refractory_left[j] = if z_t.value() != 0.0 {
                    sim.n_ref
                } else {
                    refractory_left[j].saturating_sub(1)
                };
                v[j] = v_t;
                b[j] = b_t;
            }
            for j in 0..n {
                z_prev[j] = tr.z[[ti, bi, j]];
            }
        }
        for j in 0..n {
            tr.v_last[[bi, j]] = v[j];
            tr.end.z_prev[[bi, j]] = z_prev[j];
            tr.end.v[[bi, j]] = v[j];
            tr.end.b[[bi, j]] = b[j];
            tr.end.refractory_left[[bi, j]] = refractory_left[j];
            for (d, slot) in ring.iter().enumerate() {
                tr.end.ring[[bi, d, j]] = slot[j];
            }
        }
    }
    tr
}
