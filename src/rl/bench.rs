//! `lsnn-gpu bench --config configs/meta_rl.yaml`: episodes per second of PPO training at the
//! config's size, the projected time for the paper's 300,000 episodes, and the round trip of
//! one action split into the network's pass on the engine and the host's part (observation
//! code and arena step): what decides where the environment steps.

use std::time::Instant;

use serde_json::json;

use ndarray::Array3;

use super::agent::{encode_window, ppo_update, rollout, LogStd, RolloutPlan, N_OUTPUTS};
use super::arena::Arena;
use super::place_cells::RewardSignal;
use super::rng::{rl_episode_rng, RlRngPurpose};
use crate::config::Config;
use crate::device::{build_engine, Selected};
use crate::engine::{Engine, StepSettings};
use crate::model::init::initialise;

/// The paper's number of training episodes (docs/experiments.md §4).
pub const PAPER_EPISODES: f64 = 300_000.0;

/// Seconds for the host's part of one batch of episodes: the observation code of every step
/// and the arena's step of every action, with the policy's mean fixed at 0 (no network).
fn host_seconds(cfg: &Config, indices: &[u64]) -> anyhow::Result<f64> {
    let rl = &cfg.rl;
    let b = indices.len();
    let k = cfg.task.steps_per_frame;
    let mut arena = Arena::new(rl.arena, cfg.train.seed, indices).map_err(anyhow::Error::msg)?;
    let mut rngs: Vec<_> = indices
        .iter()
        .map(|&i| rl_episode_rng(cfg.train.seed, i, RlRngPurpose::InputSpikes))
        .collect();
    let mut signals = vec![RewardSignal::default(); b];
    let mut window = Array3::<f32>::zeros((k, b, rl.place_cells.n_channels()));
    let start = Instant::now();
    for _ in 0..rl.arena.actions_per_episode() {
        encode_window(
            rl,
            arena.positions(),
            &mut signals,
            &mut rngs,
            cfg.model.dt as f64,
            &mut window,
        )?;
        let result = arena.step(&vec![[0.5f32, 0.0]; b]);
        for (e, signal) in signals.iter_mut().enumerate() {
            signal.trigger(&rl.place_cells, result.goal_reached[e], result.hit_wall[e]);
        }
    }
    Ok(start.elapsed().as_secs_f64())
}

