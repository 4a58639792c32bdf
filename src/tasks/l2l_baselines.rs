//! Baselines of the learning-to-learn experiment (`docs/experiments.md` §3; the
//! paper's Fig. 2E/F): what the LSNN's prediction error over an episode is compared with.
//!
//! The LSNN predicts the target of pair t having seen pairs 0..t (their inputs and targets) and
//! the inputs of pair t, with no weight change inside an episode. The baselines answer "how
//! good is that?":
//! - (a) [`optimal_linear`]: the best linear function y ≈ a·x1 + b·x2 + c of the whole task,
//!   fitted by least squares to *all* pairs of the episode, i.e. knowing the future. The paper's
//!   headline: after training, the LSNN's MSE on new TNs is clearly below this line.
//! - (b) [`online_linear`]: the same regressor fitted only to the pairs seen so far, predicting
//!   the next one: what a learner that assumes a linear task achieves online.
//! - (c) [`backprop_fresh_net`]: a fresh network of the target networks' own architecture
//!   (2-10-1, sigmoid) trained by gradient descent on the pairs seen so far: a learner that
//!   knows the architecture of the family but not the distribution of its weights (which the
//!   LSNN has absorbed in the outer loop).
//!
//! All three return squared errors per pair so that they can be drawn beside the LSNN's per-pair
//! error curve; everything is deterministic given its inputs and RNG.
//!
//! Least squares is solved on centred data (Welford co-moments, numerically stable to
//! accumulate pair by pair) with the 2 × 2 slope system inverted through its eigen-
//! decomposition, dropping directions whose eigenvalue is below 1e-10 of the largest (a
//! pseudo-inverse): a family with a constant input (x2 ≡ 0 for sines) or an episode whose
//! inputs are collinear gets the minimum-norm slopes instead of a division by zero, and a
//! well-posed fit is exact to rounding (no ridge bias).

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

use super::l2l_family::{sigmoid, TargetNetwork, TaskFamily, TN_HIDDEN, TN_INPUTS};

/// A linear regressor with intercept: y ≈ a·x1 + b·x2 + c.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LinearFit {
    pub a: f64,
    pub b: f64,
    pub c: f64,
}

impl LinearFit {
    pub fn predict(&self, x: [f64; 2]) -> f64 {
        self.a * x[0] + self.b * x[1] + self.c
    }
}

/// Eigenvalues below this fraction of the largest are treated as 0 in the slope system.
const RELATIVE_CUTOFF: f64 = 1e-10;

/// Sufficient statistics of a least-squares fit, updated one pair at a time (Welford): means
/// and centred co-moments Σ(x − x̄)(x − x̄)ᵀ, Σ(x − x̄)(y − ȳ).
#[derive(Clone, Copy, Debug, Default)]
struct LeastSquares {
    n: usize,
    mean_x: [f64; 2],
    mean_y: f64,
    cxx: [[f64; 2]; 2],
    cxy: [f64; 2],
}

impl LeastSquares {
    fn add(&mut self, x: [f64; 2], y: f64) {
        self.n += 1;
        let n = self.n as f64;
        let dx = [x[0] - self.mean_x[0], x[1] - self.mean_x[1]];
        let dy = y - self.mean_y;
        let f = (n - 1.0) / n;
        for i in 0..2 {
            self.mean_x[i] += dx[i] / n;
            for j in 0..2 {
                self.cxx[i][j] += f * dx[i] * dx[j];
            }
            self.cxy[i] += f * dx[i] * dy;
        }
        self.mean_y += dy / n;
    }

    /// The least-squares fit (minimum-norm slopes where the inputs do not determine them; the
    /// mean target with zero slopes for a single pair).
    fn solve(&self) -> LinearFit {
        let [a, b] = pinv_sym2(self.cxx, self.cxy);
        LinearFit {
            a,
            b,
            c: self.mean_y - a * self.mean_x[0] - b * self.mean_x[1],
        }
    }
}

