//! The experiment configuration: one YAML schema shared by every experiment, deserialised
//! into typed structs with defaults, then validated. This is the single source of truth for
//! every parameter; nothing numeric is hard-coded elsewhere.
//!
//! Loading (`Config::load`), `--set key.path=value` overrides and validation live in
//! `config/load.rs` and `config/validate.rs`.
//!
//! Each section's type belongs to the module it sets up (docs/architecture.md "Layers"): the
//! model's to `model::settings`, the task's to `tasks::settings`, the data's to
//! `data::settings`, Adam's to `engine`, the device's to `device`, the GPU backend to
//! `gpu::settings`, meta-RL's to `rl::settings`. This module only aggregates them into
//! `Config`, loads and validates it, and hands each lower layer the settings it reads
//! (`task_run`, `init_settings`); nothing below it imports `Config`. The training schedule
//! (`TrainConfig`) and the evaluation settings (`EvalConfig`) are read by the trainers, which
//! sit above this module, so they are defined here.

use serde::{Deserialize, Serialize};

mod load;
mod validate;

pub use crate::data::settings::DataConfig;
pub use crate::device::{DeviceConfig, DeviceKind};
pub use crate::engine::AdamConfig;
pub use crate::gpu::settings::{BackendKind, MAX_DELAY, MAX_NEURONS};
pub use crate::model::init::InitSettings;
pub use crate::model::settings::{
    DaleConfig, ModelConfig, ReadoutConfig, ReadoutKind, RewiringConfig,
};
pub use crate::tasks::settings::{TaskConfig, TaskKind, TaskRun};
pub use load::{apply_override, ConfigError, SourcePos};
pub use validate::{MAX_BATCH, MAX_ESTIMATED_BYTES, MAX_OUTPUTS, MAX_STEPS};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub task: TaskConfig,
    #[serde(default)]
    pub data: DataConfig,
    #[serde(default)]
    pub model: ModelConfig,
    #[serde(default)]
    pub rewiring: Option<RewiringConfig>,
    #[serde(default)]
    pub train: TrainConfig,
    #[serde(default)]
    pub eval: EvalConfig,
    #[serde(default)]
    pub device: DeviceConfig,
    /// Meta-RL (task.kind meta_rl): arena, observation code, GAE, PPO.
    #[serde(default)]
    pub rl: crate::rl::settings::RlConfig,
}

impl Config {
    /// What a task reads from the experiment: its own section, the data and model sections,
    /// the seed and the batch sizes.
    pub fn task_run(&self) -> TaskRun<'_> {
        TaskRun {
            task: &self.task,
            data: &self.data,
            model: &self.model,
            l2l_eval: &self.eval.l2l,
            seed: self.train.seed,
            batch_size: self.train.batch_size,
            eval_batch_size: self.eval.batch_size,
        }
    }

    /// What the initialisation of the network reads (docs/model.md §5).
    pub fn init_settings(&self) -> InitSettings<'_> {
        InitSettings {
            model: &self.model,
            rewiring: self.rewiring.as_ref(),
            seed: self.train.seed,
            steps_per_frame: self.task.steps_per_frame,
            reg_coeff: self.train.reg_coeff,
            reg_rate_hz: self.train.reg_rate_hz,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    pub iterations: usize,
    pub batch_size: usize,
    pub seed: u64,
    /// Initial learning rate (docs/model.md §6).
    pub learning_rate: f32,
    /// The learning rate is multiplied by `lr_decay` every `lr_decay_every` iterations.
    pub lr_decay: f32,
    pub lr_decay_every: usize,
    pub adam: AdamConfig,
    /// c_reg of M9.
    pub reg_coeff: f32,
    /// f0 of M9, Hz.
    pub reg_rate_hz: f32,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            iterations: 36_000,
            batch_size: 256,
            seed: 0,
            learning_rate: 0.01,
            lr_decay: 0.8,
            lr_decay_every: 2500,
            adam: AdamConfig::default(),
            reg_coeff: 0.1,
            reg_rate_hz: 10.0,
        }
    }
}

impl TrainConfig {
    /// Learning rate in force at (0-based) iteration `it`: step decay (docs/model.md §6).
    pub fn learning_rate_at(&self, it: usize) -> f32 {
        let k = it.checked_div(self.lr_decay_every).unwrap_or(0);
        self.learning_rate * self.lr_decay.powi(k as i32)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvalConfig {
    /// Validate every this many iterations (0 = only at the end).
    pub every: usize,
    pub batch_size: usize,
    /// Learning-to-learn: the final evaluation on unseen tasks against the baselines and the
    /// probing of the internal model.
    pub l2l: crate::tasks::l2l_eval::L2lEvalSettings,
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            every: 500,
            batch_size: 256,
            l2l: Default::default(),
        }
    }
}

#[cfg(test)]
mod schedule_tests {
    use super::TrainConfig;

    #[test]
    fn learning_rate_decays_in_steps() {
        let t = TrainConfig {
            learning_rate: 0.01,
            lr_decay: 0.8,
            lr_decay_every: 2500,
            ..TrainConfig::default()
        };
        assert_eq!(t.learning_rate_at(0), 0.01);
        assert_eq!(t.learning_rate_at(2499), 0.01);
        assert!((t.learning_rate_at(2500) - 0.008).abs() < 1e-9);
        assert!((t.learning_rate_at(7600) - 0.01 * 0.8f32.powi(3)).abs() < 1e-9);
        let never = TrainConfig {
            lr_decay_every: 0,
            ..t
        };
        assert_eq!(never.learning_rate_at(100_000), 0.01);
    }
}
