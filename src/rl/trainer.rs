//! The meta-RL training run (`lsnn-gpu run configs/meta_rl.yaml`): PPO updates of the LSNN
//! agent over batches of whole episodes, metrics per update, `last` checkpoints (resumable),
//! and at the end the evaluation against the random-walk and oracle baselines with the
//! figures of the paper's Fig. 3.

use std::path::{Path, PathBuf};

use ndarray::s;
use serde_json::json;

use super::agent::{ppo_update, rollout, LogStd, Rollout, RolloutPlan, N_OUTPUTS};
use super::arena::PathRecord;
use super::baselines::run_baselines;
use super::figures::{draw_goal_curve, draw_path_lengths, draw_paths, CurvePoint, PathLengthStats};
use super::trace::EpisodeTrace;
use crate::config::Config;
use crate::engine::{Engine, StepSettings};
use crate::files::write_json_atomic;
use crate::model::{Batch, Targets};
use crate::plot::run_figures::{draw_connectivity_files, draw_learning_curves};
use crate::train::raster::draw_raster;
use crate::train::session::{Ending, Session, SessionStart};
use crate::train::trainer::noise_seed;

/// First episode index of the evaluation episodes (training uses update × B + b).
const EVAL_EPISODES: u64 = 1 << 40;

/// Where a run starts: the update of its last checkpoint (and the stop request) and the
/// policy's log-std then.
pub struct RlStart {
    pub session: SessionStart,
    pub log_std: LogStd,
}