/// Solves m·w = v for a symmetric positive semi-definite 2 × 2 m by its eigendecomposition,
/// dropping eigenvalues ≤ `RELATIVE_CUTOFF` × the largest (the minimum-norm least-squares
/// solution).
fn pinv_sym2(m: [[f64; 2]; 2], v: [f64; 2]) -> [f64; 2] {
    let (p, q, r) = (m[0][0], 0.5 * (m[0][1] + m[1][0]), m[1][1]);
    let half_diff = 0.5 * (p - r);
    let disc = half_diff.hypot(q);
    let l1 = 0.5 * (p + r) + disc;
    if l1.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return [0.0, 0.0];
    }
    // The smaller eigenvalue from the determinant (no cancellation in tr/2 − disc).
    let l2 = (p * r - q * q) / l1;
    // Eigenvector of l1: the rotation angle θ with tan 2θ = 2q / (p − r).
    let theta = 0.5 * q.atan2(half_diff);
    let (s, c) = theta.sin_cos();
    let u1 = [c, s];
    let u2 = [-s, c];
    let mut w = [0.0; 2];
    for (l, u) in [(l1, u1), (l2, u2)] {
        if l > RELATIVE_CUTOFF * l1 {
            let k = (u[0] * v[0] + u[1] * v[1]) / l;
            w[0] += k * u[0];
            w[1] += k * u[1];
        }
    }
    w
}

/// The least-squares linear fit y ≈ a·x1 + b·x2 + c to the pairs (see the module documentation
/// for degenerate inputs; no pairs give the zero function).
pub fn fit_linear(inputs: &[[f64; 2]], targets: &[f64]) -> LinearFit {
    assert_eq!(inputs.len(), targets.len(), "one target per input");
    let mut ls = LeastSquares::default();
    for (&x, &y) in inputs.iter().zip(targets) {
        ls.add(x, y);
    }
    ls.solve()
}

/// Baseline (a), per pair: the squared error on each pair of the linear fit to *all* pairs of
/// the episode (a constant regressor, evaluated step by step for plotting).
pub fn optimal_linear_per_step(inputs: &[[f64; 2]], targets: &[f64]) -> Vec<f64> {
    let fit = fit_linear(inputs, targets);
    inputs
        .iter()
        .zip(targets)
        .map(|(&x, &y)| (fit.predict(x) - y).powi(2))
        .collect()
}

/// Baseline (a): the MSE over the episode of the least-squares linear fit to all its pairs
/// (NaN for an empty episode).
pub fn optimal_linear(inputs: &[[f64; 2]], targets: &[f64]) -> f64 {
    let e = optimal_linear_per_step(inputs, targets);
    e.iter().sum::<f64>() / e.len() as f64
}

/// Baseline (e, ours): the squared error on pair t of the mean of the targets of pairs 0..t
/// (`first_guess` before any pair). A learner that only tracks a task's mean level: for target
/// networks most of the family's spread is in that level (a task's own variance is 29 % of
/// it at inputs U[−5, 5], 4 % at U[−1, 1]; numpy, 2,000 tasks), so the first thing an outer loop
/// teaches, and the line an LSNN must cross to show it learned the function, not its mean.
pub fn online_mean(targets: &[f64], first_guess: f64) -> Vec<f64> {
    let mut sum = 0.0;
    targets
        .iter()
        .enumerate()
        .map(|(t, &y)| {
            let pred = if t == 0 { first_guess } else { sum / t as f64 };
            sum += y;
            (pred - y).powi(2)
        })
        .collect()
}

/// Baseline (b): the squared error on pair t of the linear regressor fitted to pairs 0..t.
///
/// With three parameters a fit needs three pairs; before that (ours): no pair seen →
/// `first_guess` (use [`TaskFamily::target_midpoint`]: 0.5 for TN, 0 for sines); one or two
/// pairs → the mean of their targets. From three pairs on, the least-squares fit (exact on a
/// linear task; minimum-norm slopes along directions the seen inputs do not span). The first
/// fits interpolate three or four points exactly and extrapolate from them, so the errors of the
/// early steps are heavy-tailed across episodes: plot medians (or clip) as well as means.
pub fn online_linear(inputs: &[[f64; 2]], targets: &[f64], first_guess: f64) -> Vec<f64> {
    assert_eq!(inputs.len(), targets.len(), "one target per input");
    let mut ls = LeastSquares::default();
    inputs
        .iter()
        .zip(targets)
        .map(|(&x, &y)| {
            let pred = match ls.n {
                0 => first_guess,
                1 | 2 => ls.mean_y,
                _ => ls.solve().predict(x),
            };
            ls.add(x, y);
            (pred - y).powi(2)
        })
        .collect()
}

