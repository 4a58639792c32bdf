//! Building a network from its config: per-neuron constants, delays, signs and the
//! initial weights of docs/model.md §5. Seeded: the same config and seed give the same network.

use ndarray::{Array1, Array2};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::deep_r::{DeepR, RewiredMatrix};
use super::network::{Network, NeuronConstants, Params, Readout, SimConstants};
use super::param_layout::{ParamBlock, ParamLayout};
use super::settings::{ModelConfig, ReadoutKind, RewiringConfig};

/// Sign constraint of one trained scalar, applied after every optimiser step.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Constraint {
    Free = 0,
    NonNegative = 1,
    NonPositive = 2,
    /// Always zero (the recurrent diagonal: no autapses).
    Zero = 3,
    /// DEEP R (docs/model.md §7): w = +θ, θ ≥ 0, rewired.
    RewiredPositive = 4,
    /// DEEP R: w = −θ, θ ≥ 0, rewired.
    RewiredNegative = 5,
}

impl Constraint {
    pub const ALL: [Constraint; 6] = [
        Constraint::Free,
        Constraint::NonNegative,
        Constraint::NonPositive,
        Constraint::Zero,
        Constraint::RewiredPositive,
        Constraint::RewiredNegative,
    ];

    /// The name of the code in the kernels (a generated WGSL `const`, `gpu::shader`).
    pub fn wgsl_name(self) -> &'static str {
        match self {
            Constraint::Free => "CONSTRAINT_FREE",
            Constraint::NonNegative => "CONSTRAINT_NON_NEGATIVE",
            Constraint::NonPositive => "CONSTRAINT_NON_POSITIVE",
            Constraint::Zero => "CONSTRAINT_ZERO",
            Constraint::RewiredPositive => "CONSTRAINT_REWIRED_POSITIVE",
            Constraint::RewiredNegative => "CONSTRAINT_REWIRED_NEGATIVE",
        }
    }

    /// `(WGSL name, code)` of every constraint, for the kernels' prelude.
    pub fn wgsl_consts() -> Vec<(&'static str, u32)> {
        Self::ALL
            .iter()
            .map(|&c| (c.wgsl_name(), c as u32))
            .collect()
    }

    /// The constraint of code `c`; None for a code no constraint has.
    pub fn from_code(c: u32) -> Option<Constraint> {
        Self::ALL.into_iter().find(|&k| k as u32 == c)
    }

    /// `w` projected onto constraint code `c` (an unknown code leaves `w` free, as the
    /// `default` case of adam.wgsl's switch does).
    pub fn clamp(w: f32, c: u32) -> f32 {
        match Self::from_code(c) {
            Some(Constraint::NonNegative | Constraint::RewiredPositive) => w.max(0.0),
            Some(Constraint::NonPositive | Constraint::RewiredNegative) => w.min(0.0),
            Some(Constraint::Zero) => 0.0,
            Some(Constraint::Free) | None => w,
        }
    }
}

/// Dale's-law signs (docs/model.md §1): +1 excitatory, −1 inhibitory.
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

/// Per-parameter constraints, flat in the layout of [`ParamLayout`].
pub fn constraints(n_in: usize, n_rec: usize, n_out: usize, dale: Option<&DaleSigns>) -> Vec<u32> {
    let by_sign = |s: f32| {
        if s > 0.0 {
            Constraint::NonNegative
        } else {
            Constraint::NonPositive
        }
    };
    let layout = ParamLayout::new(n_in, n_rec, n_out);
    let mut c = vec![Constraint::Free as u32; layout.len()];
    if let Some(d) = dale {
        // Dale's law: every outgoing weight of a neuron (or input) carries its sign.
        let (w_in, w_rec, w_out) = (layout.w_in(), layout.w_rec(), layout.w_out());
        for i in 0..n_in {
            for j in 0..n_rec {
                c[w_in.index(i, j)] = by_sign(d.input[i]) as u32;
            }
        }
        for k in 0..n_rec {
            for j in 0..n_rec {
                c[w_rec.index(k, j)] = by_sign(d.recurrent[k]) as u32;
            }
            for o in 0..n_out {
                c[w_out.index(k, o)] = by_sign(d.recurrent[k]) as u32;
            }
        }
    }
    // No autapses.
    for j in 0..n_rec {
        c[layout.w_rec().index(j, j)] = Constraint::Zero as u32;
    }
    c
}

