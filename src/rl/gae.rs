//! Generalised advantage estimation (Schulman et al. 2016) over batched trajectories, the
//! advantage estimator of PPO in the meta-RL experiment (`docs/experiments.md` §4).
//!
//! For T actions of B episodes, with rewards r_t and value estimates V_t (t = 0 … T, V_T the
//! bootstrap value of the state after the last action):
//!
//!   δ_t = r_t + γ · V_{t+1} − V_t,        A_t = δ_t + γλ · A_{t+1},  A_T = 0,
//!   R_t = A_t + V_t                        (the return the value head is trained towards).
//!
//! λ = 1 gives the discounted return minus the value (Monte Carlo), λ = 0 the one-step TD error.
//! The meta-RL episodes all end after T actions (a goal respawns the agent but does not end
//! the episode), so there are no terminal flags inside a trajectory: the caller passes
//! V_T = 0 for an episode that ended, or the value head's estimate for one cut short.
//! Inputs and outputs are f32 (the trainer's currency); sums run in f64.

use ndarray::{Array2, ArrayView2};

/// Parameters of the advantage estimator (config section `rl.gae`).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GaeSettings {
    /// Discount per action (ours: 0.99, a horizon of ~100 actions = 1 s at 10 ms per action,
    /// half an episode: long enough to value a goal seen across the arena).
    pub gamma: f64,
    /// GAE's λ (ours: 0.95, the PPO paper's).
    pub lambda: f64,
    /// Added to the standard deviation when normalising advantages, so that a batch of equal
    /// advantages does not divide by zero (ours: 1e-8).
    pub normalisation_epsilon: f64,
}

impl Default for GaeSettings {
    fn default() -> Self {
        GaeSettings {
            gamma: 0.99,
            lambda: 0.95,
            normalisation_epsilon: 1e-8,
        }
    }
}

impl GaeSettings {
    /// Checks every field; the message names the field at fault.
    pub fn validate(&self) -> Result<(), String> {
        for (field, v) in [("gamma", self.gamma), ("lambda", self.lambda)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("rl.gae.{field} must be in [0, 1] (got {v})"));
            }
        }
        if !(self.normalisation_epsilon.is_finite() && self.normalisation_epsilon > 0.0) {
            return Err(format!(
                "rl.gae.normalisation_epsilon must be > 0 and finite (got {})",
                self.normalisation_epsilon
            ));
        }
        Ok(())
    }
}

/// Advantages and returns, both [T, B].
#[derive(Clone, Debug, PartialEq)]
pub struct Advantages {
    /// A_t of each action.
    pub advantages: Array2<f32>,
    /// R_t = A_t + V_t, the value head's targets.
    pub returns: Array2<f32>,
}

/// GAE of `rewards` [T, B] under `values` [T + 1, B] (row T: the bootstrap values, 0 for
/// episodes that ended).
pub fn generalised_advantages(
    rewards: ArrayView2<f32>,
    values: ArrayView2<f32>,
    gamma: f64,
    lambda: f64,
) -> Result<Advantages, String> {
    let (t_len, batch) = rewards.dim();
    if values.dim() != (t_len + 1, batch) {
        return Err(format!(
            "values must be [T + 1, B] = [{}, {batch}] for rewards [{t_len}, {batch}] (got {:?})",
            t_len + 1,
            values.dim()
        ));
    }
    let mut advantages = Array2::<f32>::zeros((t_len, batch));
    let mut returns = Array2::<f32>::zeros((t_len, batch));
    for b in 0..batch {
        let mut next_advantage = 0.0f64;
        for t in (0..t_len).rev() {
            let v = values[[t, b]] as f64;
            let delta = rewards[[t, b]] as f64 + gamma * values[[t + 1, b]] as f64 - v;
            next_advantage = delta + gamma * lambda * next_advantage;
            advantages[[t, b]] = next_advantage as f32;
            returns[[t, b]] = (next_advantage + v) as f32;
        }
    }
    Ok(Advantages {
        advantages,
        returns,
    })
}

/// GAE with the parameters of `settings`.
pub fn advantages_with(
    settings: &GaeSettings,
    rewards: ArrayView2<f32>,
    values: ArrayView2<f32>,
) -> Result<Advantages, String> {
    settings.validate()?;
    generalised_advantages(rewards, values, settings.gamma, settings.lambda)
}