/// Baseline (d), ours: the best fixed function of the input for the whole family, the mean
/// target m(x) = E_task[f(x)] over the family's tasks, estimated from `tasks` tasks drawn from
/// `rng`. A learner that only absorbed the family's prior in the outer loop (and learns
/// nothing within an episode) predicts this; e.g. for sines A·sin(x − φ) with φ ~ U[0, π],
/// m(x) = −(2/π)·E[A]·cos x. Returns the predictor.
pub fn family_mean(
    family: TaskFamily,
    tasks: usize,
    rng: &mut impl Rng,
) -> impl Fn([f64; 2]) -> f64 {
    let drawn: Vec<_> = (0..tasks.max(1)).map(|_| family.draw_task(rng)).collect();
    move |x| drawn.iter().map(|t| t.eval(x)).sum::<f64>() / drawn.len() as f64
}

/// Settings of the fresh-network baseline (c). All defaults are ours (the paper describes the
/// baseline only as a network trained by backprop with a prior).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FreshNetSettings {
    /// Standard deviation of the initial weights and biases, N(0, init_std²): a small-weight
    /// prior (ours: 0.1), so the untrained net predicts the middle of the output range.
    pub init_std: f64,
    /// L2 weight decay toward 0, λ in L = (1/n)·[Σ ½(ŷ − y)² + ½λ‖θ‖²]: the MAP objective of a
    /// Gaussian prior (λ = noise variance / prior variance; ours: 0.01), so its pull weakens as
    /// pairs accumulate.
    pub prior: f64,
    /// Full-batch Adam iterations per evaluated step (ours: 300).
    pub iterations: usize,
    /// Adam's step size (ours: 0.05; β1 0.9, β2 0.999, ε 1e-8).
    pub learning_rate: f64,
    /// The output is lo + (hi − lo)·σ(z): the TN's sigmoid output scaled to the family's target
    /// range (TN: (0, 1), i.e. exactly the target networks' architecture; sines: (−5, 5)).
    pub output_range: (f64, f64),
}

impl Default for FreshNetSettings {
    fn default() -> Self {
        FreshNetSettings {
            init_std: 0.1,
            prior: 0.01,
            iterations: 300,
            learning_rate: 0.05,
            output_range: (0.0, 1.0),
        }
    }
}

impl FreshNetSettings {
    /// The defaults with the output scaled to `family`'s target range.
    pub fn for_family(family: TaskFamily) -> FreshNetSettings {
        FreshNetSettings {
            output_range: family.target_range(),
            ..FreshNetSettings::default()
        }
    }

    /// Checks every field; the message names the field at fault.
    pub fn validate(&self) -> Result<(), String> {
        let finite_nonneg = |v: f64| v.is_finite() && v >= 0.0;
        if !finite_nonneg(self.init_std) {
            return Err(format!(
                "init_std must be non-negative and finite (got {})",
                self.init_std
            ));
        }
        if !finite_nonneg(self.prior) {
            return Err(format!(
                "prior must be non-negative and finite (got {})",
                self.prior
            ));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(format!(
                "learning_rate must be positive and finite (got {})",
                self.learning_rate
            ));
        }
        let (lo, hi) = self.output_range;
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(format!(
                "output_range must be finite with lo < hi (got ({lo}, {hi}))"
            ));
        }
        Ok(())
    }
}

/// Parameters of the fresh net, flat: w1 (hidden j, input i at 2j + i), b1, w2.
const N_PARAMS: usize = TN_HIDDEN * TN_INPUTS + 2 * TN_HIDDEN;
const B1: usize = TN_HIDDEN * TN_INPUTS;
const W2: usize = B1 + TN_HIDDEN;

fn as_network(p: &[f64; N_PARAMS]) -> TargetNetwork {
    TargetNetwork {
        w1: std::array::from_fn(|j| [p[2 * j], p[2 * j + 1]]),
        b1: std::array::from_fn(|j| p[B1 + j]),
        w2: std::array::from_fn(|j| p[W2 + j]),
    }
}

fn predict(p: &[f64; N_PARAMS], range: (f64, f64), x: [f64; 2]) -> f64 {
    range.0 + (range.1 - range.0) * as_network(p).eval(x[0], x[1])
}