/// The initial network and its sign constraints.
pub struct Initialised {
    pub network: Network,
    pub constraints: Vec<u32>,
    pub dale: Option<DaleSigns>,
    /// DEEP R settings when the config rewires (`rewiring:`), else None.
    pub rewiring: Option<DeepR>,
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

/// Sign-constrained initialisation (docs/model.md §5, dense): |N(0,1)| magnitudes with the
/// presynaptic signs, each postsynaptic column balanced to sum zero.
fn balanced_signed(rows: &[f32], n_post: usize, rng: &mut ChaCha8Rng) -> Array2<f32> {
    let n_pre = rows.len();
    let mut w = Array2::from_shape_fn((n_pre, n_post), |(k, _)| rows[k] * normal(rng).abs());
    balance_columns(&mut w);
    w
}

/// Scales the negative entries of each column so that the column sums to zero.
fn balance_columns(w: &mut Array2<f32>) {
    for j in 0..w.ncols() {
        let pos: f32 = w.column(j).iter().filter(|x| **x > 0.0).sum();
        let neg: f32 = -w.column(j).iter().filter(|x| **x < 0.0).sum::<f32>();
        if pos > 0.0 && neg > 0.0 {
            let f = pos / neg;
            w.column_mut(j)
                .mapv_inplace(|x| if x < 0.0 { x * f } else { x });
        }
    }
}

/// What the initialisation reads from an experiment: the `model:` and `rewiring:` sections,
/// `train.seed`, the steps per frame of a framewise or regression readout
/// (`task.steps_per_frame`) and the rate regularisation of M9 (`train.reg_coeff`,
/// `train.reg_rate_hz`). Built by `config::Config::init_settings`.
#[derive(Clone, Copy, Debug)]
pub struct InitSettings<'a> {
    pub model: &'a ModelConfig,
    pub rewiring: Option<&'a RewiringConfig>,
    pub seed: u64,
    pub steps_per_frame: usize,
    pub reg_coeff: f32,
    pub reg_rate_hz: f32,
}

/// Builds the network of `cfg` with `n_in` inputs and `n_out` classes.
pub fn initialise(cfg: &InitSettings, n_in: usize, n_out: usize) -> Initialised {
    let m = cfg.model;
    let n_rec = m.n_rec();
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);

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
            ReadoutKind::Framewise => Readout::Framewise(cfg.steps_per_frame),
            ReadoutKind::Regression => Readout::Regression(cfg.steps_per_frame),
        },
        reg_coeff: cfg.reg_coeff,
        reg_rate_hz: cfg.reg_rate_hz,
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
    let mut constraints = constraints(n_in, n_rec, n_out, dale.as_ref());
    let mut flat = params.to_flat();
    for (w, &c) in flat.iter_mut().zip(&constraints) {
        *w = Constraint::clamp(*w, c);
    }
    let rewiring = cfg.rewiring.map(|rw| {
        sparsify(
            &mut flat,
            &mut constraints,
            (n_in, n_rec, n_out),
            rw.connectivity,
            rw.rescale_survivors,
            &mut rng,
        );
        let budget = flat
            .iter()
            .zip(&constraints)
            .filter(|(w, &c)| **w != 0.0 && c >= Constraint::RewiredPositive as u32)
            .count() as u32;
        DeepR::new(
            rw.l1,
            rw.temperature,
            budget,
            rewired_matrices(n_in, n_rec, n_out),
            cfg.seed ^ 0xDEE9_0000_0000_0000,
        )
        .with_dense_gradients(rw.dense_gradients)
    });
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
        rewiring,
    }
}