/// Mean actions per path of the first, second and last path of each episode (episodes with
/// fewer paths left out of that mean; NaN if none has one).
pub fn path_length_stats(name: &str, paths: &[Vec<PathRecord>]) -> PathLengthStats {
    let mean = |pick: &dyn Fn(&[PathRecord]) -> Option<usize>| {
        let v: Vec<f64> = paths
            .iter()
            .filter_map(|p| pick(p))
            .map(|a| a as f64)
            .collect();
        if v.is_empty() {
            f64::NAN
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    PathLengthStats {
        name: name.to_string(),
        first: mean(&|p| p.first().map(|r| r.actions)),
        second: mean(&|p| p.get(1).map(|r| r.actions)),
        last: mean(&|p| (p.len() >= 2).then(|| p[p.len() - 1].actions)),
    }
}

/// Trains the agent from `start` to `train.iterations` updates; returns the summary. The
/// checkpoints (`last.safetensors`) hold the policy's log-std in `train.rng_state`.
pub fn train_meta_rl(
    cfg: &Config,
    engine: &mut dyn Engine,
    run_dir: &Path,
    start: RlStart,
) -> anyhow::Result<Ending<serde_json::Value>> {
    let rl = &cfg.rl;
    let t = &cfg.train;
    let k = cfg.task.steps_per_frame;
    let dt = cfg.model.dt as f64;
    let b = t.batch_size;
    let mut log_std = start.log_std;
    let first_update = start.session.iteration;
    let mut session = Session::open(
        engine,
        run_dir,
        t.iterations,
        start.session,
        "meta-RL",
        "updates",
    )?;
    let before_path = run_dir.join("paths_before.json");
    let mut episodes_run = 0usize;
    for update in first_update..t.iterations {
        let first = (update * b) as u64;
        let indices: Vec<u64> = (first..first + b as u64).collect();
        let traced = if update == 0 { rl.figure_episodes } else { 0 };
        let plan = RolloutPlan {
            steps_per_action: k,
            dt_ms: dt,
            seed: t.seed,
            stochastic: true,
            traced,
        };
        let roll = rollout(engine, rl, &log_std, &plan, &indices)?;
        if update == 0 {
            write_json_atomic(&before_path, &roll.traces)?;
        }
        let lr = t.learning_rate_at(update);
        let mut step = |i: usize| {
            let n = rl.adam_step_number(update, i);
            StepSettings::adam(&t.adam, lr, n, noise_seed(t.seed, update))
        };
        let stats = ppo_update(engine, rl, k, &roll, &mut log_std, &mut step)?;
        session.guard_finite(
            update + 1,
            "PPO loss",
            [stats.loss],
            "Lower train.learning_rate.",
        )?;
        episodes_run += b;
        let wall = session.wall_s();
        session.record(
            engine,
            json!({
                "iteration": update + 1,
                "episodes": (update + 1) * b,
                "goals_per_episode": roll.mean_goals(),
                "mean_return": roll.mean_return(),
                "loss": stats.loss,
                "policy_loss": stats.policy_loss,
                "value_loss": stats.value_loss,
                "entropy": stats.entropy,
                "approx_kl": stats.approx_kl,
                "clip_fraction": stats.clip_fraction,
                "log_std": log_std.value,
                "rate_hz": stats.rate_hz,
                "learning_rate": lr,
                "episodes_per_s": episodes_run as f64 / wall,
                "wall_s": wall,
            }),
        )?;
        let checkpoint_now = (cfg.eval.every > 0 && (update + 1) % cfg.eval.every == 0)
            || update + 1 == t.iterations;
        if checkpoint_now {
            session.checkpoint(engine, "last.safetensors", update + 1, log_std.to_bytes())?;
            draw_curves(run_dir)?;
        }
        session.advance(format!(
            "goals/episode {:.2}  return {:.2}  kl {:.4}",
            roll.mean_goals(),
            roll.mean_return(),
            stats.approx_kl
        ));
        if session.stop_here(engine, update + 1, || log_std.to_bytes())? {
            return Ok(Ending::Stopped {
                iteration: update + 1,
            });
        }
    }
    session.finish_progress();
    let training_wall = session.wall_s();
    final_report(cfg, engine, run_dir, &log_std, episodes_run, training_wall).map(Ending::Finished)
}

/// The learning curves of `metrics.jsonl`: goals per episode (with the baselines, once the
/// final evaluation has measured them) and the usual loss panels.
fn draw_curves(run_dir: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(run_dir.join("metrics.jsonl")).unwrap_or_default();
    let points: Vec<CurvePoint> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            Some(CurvePoint {
                episodes: v["episodes"].as_f64()?,
                goals_per_episode: v["goals_per_episode"].as_f64()?,
                mean_return: v["mean_return"].as_f64()?,
            })
        })
        .collect();
    let baselines: Option<(f64, f64)> = std::fs::read_to_string(run_dir.join("rl_eval.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| {
            Some((
                v["baseline_random_walk_goals_per_episode"].as_f64()?,
                v["baseline_oracle_goals_per_episode"].as_f64()?,
            ))
        });
    let (random, oracle) = baselines.unwrap_or((f64::NAN, f64::NAN));
    if !points.is_empty() {
        draw_goal_curve(
            &points,
            random,
            oracle,
            &run_dir.join("goals_per_episode.png"),
        )?;
    }
    draw_learning_curves(run_dir)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// The figures of a meta-RL run directory from its files (`metrics.jsonl`, `rl_eval.json`,
/// `paths_before.json`, `paths_after.json`): what `run` draws at its end and `lsnn-gpu plot`
/// draws again. Returns the figures written.
pub fn redraw_figures(cfg: &Config, run_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    draw_curves(run_dir)?;
    written.push(run_dir.join("learning_curves.png"));
    if run_dir.join("goals_per_episode.png").exists() {
        written.push(run_dir.join("goals_per_episode.png"));
    }
    for (file, title) in [
        ("paths_before", "Agent paths before training (first update)"),
        ("paths_after", "Agent paths after training (weights frozen)"),
    ] {
        let traces: Vec<EpisodeTrace> =
            read_json(&run_dir.join(format!("{file}.json"))).unwrap_or_default();
        if !traces.is_empty() {
            let png = run_dir.join(format!("{file}.png"));
            draw_paths(&cfg.rl.arena, &traces, title, &png)?;
            written.push(png);
        }
    }
    if let Some(report) = read_json::<serde_json::Value>(&run_dir.join("rl_eval.json")) {
        let lengths: Vec<PathLengthStats> = report["path_length_actions"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|l| {
                        let v = |k: &str| l[k].as_f64().unwrap_or(f64::NAN);
                        PathLengthStats {
                            name: l["agent"].as_str().unwrap_or("?").to_string(),
                            first: v("first"),
                            second: v("second"),
                            last: v("last"),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !lengths.is_empty() {
            let png = run_dir.join("path_lengths.png");
            draw_path_lengths(&lengths, &png)?;
            written.push(png);
        }
    }
    Ok(written)
}

/// The trained agent (weights frozen) on `rl.eval_episodes` new episodes, beside the random
/// walk and the oracle on the same episodes; figures and `rl_eval.json`.
fn final_report(
    cfg: &Config,
    engine: &mut dyn Engine,
    run_dir: &Path,
    log_std: &LogStd,
    episodes_run: usize,
    training_wall: f64,
) -> anyhow::Result<serde_json::Value> {
    let rl = &cfg.rl;
    let k = cfg.task.steps_per_frame;
    let dt = cfg.model.dt as f64;
    let n = rl.eval_episodes;
    let batch = cfg.eval.batch_size.max(1);
    let mut goals = Vec::with_capacity(n);
    let mut paths = Vec::with_capacity(n);
    let mut returns = Vec::with_capacity(n);
    let mut traces = Vec::new();
    let mut first_batch: Option<Rollout> = None;
    let mut done = 0;
    while done < n {
        let m = batch.min(n - done);
        let indices: Vec<u64> = (done..done + m).map(|i| EVAL_EPISODES + i as u64).collect();
        let traced = rl.figure_episodes.saturating_sub(traces.len());
        let plan = RolloutPlan {
            steps_per_action: k,
            dt_ms: dt,
            seed: cfg.train.seed,
            stochastic: true,
            traced,
        };
        let roll = rollout(engine, rl, log_std, &plan, &indices)?;
        goals.extend(&roll.goals);
        returns.extend(&roll.returns);
        paths.extend(roll.paths.iter().cloned());
        traces.extend(roll.traces.iter().cloned());
        if first_batch.is_none() {
            first_batch = Some(roll);
        }
        done += m;
    }
    let indices: Vec<u64> = (0..n).map(|i| EVAL_EPISODES + i as u64).collect();
    let base = run_baselines(&rl.arena, &rl.random_walk, cfg.train.seed, &indices)
        .map_err(anyhow::Error::msg)?;
    let agent_goals = goals.iter().sum::<usize>() as f64 / n as f64;
    let lengths = [
        path_length_stats("LSNN agent", &paths),
        path_length_stats("random walk", &base.random_walk.paths),
        path_length_stats("oracle", &base.oracle.paths),
    ];
    let report = json!({
        "eval_episodes": n,
        "goals_per_episode": agent_goals,
        "mean_return": returns.iter().sum::<f64>() / n as f64,
        "baseline_random_walk_goals_per_episode": base.random_walk.mean_goals_per_episode,
        "baseline_oracle_goals_per_episode": base.oracle.mean_goals_per_episode,
        "path_length_actions": lengths.iter().map(|l| json!({
            "agent": l.name, "first": l.first, "second": l.second, "last": l.last
        })).collect::<Vec<_>>(),
        "episodes_trained": cfg.train.iterations * cfg.train.batch_size,
        "episodes_this_session": episodes_run,
        "training_wall_s": training_wall,
        "episodes_per_s": episodes_run as f64 / training_wall.max(1e-9),
        "log_std": log_std.value,
    });
    write_json_atomic(&run_dir.join("rl_eval.json"), &report)?;
    write_json_atomic(&run_dir.join("paths_after.json"), &traces)?;
    redraw_figures(cfg, run_dir)?;
    // A raster of the first evaluation episode (CPU reference) and the connectivity.
    let trained = engine.network()?;
    if let Some(roll) = first_batch {
        let x = roll.x.slice(s![.., 0..1, ..]).to_owned();
        let steps = x.dim().0;
        let batch = Batch {
            x,
            targets: Targets::FrameValues(ndarray::Array3::from_elem(
                (steps, 1, N_OUTPUTS),
                f32::NAN,
            )),
        };
        draw_raster(run_dir, &trained, &batch, engine.constraints())?;
    }
    draw_connectivity_files(run_dir, &trained)?;
    crate::stderr::line!(
        "goals per episode: agent {agent_goals:.2}, random walk {:.2}, oracle {:.2}",
        base.random_walk.mean_goals_per_episode,
        base.oracle.mean_goals_per_episode
    );
    Ok(json!({
        "updates": cfg.train.iterations,
        "task_report": report,
        "wall_s": training_wall,
        "run_dir": PathBuf::from(run_dir),
    }))
}