/// Times `iters` PPO updates (after one warm-up) on the selected GPU, `native_iters` on the
/// native engine and, if `cpu_iters` > 0, on the CPU reference; one JSON object per device,
/// ratios on stderr.
pub fn run_rl_bench(
    cfg: &Config,
    selected: &Selected,
    iters: usize,
    native_iters: usize,
    cpu_iters: usize,
) -> anyhow::Result<Vec<serde_json::Value>> {
    let rl = &cfg.rl;
    let k = cfg.task.steps_per_frame;
    let b = cfg.train.batch_size;
    let n_in = rl.place_cells.n_channels();
    let init = initialise(&cfg.init_settings(), n_in, N_OUTPUTS);
    let n = init.network.n_rec();
    let actions = rl.arena.actions_per_episode();
    let mut out = Vec::new();
    let mut measure = |device: &str,
                       adapter: String,
                       engine: &mut dyn Engine,
                       warmup: usize,
                       iters: usize|
     -> anyhow::Result<()> {
        crate::stderr::line!(
            "bench meta-RL: {device} ({adapter}), {b} episodes of {actions} actions per update, {n} neurons, {} epochs, {iters} updates...",
            rl.epochs
        );
        let mut log_std = LogStd::new(rl.initial_log_std);
        let (mut rollout_s, mut update_s) = (0.0, 0.0);
        for u in 0..warmup + iters {
            let indices: Vec<u64> = (0..b).map(|e| (u * b + e) as u64).collect();
            let t0 = Instant::now();
            let plan = RolloutPlan {
                steps_per_action: k,
                dt_ms: cfg.model.dt as f64,
                seed: cfg.train.seed,
                stochastic: true,
                traced: 0,
            };
            let roll = rollout(engine, rl, &log_std, &plan, &indices)?;
            let t1 = Instant::now();
            let mut step = |i: usize| {
                let n = rl.adam_step_number(u, i);
                StepSettings::adam(&cfg.train.adam, cfg.train.learning_rate, n, 0)
            };
            ppo_update(engine, rl, k, &roll, &mut log_std, &mut step)?;
            if u >= warmup {
                rollout_s += (t1 - t0).as_secs_f64();
                update_s += t1.elapsed().as_secs_f64();
            }
        }
        let indices: Vec<u64> = (0..b as u64).collect();
        let host_s = host_seconds(cfg, &indices)?;
        let per_update = (rollout_s + update_s) / iters.max(1) as f64;
        let eps = b as f64 / per_update;
        let rollout_per_action_ms = 1e3 * rollout_s / (iters.max(1) * actions) as f64;
        let host_per_action_ms = 1e3 * host_s / actions as f64;
        let r = json!({
            "command": "bench",
            "task": "meta_rl",
            "device": device,
            "adapter": adapter,
            "episodes_per_update": b,
            "actions_per_episode": actions,
            "neurons": n,
            "epochs": rl.epochs,
            "minibatches": rl.minibatches,
            "updates_timed": iters,
            "s_per_update": per_update,
            "rollout_s_per_update": rollout_s / iters.max(1) as f64,
            "ppo_s_per_update": update_s / iters.max(1) as f64,
            "episodes_per_s": eps,
            "projected_hours_300k_episodes": PAPER_EPISODES / eps / 3600.0,
            "round_trip_ms_per_action": rollout_per_action_ms,
            "host_ms_per_action": host_per_action_ms,
            "network_pass_ms_per_action": rollout_per_action_ms - host_per_action_ms,
        });
        crate::stderr::line!(
            "  {per_update:.2} s per update ({:.2} rollout + {:.2} PPO), {eps:.2} episodes/s → 300,000 episodes in {:.1} h; one action: {rollout_per_action_ms:.3} ms round trip, of which {host_per_action_ms:.4} ms on the host (observation + arena, batch of {b})",
            rollout_s / iters.max(1) as f64,
            update_s / iters.max(1) as f64,
            PAPER_EPISODES / eps / 3600.0
        );
        out.push(r);
        Ok(())
    };
    if matches!(selected, Selected::Gpu(_)) {
        let mut engine = build_engine(
            selected,
            init.network.clone(),
            &init.constraints,
            &cfg.device,
        )?;
        if let Some(d) = init.rewiring.clone() {
            engine.set_rewiring(d)?;
        }
        let name = engine.describe();
        measure("gpu", name, engine.as_mut(), 1, iters)?;
    }
    if native_iters > 0 {
        let mut engine = build_engine(
            &Selected::Native,
            init.network.clone(),
            &init.constraints,
            &cfg.device,
        )?;
        if let Some(d) = init.rewiring.clone() {
            engine.set_rewiring(d)?;
        }
        let name = engine.describe();
        measure("native", name, engine.as_mut(), 1, native_iters)?;
    }
    if cpu_iters > 0 {
        let mut engine = build_engine(
            &Selected::Cpu,
            init.network.clone(),
            &init.constraints,
            &cfg.device,
        )?;
        if let Some(d) = init.rewiring.clone() {
            engine.set_rewiring(d)?;
        }
        measure("cpu", "cpu reference".into(), engine.as_mut(), 0, cpu_iters)?;
    }
    let eps_of = |device: &str| {
        out.iter()
            .find(|r| r["device"] == device)
            .and_then(|r| r["episodes_per_s"].as_f64())
    };
    for (fast, slow) in [("gpu", "native"), ("gpu", "cpu"), ("native", "cpu")] {
        if let (Some(f), Some(s)) = (eps_of(fast), eps_of(slow)) {
            crate::stderr::line!(
                "meta-RL: {fast} is {:.1}x {slow} in episodes per second",
                f / s
            );
        }
    }
    Ok(out)
}