/// L = (1/n)·[Σ ½(ŷ_i − y_i)² + ½λ‖θ‖²] over the n pairs and its gradient (backprop through
/// ŷ = lo + (hi − lo)·σ(Σ_j w2_j σ(w1_j·x + b1_j))).
fn loss_and_grad(
    p: &[f64; N_PARAMS],
    inputs: &[[f64; 2]],
    targets: &[f64],
    range: (f64, f64),
    prior: f64,
) -> (f64, [f64; N_PARAMS]) {
    let n = inputs.len() as f64;
    let scale = range.1 - range.0;
    let mut g = [0.0; N_PARAMS];
    let mut loss = 0.0;
    let mut h = [0.0; TN_HIDDEN];
    for (&x, &y) in inputs.iter().zip(targets) {
        let mut z = 0.0;
        for j in 0..TN_HIDDEN {
            h[j] = sigmoid(p[2 * j] * x[0] + p[2 * j + 1] * x[1] + p[B1 + j]);
            z += p[W2 + j] * h[j];
        }
        let o = sigmoid(z);
        let e = range.0 + scale * o - y;
        loss += 0.5 * e * e;
        let dz = e * scale * o * (1.0 - o) / n;
        for j in 0..TN_HIDDEN {
            g[W2 + j] += dz * h[j];
            let da = dz * p[W2 + j] * h[j] * (1.0 - h[j]);
            g[2 * j] += da * x[0];
            g[2 * j + 1] += da * x[1];
            g[B1 + j] += da;
        }
    }
    let norm2: f64 = p.iter().map(|v| v * v).sum();
    for (gi, pi) in g.iter_mut().zip(p) {
        *gi += prior * pi / n;
    }
    ((loss + 0.5 * prior * norm2) / n, g)
}

/// Trains a fresh net (initialised from `rng`) on the pairs with full-batch Adam.
fn train_fresh_net(
    inputs: &[[f64; 2]],
    targets: &[f64],
    settings: &FreshNetSettings,
    rng: &mut impl Rng,
) -> [f64; N_PARAMS] {
    let mut p = [0.0; N_PARAMS];
    for v in p.iter_mut() {
        let z: f64 = StandardNormal.sample(rng);
        *v = settings.init_std * z;
    }
    if inputs.is_empty() {
        return p;
    }
    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8);
    let mut m = [0.0; N_PARAMS];
    let mut v = [0.0; N_PARAMS];
    for k in 1..=settings.iterations {
        let (_, g) = loss_and_grad(&p, inputs, targets, settings.output_range, settings.prior);
        let (c1, c2) = (1.0 - b1.powi(k as i32), 1.0 - b2.powi(k as i32));
        for i in 0..N_PARAMS {
            m[i] = b1 * m[i] + (1.0 - b1) * g[i];
            v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
            p[i] -= settings.learning_rate * (m[i] / c1) / ((v[i] / c2).sqrt() + eps);
        }
    }
    p
}