/// W_in, W_rec, W_out in the flat layout of [`ParamLayout`].
pub fn rewired_matrices(n_in: usize, n_rec: usize, n_out: usize) -> [RewiredMatrix; 3] {
    let layout = ParamLayout::new(n_in, n_rec, n_out);
    let m = |b: ParamBlock, capacity: usize| RewiredMatrix {
        offset: b.offset as u32,
        rows: b.rows as u32,
        cols: b.cols as u32,
        capacity: capacity as u32,
    };
    [
        m(layout.w_in(), n_in * n_rec),
        // Without its diagonal (no autapses).
        m(layout.w_rec(), n_rec * (n_rec - 1)),
        m(layout.w_out(), n_rec * n_out),
    ]
}

/// The sparse start of a DEEP R run (docs/model.md §5): every weight of W_in, W_rec (off the
/// diagonal) and W_out gets a fixed sign (Dale's law: the sign the dense start already
/// carries; without it, the dense start's random sign) and a rewired constraint code; then
/// exactly K = ⌊Σ_k capacity_k·p⌋ positions stay active, spread over the matrices by largest
/// remainder and chosen uniformly within each; the survivors keep their dense values
/// (docs/model.md §5: scaled, then masked). With `rescale` (ours, `rewiring.rescale_survivors`)
/// they are scaled by 1/√p so each neuron's input keeps its variance, and with Dale's law the
/// columns of W_rec are re-balanced and W_rec rescaled to spectral radius 1, as the dense
/// start.
fn sparsify(
    flat: &mut [f32],
    constraints: &mut [u32],
    (n_in, n_rec, n_out): (usize, usize, usize),
    p: f32,
    rescale: bool,
    rng: &mut ChaCha8Rng,
) {
    let matrices = rewired_matrices(n_in, n_rec, n_out);
    let dale = constraints[ParamLayout::new(n_in, n_rec, n_out).w_in().range()]
        .iter()
        .any(|&c| c == Constraint::NonNegative as u32 || c == Constraint::NonPositive as u32);
    for m in &matrices {
        let lo = m.offset as usize;
        for e in lo..lo + (m.rows * m.cols) as usize {
            if constraints[e] == Constraint::Zero as u32 {
                continue;
            }
            let negative = match Constraint::from_code(constraints[e]) {
                Some(Constraint::NonPositive) => true,
                Some(Constraint::NonNegative) => false,
                _ => flat[e] < 0.0,
            };
            constraints[e] = if negative {
                Constraint::RewiredNegative as u32
            } else {
                Constraint::RewiredPositive as u32
            };
        }
    }
    // Exact budget: ⌊Σ capacity·p⌋, per matrix by largest remainder.
    let quotas: Vec<f64> = matrices
        .iter()
        .map(|m| m.capacity as f64 * p as f64)
        .collect();
    let budget = quotas.iter().sum::<f64>().floor() as usize;
    let mut counts: Vec<usize> = quotas.iter().map(|q| q.floor() as usize).collect();
    let mut order: Vec<usize> = (0..3).collect();
    order.sort_by(|&a, &b| {
        (quotas[b] - quotas[b].floor()).total_cmp(&(quotas[a] - quotas[a].floor()))
    });
    for &k in order
        .iter()
        .cycle()
        .take(budget - counts.iter().sum::<usize>())
    {
        counts[k] += 1;
    }
    let scale = if rescale { 1.0 / p.sqrt() } else { 1.0 };
    for (m, &count) in matrices.iter().zip(&counts) {
        let lo = m.offset as usize;
        let mut free: Vec<usize> = (lo..lo + (m.rows * m.cols) as usize)
            .filter(|&e| constraints[e] != Constraint::Zero as u32)
            .collect();
        free.shuffle(rng);
        for &e in &free[count..] {
            flat[e] = 0.0;
        }
        for &e in &free[..count] {
            // A weight the dense start left at exactly 0 still needs θ > 0 to be active.
            let sign = if constraints[e] == Constraint::RewiredNegative as u32 {
                -1.0
            } else {
                1.0
            };
            flat[e] = sign * (flat[e].abs() * scale).max(1e-6);
        }
    }
    if dale && rescale {
        let rec = &matrices[1];
        let lo = rec.offset as usize;
        let mut w = Array2::from_shape_vec((n_rec, n_rec), flat[lo..lo + n_rec * n_rec].to_vec())
            .expect("W_rec shape");
        balance_columns(&mut w);
        let r = spectral_radius(&w);
        if r > 0.0 {
            w.mapv_inplace(|x| (x as f64 / r) as f32);
        }
        flat[lo..lo + n_rec * n_rec].copy_from_slice(w.as_slice().expect("standard layout"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, DaleConfig, RewiringConfig};

    fn config(rewiring: Option<RewiringConfig>) -> Config {
        let mut cfg: Config = serde_yaml_ng::from_str("{}").unwrap();
        cfg.model.n_regular = 60;
        cfg.model.n_adaptive = 40;
        cfg.model.dale = Some(DaleConfig {
            proportion_excitatory: 0.8,
        });
        cfg.train.seed = 7;
        cfg.rewiring = rewiring;
        cfg
    }

    fn sparse(rescale: bool) -> RewiringConfig {
        RewiringConfig {
            connectivity: 0.12,
            rescale_survivors: rescale,
            ..Default::default()
        }
    }

    fn is_rewired(c: u32) -> bool {
        c == Constraint::RewiredPositive as u32 || c == Constraint::RewiredNegative as u32
    }

    #[test]
    fn sparse_start_is_the_dense_start_masked_to_the_budget() {
        let (n_in, n_out) = (30, 5);
        let dense = initialise(&config(None).init_settings(), n_in, n_out);
        let masked = initialise(&config(Some(sparse(false))).init_settings(), n_in, n_out);
        let (d, s) = (
            dense.network.params.to_flat(),
            masked.network.params.to_flat(),
        );
        let capacity: u32 = rewired_matrices(n_in, 100, n_out)
            .iter()
            .map(|m| m.capacity)
            .sum();
        let budget = (capacity as f64 * 0.12f32 as f64).floor() as usize;
        let mut active = 0;
        for (e, (&dv, &sv)) in d.iter().zip(&s).enumerate() {
            if !is_rewired(masked.constraints[e]) {
                continue;
            }
            if sv != 0.0 {
                active += 1;
                // docs/model.md §5: scaled (with the dense start), then masked: a survivor keeps
                // its dense value (a dense zero becomes the smallest active magnitude).
                if dv != 0.0 {
                    assert_eq!(sv, dv, "entry {e}");
                } else {
                    assert_eq!(sv.abs(), 1e-6, "entry {e}");
                }
            }
        }
        assert_eq!(active, budget);
        // The diagonal is never rewired (no autapses).
        let w_rec = &masked.network.params.w_rec;
        assert!((0..100).all(|j| w_rec[[j, j]] == 0.0));
    }

    #[test]
    fn rescaled_sparse_start_keeps_spectral_radius_one_and_balanced_columns() {
        let init = initialise(&config(Some(sparse(true))).init_settings(), 30, 5);
        let w_rec = &init.network.params.w_rec;
        let r = spectral_radius(w_rec);
        assert!((r - 1.0).abs() < 1e-3, "spectral radius {r}");
        let mut balanced = 0;
        for j in 0..w_rec.ncols() {
            let col = w_rec.column(j);
            // A column whose survivors all share a sign cannot be balanced.
            if !(col.iter().any(|&x| x > 0.0) && col.iter().any(|&x| x < 0.0)) {
                continue;
            }
            balanced += 1;
            let sum: f32 = col.sum();
            let mass: f32 = col.iter().map(|x| x.abs()).sum();
            assert!(
                sum.abs() <= 1e-5 * mass.max(1e-6),
                "column {j} sums to {sum}"
            );
        }
        assert!(balanced > 50, "only {balanced} columns with both signs");
        // Masked as specified, the same matrix has a radius well below 1 (≈ √p for a random
        // matrix): the two options differ where they should.
        let plain = initialise(&config(Some(sparse(false))).init_settings(), 30, 5);
        let r_plain = spectral_radius(&plain.network.params.w_rec);
        assert!(r_plain < 0.7, "masked start's spectral radius {r_plain}");
    }
}
