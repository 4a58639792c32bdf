//! PPO's clipped objective for the meta-RL agent's 2-D Gaussian policy, the CPU reference of
//! the loss and its gradients (`docs/experiments.md` §4: "PPO's clipped surrogate
//! objective, optimised by BPTT through the LSNN").
//!
//! The policy over the velocity a ∈ ℝ² is a diagonal Gaussian with mean μ read out from the
//! network and log standard deviations s (a learned vector or a scheduled value; either way it
//! arrives per action). Beside it a value head gives v. Per action i, with the stored action
//! a_i, its log-probability under the rollout's policy ℓ_old, advantage A_i and return R_i:
//!
//! - log π(a) = Σ_d [ −½ z_d² − s_d ] − 2 · ½ ln 2π,  z_d = (a_d − μ_d) · e^(−s_d)
//!   (computed in exactly this order by [`gaussian_log_prob`] in f64 and, for the GPU kernel to
//!   mirror, by [`gaussian_log_prob_f32`] in f32),
//! - ratio ρ = exp(log π(a) − ℓ_old),
//! - policy loss −min(ρ A, clip(ρ, 1 − ε, 1 + ε) A),
//! - value loss (v − R)² (a plain squared error: its weight is `value_coeff` alone),
//! - entropy H = Σ_d (s_d + ½ ln 2π + ½),
//!
//! and the loss is the weighted mean over actions (weight 0 for padding)
//!
//!   L = Σ_i w̃_i [ policy_i + `value_coeff` · value_i − `entropy_coeff` · H_i ],  w̃ = w / Σ w.
//!
//! Gradients, with g = ∂policy/∂log π = −ρ A where the min selects the unclipped term
//! (ρ A ≤ clip(ρ) A; ties included) and 0 where it selects the clipped one (the clipped term
//! is constant in the parameters there):
//!
//! - ∂L/∂μ_d = w̃ · g · z_d e^(−s_d),
//! - ∂L/∂s_d = w̃ · (g · (z_d² − 1) − `entropy_coeff`),
//! - ∂L/∂v   = w̃ · `value_coeff` · 2 (v − R).
//!
//! For a learned log-std vector shared by all actions its gradient is the sum of the per-action
//! ∂L/∂s; a scheduled value ignores it.
//! Diagnostics: approximate KL (old ‖ new) by the non-negative estimator mean((ρ − 1) − ln ρ),
//! and the clip fraction, the weighted share of actions with |ρ − 1| > ε (the usual definition).

/// Dimensions of the action (a 2-D velocity).
pub const ACTION_DIM: usize = 2;

/// ½ ln 2π, the normalisation of a unit Gaussian's log-density per dimension.
pub const HALF_LN_TWO_PI: f64 = 0.918_938_533_204_672_8;

/// [`HALF_LN_TWO_PI`] rounded to f32, the constant the GPU kernel uses.
pub const HALF_LN_TWO_PI_F32: f32 = 0.918_938_5;

/// Parameters of PPO's loss (config section `rl.ppo`).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PpoLossSettings {
    /// ε of the clipped ratio (PPO paper: 0.2).
    pub clip_epsilon: f64,
    /// Weight of the value loss (ours: 0.5, the common PPO choice).
    pub value_coeff: f64,
    /// Weight of the entropy bonus (ours: 0.01, the PPO paper's Atari value).
    pub entropy_coeff: f64,
}

impl Default for PpoLossSettings {
    fn default() -> Self {
        PpoLossSettings {
            clip_epsilon: 0.2,
            value_coeff: 0.5,
            entropy_coeff: 0.01,
        }
    }
}

impl PpoLossSettings {
    /// Checks every field; the message names the field at fault.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.clip_epsilon > 0.0 && self.clip_epsilon < 1.0) {
            return Err(format!(
                "rl.ppo.clip_epsilon must be in (0, 1) (got {})",
                self.clip_epsilon
            ));
        }
        for (field, v) in [
            ("value_coeff", self.value_coeff),
            ("entropy_coeff", self.entropy_coeff),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("rl.ppo.{field} must be >= 0 and finite (got {v})"));
            }
        }
        Ok(())
    }
}