/// Baseline (c): for each t of `eval_steps` (in the order given), a fresh 2-10-1 sigmoid
/// network is initialised from `rng`, trained on pairs 0..t and scored on pair t; returns
/// (t, squared error) pairs. At t = 0 the untrained net predicts (≈ the middle of the output
/// range for a small `init_std`).
///
/// Training costs `iterations` × t pair evaluations per step, so plots evaluate a subset of the
/// steps (e.g. 1, 2, 3, 5, 10, 20, 50, 100, 200, 499) rather than all 500.
pub fn backprop_fresh_net(
    inputs: &[[f64; 2]],
    targets: &[f64],
    settings: &FreshNetSettings,
    eval_steps: &[usize],
    rng: &mut impl Rng,
) -> Result<Vec<(usize, f64)>, String> {
    settings.validate()?;
    if inputs.len() != targets.len() {
        return Err(format!(
            "{} inputs but {} targets",
            inputs.len(),
            targets.len()
        ));
    }
    if let Some(&t) = eval_steps.iter().find(|&&t| t >= inputs.len()) {
        return Err(format!(
            "eval_steps: step {t} is outside the episode of {} pairs",
            inputs.len()
        ));
    }
    Ok(eval_steps
        .iter()
        .map(|&t| {
            let p = train_fresh_net(&inputs[..t], &targets[..t], settings, rng);
            let e = predict(&p, settings.output_range, inputs[t]) - targets[t];
            (t, e * e)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::l2l_family::{episode_rng, sample_episode, RngPurpose};

    /// An episode of the linear task y = 2·x1 − x2 + 0.5, inputs of the TN family.
    fn linear_episode(seed: u64, n: usize) -> (Vec<[f64; 2]>, Vec<f64>) {
        let mut rng = episode_rng(seed, 0, RngPurpose::Task);
        let inputs: Vec<[f64; 2]> = (0..n)
            .map(|_| TaskFamily::TARGET_NETWORKS.draw_input(&mut rng))
            .collect();
        let targets = inputs.iter().map(|x| 2.0 * x[0] - x[1] + 0.5).collect();
        (inputs, targets)
    }

    #[test]
    fn family_mean_of_sines_is_the_known_curve() {
        // E[A sin(x − φ)] with A ~ U[0.1, 5], φ ~ U[0, π]: −(2/π)·2.55·cos x.
        let mut rng = episode_rng(9, 0, RngPurpose::Baseline);
        let m = family_mean(TaskFamily::SINES, 20_000, &mut rng);
        for x in [-4.0, -1.0, 0.0, 0.5, 3.0] {
            let want = -2.0 / std::f64::consts::PI * 2.55 * f64::cos(x);
            // Monte Carlo error: sd of A·sin(x + φ) ≤ 3 over √20000 → < 0.03 (2 sd 0.05).
            assert!(
                (m([x, 0.0]) - want).abs() < 0.05,
                "x {x}: {} vs {want}",
                m([x, 0.0])
            );
        }
    }

    #[test]
    fn optimal_linear_is_exact_on_a_linear_task() {
        for seed in 0..5 {
            let (x, y) = linear_episode(seed, 500);
            let fit = fit_linear(&x, &y);
            assert!((fit.a - 2.0).abs() < 1e-12, "{fit:?}");
            assert!((fit.b + 1.0).abs() < 1e-12, "{fit:?}");
            assert!((fit.c - 0.5).abs() < 1e-12, "{fit:?}");
            let mse = optimal_linear(&x, &y);
            assert!(mse < 1e-12, "{mse}");
            assert_eq!(optimal_linear_per_step(&x, &y).len(), 500);
        }
    }

    #[test]
    fn online_mean_predicts_the_mean_of_the_targets_seen() {
        // Predictions 0 (the first guess), 1, 2, (1 + 3 + 5) / 3 = 3.
        assert_eq!(
            online_mean(&[1.0, 3.0, 5.0, 3.0], 0.0),
            vec![1.0, 4.0, 9.0, 0.0]
        );
        assert!(online_mean(&[], 0.5).is_empty());
    }

    #[test]
    fn online_linear_is_exact_after_three_pairs() {
        for seed in 0..5 {
            let (x, y) = linear_episode(seed, 500);
            let e = online_linear(&x, &y, 0.5);
            assert_eq!(e.len(), 500);
            assert_eq!(e[0], (0.5 - y[0]).powi(2));
            assert_eq!(e[1], (y[0] - y[1]).powi(2));
            assert!((e[2] - (0.5 * (y[0] + y[1]) - y[2]).powi(2)).abs() < 1e-15);
            let worst = e[3..].iter().cloned().fold(0.0, f64::max);
            assert!(worst < 1e-12, "seed {seed}: {worst}");
        }
    }

    /// The normal equations (XᵀX)w = Xᵀy with X = [x1, x2, 1], solved by Gaussian elimination
    /// with partial pivoting: the textbook fit the Welford/eigen solver must agree with.
    fn normal_equations(x: &[[f64; 2]], y: &[f64]) -> [f64; 3] {
        let mut a = [[0.0; 4]; 3];
        for (xi, &yi) in x.iter().zip(y) {
            let row = [xi[0], xi[1], 1.0];
            for i in 0..3 {
                for j in 0..3 {
                    a[i][j] += row[i] * row[j];
                }
                a[i][3] += row[i] * yi;
            }
        }
        for col in 0..3 {
            let piv = (col..3)
                .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
                .unwrap();
            a.swap(col, piv);
            let pivot_row = a[col];
            for (r, row) in a.iter_mut().enumerate() {
                if r != col {
                    let f = row[col] / pivot_row[col];
                    for (v, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                        *v -= f * p;
                    }
                }
            }
        }
        [a[0][3] / a[0][0], a[1][3] / a[1][1], a[2][3] / a[2][2]]
    }

    #[test]
    fn fit_matches_the_normal_equations_on_target_networks() {
        for index in 0..5 {
            let (_, ep) = sample_episode(TaskFamily::TARGET_NETWORKS, 1, index, 500);
            let fit = fit_linear(&ep.inputs, &ep.targets);
            let w = normal_equations(&ep.inputs, &ep.targets);
            for (got, want) in [fit.a, fit.b, fit.c].iter().zip(w) {
                assert!((got - want).abs() < 1e-10, "{fit:?} vs {w:?}");
            }
            // A TN is not linear: the best linear fit leaves an error.
            let mse = optimal_linear(&ep.inputs, &ep.targets);
            assert!(mse > 1e-6, "episode {index}: {mse}");
            // The online fit at the last step is the fit to pairs 0..499.
            let e = online_linear(&ep.inputs, &ep.targets, 0.5);
            let f499 = fit_linear(&ep.inputs[..499], &ep.targets[..499]);
            let want = (f499.predict(ep.inputs[499]) - ep.targets[499]).powi(2);
            assert!((e[499] - want).abs() < 1e-15);
        }
    }

    #[test]
    fn degenerate_inputs_get_minimum_norm_slopes() {
        // Sines: x2 ≡ 0, so b is not determined and the pseudo-inverse sets it to 0.
        let (_, ep) = sample_episode(TaskFamily::SINES, 2, 0, 200);
        let fit = fit_linear(&ep.inputs, &ep.targets);
        assert_eq!(fit.b, 0.0);
        assert!(fit.a.is_finite() && fit.c.is_finite());
        let e = online_linear(&ep.inputs, &ep.targets, 0.0);
        assert!(e.iter().all(|v| v.is_finite()));
        // y = 3·x1 + 1 on a sine episode's inputs: exact with b = 0.
        let y: Vec<f64> = ep.inputs.iter().map(|x| 3.0 * x[0] + 1.0).collect();
        let fit = fit_linear(&ep.inputs, &y);
        assert!((fit.a - 3.0).abs() < 1e-12 && (fit.c - 1.0).abs() < 1e-12 && fit.b == 0.0);
        // All inputs equal: the mean target.
        let fit = fit_linear(&[[0.3, 0.4]; 4], &[1.0, 2.0, 3.0, 6.0]);
        assert_eq!(
            fit,
            LinearFit {
                a: 0.0,
                b: 0.0,
                c: 3.0
            }
        );
        // Collinear inputs x2 = x1, y = x1: slopes split evenly (minimum norm), a = b = 0.5.
        let x: Vec<[f64; 2]> = (0..5).map(|i| [i as f64, i as f64]).collect();
        let y: Vec<f64> = (0..5).map(|i| i as f64).collect();
        let fit = fit_linear(&x, &y);
        assert!(
            (fit.a - 0.5).abs() < 1e-12 && (fit.b - 0.5).abs() < 1e-12,
            "{fit:?}"
        );
        assert!(fit.c.abs() < 1e-12);
        assert!(optimal_linear(&[], &[]).is_nan());
    }

    #[test]
    fn fresh_net_gradient_matches_finite_differences() {
        let (_, ep) = sample_episode(TaskFamily::SINES, 3, 0, 12);
        let mut rng = episode_rng(3, 0, RngPurpose::Baseline);
        let mut p = [0.0; N_PARAMS];
        for v in p.iter_mut() {
            *v = rng.random_range(-1.0..1.0);
        }
        let range = (-5.0, 5.0);
        let (_, g) = loss_and_grad(&p, &ep.inputs, &ep.targets, range, 0.3);
        for i in 0..N_PARAMS {
            let h = 1e-6;
            let (mut pp, mut pm) = (p, p);
            pp[i] += h;
            pm[i] -= h;
            let lp = loss_and_grad(&pp, &ep.inputs, &ep.targets, range, 0.3).0;
            let lm = loss_and_grad(&pm, &ep.inputs, &ep.targets, range, 0.3).0;
            let fd = (lp - lm) / (2.0 * h);
            // Central differences: error O(h²·L''') plus rounding O(ε·L/h) ≈ 1e-9 here.
            assert!(
                (fd - g[i]).abs() < 1e-7 + 1e-6 * g[i].abs(),
                "param {i}: {fd} vs {}",
                g[i]
            );
        }
        // The predictor is the flat parameters read as a target network.
        let x = ep.inputs[0];
        let want = -5.0 + 10.0 * as_network(&p).eval(x[0], x[1]);
        assert_eq!(predict(&p, range, x), want);
    }

    #[test]
    fn fresh_net_learns_within_an_episode() {
        // Target networks, 8 episodes: the error averaged over steps 1..=3 (one to three pairs
        // seen) against steps 97..=99 (about a hundred). The squared errors of single pairs are
        // heavy-tailed, hence the average over episodes and steps; the margin (a factor 2) is
        // far below the observed ratio (see the printout).
        let t0 = std::time::Instant::now();
        let fam = TaskFamily::TARGET_NETWORKS;
        let settings = FreshNetSettings::for_family(fam);
        let steps = [1, 2, 3, 97, 98, 99];
        let (mut early, mut late) = (0.0, 0.0);
        for index in 0..8 {
            let (_, ep) = sample_episode(fam, 4, index, 100);
            let mut rng = episode_rng(4, index, RngPurpose::Baseline);
            let e =
                backprop_fresh_net(&ep.inputs, &ep.targets, &settings, &steps, &mut rng).unwrap();
            assert_eq!(e.iter().map(|p| p.0).collect::<Vec<_>>(), steps);
            early += e[..3].iter().map(|p| p.1).sum::<f64>();
            late += e[3..].iter().map(|p| p.1).sum::<f64>();
        }
        println!(
            "fresh net on TN: mean squared error {:.2e} (steps 1-3) -> {:.2e} (steps 97-99), {:.0} ms",
            early / 24.0,
            late / 24.0,
            t0.elapsed().as_secs_f64() * 1e3
        );
        assert!(late < 0.5 * early, "{early} -> {late}");
    }

    #[test]
    fn fresh_net_is_deterministic_and_validates() {
        let (_, ep) = sample_episode(TaskFamily::SINES, 5, 0, 30);
        let s = FreshNetSettings {
            iterations: 50,
            ..FreshNetSettings::for_family(TaskFamily::SINES)
        };
        let run = |seed| {
            let mut rng = episode_rng(seed, 0, RngPurpose::Baseline);
            backprop_fresh_net(&ep.inputs, &ep.targets, &s, &[0, 10, 29], &mut rng).unwrap()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
        // Step 0: the untrained small-weight net predicts about the middle of (−5, 5): with
        // w ~ N(0, 0.1²) and h ≈ 1/2, z = Σ w2_j h_j has SD √10 · 0.1 · 0.5 ≈ 0.16, so
        // ŷ = −5 + 10·σ(z) ≈ 2.5·z stays within ±1.25 (3 SD); then |√e0 − |y0|| ≤ |ŷ|.
        let e0 = run(1)[0].1;
        assert!((e0.sqrt() - ep.targets[0].abs()).abs() < 1.25, "{e0}");
        let mut rng = episode_rng(0, 0, RngPurpose::Baseline);
        let err = backprop_fresh_net(&ep.inputs, &ep.targets, &s, &[30], &mut rng).unwrap_err();
        assert!(err.starts_with("eval_steps"), "{err}");
        for (bad, field) in [
            (
                FreshNetSettings {
                    init_std: -1.0,
                    ..s
                },
                "init_std",
            ),
            (
                FreshNetSettings {
                    prior: f64::NAN,
                    ..s
                },
                "prior",
            ),
            (
                FreshNetSettings {
                    learning_rate: 0.0,
                    ..s
                },
                "learning_rate",
            ),
            (
                FreshNetSettings {
                    output_range: (1.0, 1.0),
                    ..s
                },
                "output_range",
            ),
        ] {
            let err =
                backprop_fresh_net(&ep.inputs, &ep.targets, &bad, &[1], &mut rng).unwrap_err();
            assert!(err.starts_with(field), "{err}");
        }
        assert_eq!(FreshNetSettings::default().validate(), Ok(()));
    }
}
