//! Building a network from its config: per-neuron constants, delays, signs and the
//! initial weights of model.md §5. Seeded: the same config and seed give the same network.

use ndarray::{Array1, Array2};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::network::{Network, NeuronConstants, Params, Readout, SimConstants};
use crate::config::{Config, ReadoutKind};

/// Sign constraint of one trained scalar, applied after every optimiser step.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Constraint {
    Free = 0,
    NonNegative = 1,
    NonPositive = 2,
    /// Always zero (the recurrent diagonal: no autapses).
    Zero = 3,
}

/// Dale's-law signs (model.md §1): +1 excitatory, −1 inhibitory.
#[derive(Clone, Debug, PartialEq)]
pub struct DaleSigns {
    pub input: Vec<f32>,
    pub recurrent: Vec<f32>,
}

impl DaleSigns {
    /// Reference layout: the first n_rec − (⌊p·n_rec⌋ + 1) recurrent neurons are inhibitory
    /// (they must all be regular), the rest excitatory; input signs are a seeded shuffle of
    /// the same proportion.
    pub fn reference(n_in: usize, n_rec: usize, proportion: f32, rng: &mut ChaCha8Rng) -> Self {
        let n_inhibitory = |n: usize| n.saturating_sub((proportion * n as f32) as usize + 1);
        let rec_inh = n_inhibitory(n_rec);
        let recurrent = (0..n_rec)
            .map(|k| if k < rec_inh { -1.0 } else { 1.0 })
            .collect();
        let in_inh = n_inhibitory(n_in);
        let mut input: Vec<f32> = (0..n_in)
            .map(|i| if i < in_inh { -1.0 } else { 1.0 })
            .collect();
        input.shuffle(rng);
        DaleSigns { input, recurrent }
    }
}

/// Per-parameter constraints, flat in the layout of [`Params::to_flat`].
pub fn constraints(n_in: usize, n_rec: usize, n_out: usize, dale: Option<&DaleSigns>) -> Vec<u32> {
    let by_sign = |s: f32| {
        if s > 0.0 {
            Constraint::NonNegative
        } else {
            Constraint::NonPositive
        }
    };
    let mut c = Vec::with_capacity(n_in * n_rec + n_rec * n_rec + n_rec * n_out + n_out);
    for i in 0..n_in {
        for _ in 0..n_rec {
            c.push(dale.map_or(Constraint::Free, |d| by_sign(d.input[i])) as u32);
        }
    }
    for k in 0..n_rec {
        for j in 0..n_rec {
            let ck = if k == j {
                Constraint::Zero
            } else {
                dale.map_or(Constraint::Free, |d| by_sign(d.recurrent[k]))
            };
            c.push(ck as u32);
        }
    }
    for k in 0..n_rec {
        for _ in 0..n_out {
            c.push(dale.map_or(Constraint::Free, |d| by_sign(d.recurrent[k])) as u32);
        }
    }
    c.extend(std::iter::repeat_n(Constraint::Free as u32, n_out));
    c
}

/// Projects flat parameters onto their constraints (the twin of the clamp in `adam.wgsl`).
pub fn apply_constraints(params: &mut [f32], constraints: &[u32]) {
    for (w, &c) in params.iter_mut().zip(constraints) {
        *w = clamp_to(*w, c);
    }
}

pub fn clamp_to(w: f32, c: u32) -> f32 {
    match c {
        1 => w.max(0.0),
        2 => w.min(0.0),
        3 => 0.0,
        _ => w,
    }
}

/// The initial network and its sign constraints.
pub struct Initialised {
    pub network: Network,
    pub constraints: Vec<u32>,
    pub dale: Option<DaleSigns>,
}

fn normal(rng: &mut ChaCha8Rng) -> f32 {
    StandardNormal.sample(rng)
}

/// Estimates the spectral radius by Gelfand's formula ρ = lim ‖Wᵏ‖^(1/k), with k = 2^10 by
/// repeated squaring (renormalised to avoid overflow). For a random matrix the error is a
/// factor C^(1/k) with C of order 10, i.e. well under 1 %.
fn spectral_radius(w: &Array2<f32>) -> f64 {
    let mut m = w.mapv(|x| x as f64);
    let mut log_scale = 0.0f64; // log of the factor divided out so far, per power
    let mut power = 1.0f64;
    for _ in 0..10 {
        let norm = m.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm == 0.0 {
            return 0.0;
        }
        m.mapv_inplace(|x| x / norm);
        log_scale += norm.ln() / power;
        m = m.dot(&m);
        power *= 2.0;
    }
    let norm = m.iter().map(|x| x * x).sum::<f64>().sqrt();
    (log_scale + norm.ln() / power).exp()
}