/// Normalises `advantages` in place to mean 0 and standard deviation 1 over the whole batch
/// (all T × B entries; population standard deviation), dividing by std + `epsilon`. Returns
/// the (mean, std) removed, for logging.
pub fn normalise_advantages(advantages: &mut Array2<f32>, epsilon: f64) -> (f64, f64) {
    let n = advantages.len();
    if n == 0 {
        return (0.0, 0.0);
    }
    let mean = advantages.iter().map(|&a| a as f64).sum::<f64>() / n as f64;
    let variance = advantages
        .iter()
        .map(|&a| (a as f64 - mean).powi(2))
        .sum::<f64>()
        / n as f64;
    let std = variance.sqrt();
    let scale = 1.0 / (std + epsilon);
    advantages.mapv_inplace(|a| ((a as f64 - mean) * scale) as f32);
    (mean, std)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn close(a: f32, b: f64, tol: f64) -> bool {
        (a as f64 - b).abs() <= tol
    }

    #[test]
    fn three_steps_by_hand() {
        // γ = 0.9, λ = 0.5, one episode:
        //   r = [1, 0, 2], V = [0.5, 1.0, 1.5, 0.2]
        //   δ2 = 2 + 0.9·0.2 − 1.5 = 0.68
        //   δ1 = 0 + 0.9·1.5 − 1.0 = 0.35
        //   δ0 = 1 + 0.9·1.0 − 0.5 = 1.4
        //   A2 = 0.68
        //   A1 = 0.35 + 0.45·0.68 = 0.656
        //   A0 = 1.4 + 0.45·0.656 = 1.6952
        //   R = A + V[..3] = [2.1952, 1.656, 2.18]
        let rewards = array![[1.0f32], [0.0], [2.0]];
        let values = array![[0.5f32], [1.0], [1.5], [0.2]];
        let out = generalised_advantages(rewards.view(), values.view(), 0.9, 0.5).unwrap();
        for (t, want) in [1.6952, 0.656, 0.68].iter().enumerate() {
            assert!(close(out.advantages[[t, 0]], *want, 1e-6), "A{t}");
        }
        for (t, want) in [2.1952, 1.656, 2.18].iter().enumerate() {
            assert!(close(out.returns[[t, 0]], *want, 1e-6), "R{t}");
        }
    }

    /// Two episodes of four actions with a bootstrap value on one and 0 on the other.
    fn example() -> (Array2<f32>, Array2<f32>) {
        let rewards = array![[0.0f32, 1.0], [1.0, -0.02], [0.0, 0.0], [-0.02, 1.0]];
        let values = array![
            [0.3f32, 0.1],
            [0.7, -0.2],
            [0.2, 0.4],
            [0.5, 0.9],
            [0.6, 0.0]
        ];
        (rewards, values)
    }

    #[test]
    fn lambda_one_gives_discounted_returns_minus_values() {
        let (rewards, values) = example();
        let gamma = 0.95;
        let out = generalised_advantages(rewards.view(), values.view(), gamma, 1.0).unwrap();
        for b in 0..2 {
            for t in 0..4 {
                // G_t = Σ_k γ^(k−t) r_k + γ^(4−t) V_4.
                let mut g = gamma.powi(4 - t as i32) * values[[4, b]] as f64;
                for k in t..4 {
                    g += gamma.powi((k - t) as i32) * rewards[[k, b]] as f64;
                }
                assert!(close(out.returns[[t, b]], g, 1e-6), "R[{t},{b}]");
                let want = g - values[[t, b]] as f64;
                assert!(close(out.advantages[[t, b]], want, 1e-6), "A[{t},{b}]");
            }
        }
    }

    #[test]
    fn lambda_zero_gives_the_one_step_td_error() {
        let (rewards, values) = example();
        let gamma = 0.9;
        let out = generalised_advantages(rewards.view(), values.view(), gamma, 0.0).unwrap();
        for b in 0..2 {
            for t in 0..4 {
                let delta = rewards[[t, b]] as f64 + gamma * values[[t + 1, b]] as f64
                    - values[[t, b]] as f64;
                assert!(close(out.advantages[[t, b]], delta, 1e-6), "A[{t},{b}]");
            }
        }
    }

    #[test]
    fn episodes_of_a_batch_are_independent() {
        let (rewards, values) = example();
        let both = generalised_advantages(rewards.view(), values.view(), 0.97, 0.9).unwrap();
        for b in 0..2 {
            let r = rewards.column(b).insert_axis(ndarray::Axis(1)).to_owned();
            let v = values.column(b).insert_axis(ndarray::Axis(1)).to_owned();
            let one = generalised_advantages(r.view(), v.view(), 0.97, 0.9).unwrap();
            assert_eq!(one.advantages.column(0), both.advantages.column(b));
        }
    }

    #[test]
    fn shape_mismatch_is_an_error() {
        let (rewards, values) = example();
        let short = values.slice(ndarray::s![..4, ..]);
        let err = generalised_advantages(rewards.view(), short, 0.9, 0.9).unwrap_err();
        assert!(err.contains("[T + 1, B]"), "{err}");
    }

    #[test]
    fn normalised_advantages_have_mean_zero_and_std_one() {
        let mut a = array![[1.0f32, 2.0, 3.0], [4.0, 5.0, 9.0]];
        let (mean, std) = normalise_advantages(&mut a, 1e-8);
        assert!((mean - 4.0).abs() < 1e-12);
        // Population variance of [1, 2, 3, 4, 5, 9]: (9 + 4 + 1 + 0 + 1 + 25) / 6 = 40/6.
        assert!((std - (40.0f64 / 6.0).sqrt()).abs() < 1e-12);
        let m = a.iter().map(|&x| x as f64).sum::<f64>() / 6.0;
        let v = a.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>() / 6.0;
        assert!(m.abs() < 1e-6 && (v - 1.0).abs() < 1e-6, "{m} {v}");
        assert!(close(a[[0, 0]], -3.0 / std, 1e-6));
        // Equal advantages: the epsilon keeps them finite (all zero).
        let mut flat = Array2::<f32>::from_elem((2, 2), 0.7);
        normalise_advantages(&mut flat, 1e-8);
        assert!(flat.iter().all(|&x| x == 0.0));
    }

    #[test]
    fn settings_validate() {
        GaeSettings::default().validate().unwrap();
        let bad = GaeSettings {
            lambda: 1.5,
            ..GaeSettings::default()
        };
        assert!(bad.validate().unwrap_err().starts_with("rl.gae.lambda"));
        let bad = GaeSettings {
            normalisation_epsilon: 0.0,
            ..GaeSettings::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .starts_with("rl.gae.normalisation_epsilon"));
        let (rewards, values) = example();
        let via_settings =
            advantages_with(&GaeSettings::default(), rewards.view(), values.view()).unwrap();
        let direct = generalised_advantages(rewards.view(), values.view(), 0.99, 0.95).unwrap();
        assert_eq!(via_settings, direct);
    }
}
