//! The `rl:` section of a config (meta-RL, `docs/experiments.md` §4): the arena,
//! the observation code, GAE, the PPO objective and the policy's exploration noise. The
//! network, its DEEP R and Adam come from the usual sections (`model`, `rewiring`, `train`:
//! `train.iterations` PPO updates of `train.batch_size` episodes each).

use serde::{Deserialize, Serialize};

use super::arena::ArenaSettings;
use super::baselines::RandomWalkSettings;
use super::gae::GaeSettings;
use super::place_cells::PlaceCellSettings;
use super::ppo_loss::PpoLossSettings;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RlConfig {
    pub arena: ArenaSettings,
    pub place_cells: PlaceCellSettings,
    pub gae: GaeSettings,
    pub ppo: PpoLossSettings,
    pub random_walk: RandomWalkSettings,
    /// Passes over each batch of episodes per update, each recomputing the forward pass with
    /// the current weights (PPO's epochs; ours: 4).
    pub epochs: usize,
    /// Minibatches per epoch: each epoch takes this many Adam steps, each on
    /// `train.batch_size / minibatches` episodes (PPO's minibatches; ours: 4).
    pub minibatches: usize,
    /// The policy's log standard deviation at the start (per velocity component, in units of
    /// the top speed; ours: −0.7, σ ≈ 0.5).
    pub initial_log_std: f64,
    /// Adam step size of the learned log standard deviation (0 keeps it fixed; ours: 0.01).
    pub log_std_learning_rate: f64,
    /// The log standard deviation is kept within [min_log_std, max_log_std] (ours: −3, 0.5).
    pub min_log_std: f64,
    pub max_log_std: f64,
    /// Episodes of the final evaluation of the agent and of the baselines (ours: 64).
    pub eval_episodes: usize,
    /// Episodes drawn in the path figures, before and after training (ours: 4).
    pub figure_episodes: usize,
}

impl Default for RlConfig {
    fn default() -> Self {
        RlConfig {
            arena: ArenaSettings::default(),
            place_cells: PlaceCellSettings::default(),
            gae: GaeSettings::default(),
            ppo: PpoLossSettings::default(),
            random_walk: RandomWalkSettings::default(),
            epochs: 4,
            minibatches: 4,
            initial_log_std: -0.7,
            log_std_learning_rate: 0.01,
            min_log_std: -3.0,
            max_log_std: 0.5,
            eval_episodes: 64,
            figure_episodes: 4,
        }
    }
}

impl RlConfig {
    /// Adam steps (BPTT passes) of one PPO update: one per minibatch of each epoch.
    pub fn adam_steps_per_update(&self) -> usize {
        self.epochs * self.minibatches
    }

    /// The 1-based Adam step number of the `i`-th step (i < `adam_steps_per_update`) of PPO
    /// update `update` (0-based): steps count on across updates, so a resumed run continues
    /// Adam's bias correction where it stopped.
    pub fn adam_step_number(&self, update: usize, i: usize) -> u32 {
        (update * self.adam_steps_per_update() + i) as u32 + 1
    }

    /// Checks every field against `steps_per_action` network steps of `dt_ms` per action
    /// (`task.steps_per_frame`, `model.dt`); the message starts with the field's path.
    pub fn validate(&self, steps_per_action: usize, dt_ms: f64) -> Result<(), String> {
        // ArenaSettings names its fields `rl.<field>`: they live under `rl.arena`.
        self.arena
            .validate()
            .map_err(|e| e.replacen("rl.", "rl.arena.", 1))?;
        self.place_cells.validate_for_dt(dt_ms)?;
        self.gae.validate()?;
        self.ppo.validate()?;
        self.random_walk.validate()?;
        let action_ms = self.arena.action_seconds * 1000.0;
        if (action_ms - steps_per_action as f64 * dt_ms).abs() > 1e-9 * action_ms {
            return Err(format!(
                "rl.arena.action_seconds must equal task.steps_per_frame × model.dt (one action \
                 per {steps_per_action} steps of {dt_ms} ms = {} s; got {} s)",
                steps_per_action as f64 * dt_ms / 1000.0,
                self.arena.action_seconds
            ));
        }
        for (name, v) in [
            ("epochs", self.epochs),
            ("minibatches", self.minibatches),
            ("eval_episodes", self.eval_episodes),
            ("figure_episodes", self.figure_episodes),
        ] {
            if v == 0 {
                return Err(format!("rl.{name} must be at least 1"));
            }
        }
        if !(self.log_std_learning_rate.is_finite() && self.log_std_learning_rate >= 0.0) {
            return Err(format!(
                "rl.log_std_learning_rate must be ≥ 0 (got {})",
                self.log_std_learning_rate
            ));
        }
        if !(self.min_log_std.is_finite()
            && self.max_log_std.is_finite()
            && self.min_log_std < self.max_log_std)
        {
            return Err(format!(
                "rl.min_log_std must be below rl.max_log_std (got {} and {})",
                self.min_log_std, self.max_log_std
            ));
        }
        if !(self.min_log_std..=self.max_log_std).contains(&self.initial_log_std) {
            return Err(format!(
                "rl.initial_log_std must lie in [rl.min_log_std, rl.max_log_std] (got {})",
                self.initial_log_std
            ));
        }
        Ok(())
    }
}