/// Sign-constrained initialisation (model.md §5, dense): |N(0,1)| magnitudes with the
/// presynaptic signs, each postsynaptic column balanced to sum zero.
fn balanced_signed(rows: &[f32], n_post: usize, rng: &mut ChaCha8Rng) -> Array2<f32> {
    let n_pre = rows.len();
    let mut w = Array2::from_shape_fn((n_pre, n_post), |(k, _)| rows[k] * normal(rng).abs());
    for j in 0..n_post {
        let pos: f32 = w.column(j).iter().filter(|x| **x > 0.0).sum();
        let neg: f32 = -w.column(j).iter().filter(|x| **x < 0.0).sum::<f32>();
        if pos > 0.0 && neg > 0.0 {
            let f = pos / neg;
            w.column_mut(j)
                .mapv_inplace(|x| if x < 0.0 { x * f } else { x });
        }
    }
    w
}

/// Builds the network of `cfg` with `n_in` inputs and `n_out` classes.
pub fn initialise(cfg: &Config, n_in: usize, n_out: usize) -> Initialised {
    let m = &cfg.model;
    let n_rec = m.n_rec();
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.train.seed);

    let tau_a = Array1::from_shape_fn(n_rec, |j| match (j >= m.n_regular, m.tau_a_range) {
        (true, Some([lo, hi])) => rng.random_range(lo..=hi),
        _ => m.tau_a,
    });
    let neurons = NeuronConstants {
        tau_m: Array1::from_elem(n_rec, m.tau_m),
        tau_a,
        beta: Array1::from_shape_fn(n_rec, |j| if j >= m.n_regular { m.beta } else { 0.0 }),
        thr: Array1::from_elem(n_rec, m.thr),
    };
    let sim = SimConstants {
        dt: m.dt,
        dampening: m.dampening,
        n_ref: m.n_ref,
        n_delay: m.n_delay,
        tau_out: m.readout.tau_out,
        readout: match m.readout.kind {
            ReadoutKind::Window => Readout::Window(m.readout.window),
            ReadoutKind::Framewise => Readout::Framewise,
        },
        reg_coeff: cfg.train.reg_coeff,
        reg_rate_hz: cfg.train.reg_rate_hz,
        noise_std: m.noise_std,
    };
    let nd = m.n_delay;
    let delay_in = Array2::from_shape_fn((n_in, n_rec), |_| rng.random_range(0..nd));
    let delay_rec = Array2::from_shape_fn((n_rec, n_rec), |_| rng.random_range(0..nd));

    let dale = m
        .dale
        .as_ref()
        .map(|d| DaleSigns::reference(n_in, n_rec, d.proportion_excitatory, &mut rng));
    let mut params = Params::zeros(n_in, n_rec, n_out);
    match &dale {
        None => {
            let s_in = 1.0 / (n_in as f32).sqrt();
            let s_rec = 1.0 / (n_rec as f32).sqrt();
            params.w_in = Array2::from_shape_fn((n_in, n_rec), |_| normal(&mut rng) * s_in);
            params.w_rec = Array2::from_shape_fn((n_rec, n_rec), |_| normal(&mut rng) * s_rec);
        }
        Some(signs) => {
            // Scale the recurrent matrix to spectral radius 1 and the input matrix by the
            // same rule applied to its own columns (a simplification of the reference, which
            // takes columns of one square matrix).
            let mut w_rec = balanced_signed(&signs.recurrent, n_rec, &mut rng);
            for j in 0..n_rec {
                w_rec[[j, j]] = 0.0;
            }
            let r = spectral_radius(&w_rec);
            if r > 0.0 {
                w_rec.mapv_inplace(|x| (x as f64 / r) as f32);
            }
            params.w_rec = w_rec;
            let w_in = balanced_signed(&signs.input, n_rec, &mut rng);
            let s_in = 1.0 / (n_in as f32).sqrt();
            params.w_in = w_in.mapv(|x| x * s_in);
        }
    }
    for j in 0..n_rec {
        params.w_rec[[j, j]] = 0.0;
    }
    // Glorot uniform readout; with Dale's law, magnitudes take the presynaptic sign.
    let limit = (6.0 / (n_rec + n_out) as f32).sqrt();
    params.w_out = Array2::from_shape_fn((n_rec, n_out), |(k, _)| {
        let w: f32 = rng.random_range(-limit..=limit);
        dale.as_ref().map_or(w, |d| d.recurrent[k] * w.abs())
    });
    let constraints = constraints(n_in, n_rec, n_out, dale.as_ref());
    let mut flat = params.to_flat();
    apply_constraints(&mut flat, &constraints);
    let params = Params::from_flat(&flat, n_in, n_rec, n_out);

    Initialised {
        network: Network {
            sim,
            neurons,
            n_regular: m.n_regular,
            delay_in,
            delay_rec,
            params,
        },
        constraints,
        dale,
    }
}