/// log π(a) of a diagonal Gaussian with mean `mean` and log standard deviations `log_std`, in
/// f64, in the order of the module docs.
pub fn gaussian_log_prob(
    mean: [f64; ACTION_DIM],
    log_std: [f64; ACTION_DIM],
    action: [f64; ACTION_DIM],
) -> f64 {
    let mut sum = 0.0;
    for d in 0..ACTION_DIM {
        let z = (action[d] - mean[d]) * (-log_std[d]).exp();
        sum += -0.5 * z * z - log_std[d];
    }
    sum - ACTION_DIM as f64 * HALF_LN_TWO_PI
}

/// [`gaussian_log_prob`] in f32, operation by operation: the function the GPU kernel mirrors.
pub fn gaussian_log_prob_f32(
    mean: [f32; ACTION_DIM],
    log_std: [f32; ACTION_DIM],
    action: [f32; ACTION_DIM],
) -> f32 {
    let mut sum = 0.0f32;
    for d in 0..ACTION_DIM {
        let z = (action[d] - mean[d]) * (-log_std[d]).exp();
        sum += -0.5 * z * z - log_std[d];
    }
    sum - ACTION_DIM as f32 * HALF_LN_TWO_PI_F32
}

/// Entropy of a diagonal Gaussian: Σ_d (s_d + ½ ln 2π + ½).
pub fn gaussian_entropy(log_std: [f64; ACTION_DIM]) -> f64 {
    log_std.iter().map(|&s| s + HALF_LN_TWO_PI + 0.5).sum()
}

/// One action of a PPO batch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PpoSample {
    /// μ, the policy's mean (network output).
    pub mean: [f64; ACTION_DIM],
    /// s, the log standard deviations (learned or scheduled).
    pub log_std: [f64; ACTION_DIM],
    /// v, the value head's output.
    pub value: f64,
    /// a, the action taken in the rollout.
    pub action: [f64; ACTION_DIM],
    /// ℓ_old, log π_old(a) recorded in the rollout.
    pub old_log_prob: f64,
    /// A, the (normalised) advantage.
    pub advantage: f64,
    /// R, the value target.
    pub target_return: f64,
    /// Weight in the mean: 1 for a real action, 0 for padding.
    pub weight: f64,
}

/// The loss and its parts, each a weighted mean over the batch.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct PpoLossParts {
    /// policy + `value_coeff` · value − `entropy_coeff` · entropy.
    pub total: f64,
    /// −min(ρA, clip(ρ)A).
    pub policy: f64,
    /// (v − R)².
    pub value: f64,
    /// Entropy of the policy.
    pub entropy: f64,
    /// (ρ − 1) − ln ρ, an estimate of KL(old ‖ new).
    pub approx_kl: f64,
    /// Share of actions with |ρ − 1| > ε.
    pub clip_fraction: f64,
}

/// ∂L/∂(μ, s, v) of one action.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct PpoSampleGrad {
    /// ∂L/∂μ.
    pub d_mean: [f64; ACTION_DIM],
    /// ∂L/∂s.
    pub d_log_std: [f64; ACTION_DIM],
    /// ∂L/∂v.
    pub d_value: f64,
}

/// The loss of a batch and the gradient of each action.
#[derive(Clone, Debug, PartialEq)]
pub struct PpoLossOutput {
    /// The loss and its parts.
    pub parts: PpoLossParts,
    /// ∂L/∂(μ, s, v), one per sample.
    pub grads: Vec<PpoSampleGrad>,
    /// log π(a) under the current parameters, one per sample.
    pub log_probs: Vec<f64>,
}

fn check_sample(i: usize, s: &PpoSample) -> Result<(), String> {
    let all = s
        .mean
        .iter()
        .chain(&s.log_std)
        .chain(&s.action)
        .chain(&[
            s.value,
            s.old_log_prob,
            s.advantage,
            s.target_return,
            s.weight,
        ])
        .all(|v| v.is_finite());
    if !all {
        return Err(format!("sample {i} has a non-finite input: {s:?}"));
    }
    if s.weight < 0.0 {
        return Err(format!("sample {i} has a negative weight {}", s.weight));
    }
    Ok(())
}

/// PPO's loss over `samples` and its gradients (module docs).
pub fn ppo_loss(
    settings: &PpoLossSettings,
    samples: &[PpoSample],
) -> Result<PpoLossOutput, String> {
    settings.validate()?;
    for (i, s) in samples.iter().enumerate() {
        check_sample(i, s)?;
    }
    let total_weight: f64 = samples.iter().map(|s| s.weight).sum();
    if total_weight <= 0.0 {
        return Err("the samples' weights sum to 0: nothing to average".into());
    }
    let eps = settings.clip_epsilon;
    let mut parts = PpoLossParts {
        total: 0.0,
        policy: 0.0,
        value: 0.0,
        entropy: 0.0,
        approx_kl: 0.0,
        clip_fraction: 0.0,
    };
    let mut grads = Vec::with_capacity(samples.len());
    let mut log_probs = Vec::with_capacity(samples.len());
    for s in samples {
        let w = s.weight / total_weight;
        let log_prob = gaussian_log_prob(s.mean, s.log_std, s.action);
        let log_ratio = log_prob - s.old_log_prob;
        let ratio = log_ratio.exp();
        let unclipped = ratio * s.advantage;
        let clipped = ratio.clamp(1.0 - eps, 1.0 + eps) * s.advantage;
        let unclipped_selected = unclipped <= clipped;
        let policy = -unclipped.min(clipped);
        let value_error = s.value - s.target_return;
        let entropy = gaussian_entropy(s.log_std);
        parts.policy += w * policy;
        parts.value += w * value_error * value_error;
        parts.entropy += w * entropy;
        parts.approx_kl += w * ((ratio - 1.0) - log_ratio);
        if (ratio - 1.0).abs() > eps {
            parts.clip_fraction += w;
        }

        let d_log_prob = if unclipped_selected { -unclipped } else { 0.0 };
        let mut g = PpoSampleGrad {
            d_value: w * settings.value_coeff * 2.0 * value_error,
            ..PpoSampleGrad::default()
        };
        for d in 0..ACTION_DIM {
            let inv_std = (-s.log_std[d]).exp();
            let z = (s.action[d] - s.mean[d]) * inv_std;
            g.d_mean[d] = w * d_log_prob * z * inv_std;
            g.d_log_std[d] = w * (d_log_prob * (z * z - 1.0) - settings.entropy_coeff);
        }
        grads.push(g);
        log_probs.push(log_prob);
    }
    parts.total =
        parts.policy + settings.value_coeff * parts.value - settings.entropy_coeff * parts.entropy;
    Ok(PpoLossOutput {
        parts,
        grads,
        log_probs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, StandardNormal};

    fn settings() -> PpoLossSettings {
        PpoLossSettings::default()
    }

    /// A random sample whose ratio under its own parameters is `ratio`.
    fn sample_with_ratio(rng: &mut impl Rng, ratio: f64, advantage: f64) -> PpoSample {
        let mean = [rng.random_range(-2.0..2.0), rng.random_range(-2.0..2.0)];
        let log_std: [f64; 2] = [rng.random_range(-1.0..0.5), rng.random_range(-1.0..0.5)];
        let mut action = [0.0; 2];
        for d in 0..2 {
            let n: f64 = StandardNormal.sample(rng);
            action[d] = mean[d] + log_std[d].exp() * n;
        }
        let log_prob = gaussian_log_prob(mean, log_std, action);
        PpoSample {
            mean,
            log_std,
            value: rng.random_range(-1.0..1.0),
            action,
            old_log_prob: log_prob - ratio.ln(),
            advantage,
            target_return: rng.random_range(-1.0..1.0),
            weight: 1.0,
        }
    }

    fn total(samples: &[PpoSample]) -> f64 {
        ppo_loss(&settings(), samples).unwrap().parts.total
    }

    /// Central finite difference of the total loss along one input of sample `i`.
    fn finite_difference(
        samples: &[PpoSample],
        i: usize,
        nudge: impl Fn(&mut PpoSample, f64),
    ) -> f64 {
        let h = 1e-6;
        let mut plus = samples.to_vec();
        nudge(&mut plus[i], h);
        let mut minus = samples.to_vec();
        nudge(&mut minus[i], -h);
        (total(&plus) - total(&minus)) / (2.0 * h)
    }

    fn assert_close(analytic: f64, numeric: f64, what: &str) {
        let tol = 1e-7 + 1e-6 * analytic.abs().max(numeric.abs());
        assert!(
            (analytic - numeric).abs() <= tol,
            "{what}: analytic {analytic} vs numeric {numeric}"
        );
    }

    /// (ratio, advantage, whether the min selects the clipped term), ratios ≥ 0.05 from the
    /// band's edges so that the finite differences stay on one side of the kink.
    const CASES: [(f64, f64, bool); 8] = [
        (1.0, 0.7, false),
        (1.1, 1.3, false),
        (0.9, -0.8, false),
        (1.5, 0.9, true),
        (0.5, 0.9, false),
        (0.5, -1.1, true),
        (1.5, -0.6, false),
        (0.7, -0.4, true),
    ];

    #[test]
    fn gradients_match_finite_differences_in_both_branches() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for repeat in 0..4 {
            let samples: Vec<PpoSample> = CASES
                .iter()
                .map(|&(r, a, _)| sample_with_ratio(&mut rng, r, a))
                .collect();
            let out = ppo_loss(&settings(), &samples).unwrap();
            for (i, &(ratio, adv, clipped)) in CASES.iter().enumerate() {
                let g = out.grads[i];
                let what = |name: &str| format!("repeat {repeat}, ρ {ratio}, A {adv}: {name}");
                for d in 0..2 {
                    let fd = finite_difference(&samples, i, |s, h| s.mean[d] += h);
                    assert_close(g.d_mean[d], fd, &what(&format!("d_mean[{d}]")));
                    let fd = finite_difference(&samples, i, |s, h| s.log_std[d] += h);
                    assert_close(g.d_log_std[d], fd, &what(&format!("d_log_std[{d}]")));
                }
                let fd = finite_difference(&samples, i, |s, h| s.value += h);
                assert_close(g.d_value, fd, &what("d_value"));
                let w = 1.0 / samples.len() as f64;
                if clipped {
                    // The clipped term is constant: only the entropy bonus moves s.
                    assert_eq!(g.d_mean, [0.0, 0.0], "{}", what("clipped d_mean"));
                    for d in 0..2 {
                        assert_close(g.d_log_std[d], -w * 0.01, &what("clipped d_log_std"));
                    }
                } else {
                    assert!(g.d_mean.iter().any(|&x| x != 0.0), "{}", what("d_mean"));
                }
            }
        }
    }

    #[test]
    fn ratio_one_gives_minus_mean_advantage_plus_value_and_entropy_terms() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let samples: Vec<PpoSample> = (0..6)
            .map(|_| {
                let a = rng.random_range(-1.0..1.0);
                sample_with_ratio(&mut rng, 1.0, a)
            })
            .collect();
        let out = ppo_loss(&settings(), &samples).unwrap();
        let n = samples.len() as f64;
        let mean_adv = samples.iter().map(|s| s.advantage).sum::<f64>() / n;
        let mean_sq = samples
            .iter()
            .map(|s| (s.value - s.target_return).powi(2))
            .sum::<f64>()
            / n;
        let mean_h = samples
            .iter()
            .map(|s| gaussian_entropy(s.log_std))
            .sum::<f64>()
            / n;
        let p = out.parts;
        assert!((p.policy + mean_adv).abs() < 1e-12);
        assert!((p.value - mean_sq).abs() < 1e-12);
        assert!((p.total - (-mean_adv + 0.5 * mean_sq - 0.01 * mean_h)).abs() < 1e-12);
        assert!(p.approx_kl.abs() < 1e-12);
        assert_eq!(p.clip_fraction, 0.0);
    }

    #[test]
    fn diagnostics_count_clipped_ratios_and_kl_is_non_negative() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let samples: Vec<PpoSample> = CASES
            .iter()
            .map(|&(r, a, _)| sample_with_ratio(&mut rng, r, a))
            .collect();
        let p = ppo_loss(&settings(), &samples).unwrap().parts;
        // Ratios outside [0.8, 1.2]: 1.5, 0.5, 0.5, 1.5, 0.7 → 5 of 8.
        assert!((p.clip_fraction - 5.0 / 8.0).abs() < 1e-12);
        let kl: f64 = CASES
            .iter()
            .map(|&(r, _, _)| (r - 1.0) - r.ln())
            .sum::<f64>()
            / 8.0;
        assert!((p.approx_kl - kl).abs() < 1e-12 && kl > 0.0);
        // Policy loss of the selected terms, by hand.
        let policy: f64 = CASES
            .iter()
            .map(|&(r, a, _)| -(r * a).min(r.clamp(0.8, 1.2) * a))
            .sum::<f64>()
            / 8.0;
        assert!((p.policy - policy).abs() < 1e-12);
    }

    #[test]
    fn weights_mask_padding_and_count_as_repetitions() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let a = sample_with_ratio(&mut rng, 1.1, 0.5);
        let b = sample_with_ratio(&mut rng, 0.95, -0.3);
        let mut pad = sample_with_ratio(&mut rng, 3.0, 9.0);
        pad.weight = 0.0;
        let with_pad = ppo_loss(&settings(), &[a, pad, b]).unwrap();
        let without = ppo_loss(&settings(), &[a, b]).unwrap();
        assert!((with_pad.parts.total - without.parts.total).abs() < 1e-15);
        assert_eq!(with_pad.grads[1], PpoSampleGrad::default());
        assert_eq!(with_pad.grads[0], without.grads[0]);
        let a2 = PpoSample { weight: 2.0, ..a };
        let weighted = ppo_loss(&settings(), &[a2, b]).unwrap();
        let repeated = ppo_loss(&settings(), &[a, a, b]).unwrap();
        assert!((weighted.parts.total - repeated.parts.total).abs() < 1e-12);
        let all_pad = ppo_loss(&settings(), &[pad]);
        assert!(all_pad.is_err());
    }

    #[test]
    fn log_prob_is_the_gaussian_density() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for _ in 0..100 {
            let s = sample_with_ratio(&mut rng, 1.0, 0.0);
            let mut density = 1.0;
            for d in 0..2 {
                let sigma = s.log_std[d].exp();
                let x = s.action[d] - s.mean[d];
                density *= (-x * x / (2.0 * sigma * sigma)).exp()
                    / (sigma * (2.0 * std::f64::consts::PI).sqrt());
            }
            let lp = gaussian_log_prob(s.mean, s.log_std, s.action);
            assert!(
                (lp - density.ln()).abs() < 1e-12,
                "{lp} vs {}",
                density.ln()
            );
            assert!((HALF_LN_TWO_PI - 0.5 * (2.0 * std::f64::consts::PI).ln()).abs() < 1e-15);
        }
    }

    #[test]
    fn f32_log_prob_mirrors_the_f64_reference() {
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        for _ in 0..1000 {
            let s = sample_with_ratio(&mut rng, 1.0, 0.0);
            let f = |v: [f64; 2]| [v[0] as f32, v[1] as f32];
            let lp32 = gaussian_log_prob_f32(f(s.mean), f(s.log_std), f(s.action));
            // Reference on the same (f32-rounded) inputs.
            let up = |v: [f32; 2]| [v[0] as f64, v[1] as f64];
            let lp64 = gaussian_log_prob(up(f(s.mean)), up(f(s.log_std)), up(f(s.action)));
            // A handful of f32 roundings of terms of size up to ~|z|² + 2.
            let scale = 2.0 + s.log_std.iter().map(|x| x.abs()).sum::<f64>() + lp64.abs();
            let tol = 8.0 * f32::EPSILON as f64 * scale;
            assert!((lp32 as f64 - lp64).abs() <= tol, "{lp32} vs {lp64}");
        }
        assert_eq!(HALF_LN_TWO_PI_F32, HALF_LN_TWO_PI as f32);
    }

    #[test]
    fn entropy_matches_the_closed_form_and_monte_carlo() {
        let log_std = [-0.3, 0.4];
        let closed: f64 = log_std
            .iter()
            .map(|&s: &f64| {
                let var = (2.0 * s).exp();
                0.5 * (2.0 * std::f64::consts::PI * std::f64::consts::E * var).ln()
            })
            .sum();
        assert!((gaussian_entropy(log_std) - closed).abs() < 1e-12);
        // −E[log π(a)] over samples of the policy.
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mean = [0.3, -0.1];
        let n = 200_000;
        let mut sum = 0.0;
        for _ in 0..n {
            let mut a = [0.0; 2];
            for d in 0..2 {
                let z: f64 = StandardNormal.sample(&mut rng);
                a[d] = mean[d] + log_std[d].exp() * z;
            }
            sum -= gaussian_log_prob(mean, log_std, a);
        }
        // The estimate's sd is √(2 · ½)/√n ≈ 0.0022 (Var of ½z² is ½ per dimension).
        let mc = sum / n as f64;
        assert!((mc - closed).abs() < 0.012, "{mc} vs {closed}");
    }

    #[test]
    fn settings_and_inputs_are_validated() {
        settings().validate().unwrap();
        let bad = PpoLossSettings {
            clip_epsilon: 0.0,
            ..settings()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .starts_with("rl.ppo.clip_epsilon"));
        let bad = PpoLossSettings {
            entropy_coeff: -1.0,
            ..settings()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .starts_with("rl.ppo.entropy_coeff"));
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let mut s = sample_with_ratio(&mut rng, 1.0, 1.0);
        s.mean[0] = f64::NAN;
        assert!(ppo_loss(&settings(), &[s]).is_err());
    }
}
