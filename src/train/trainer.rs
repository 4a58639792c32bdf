//! The training loop shared by every classification task.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::bail;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::metrics::MetricsLog;
use crate::config::Config;
use crate::engine::{BatchStats, Engine, StepSettings};
use crate::model::checkpoint::{save_checkpoint, TrainState};
use crate::tasks::BatchSource;

/// What a finished run reports (also the JSON summary line of `lsnn-gpu run`).
#[derive(Clone, Debug, serde::Serialize)]
pub struct TrainSummary {
    pub iterations: usize,
    pub final_loss: f32,
    pub final_train_accuracy: f32,
    pub validation_accuracy: f32,
    pub validation_loss: f32,
    pub wall_s: f64,
    pub run_dir: PathBuf,
}

/// Mean firing rates in Hz of the regular and the adaptive neurons.
fn population_rates_hz(rates: &[f32], n_regular: usize) -> (f32, f32) {
    let mean = |s: &[f32]| {
        if s.is_empty() {
            0.0
        } else {
            s.iter().sum::<f32>() / s.len() as f32 * 1000.0
        }
    };
    (
        mean(&rates[..n_regular.min(rates.len())]),
        mean(&rates[n_regular.min(rates.len())..]),
    )
}

/// Loss and accuracy over the validation batches (weighted by scored predictions).
pub fn evaluate(
    engine: &mut dyn Engine,
    batches: &[crate::model::Batch],
) -> anyhow::Result<(f32, f32)> {
    let (mut loss, mut correct, mut scored) = (0.0f64, 0usize, 0usize);
    for (i, b) in batches.iter().enumerate() {
        let s = engine.evaluate(b, i as u32)?;
        loss += s.loss_task as f64 * s.scored as f64;
        correct += s.correct;
        scored += s.scored;
    }
    Ok((
        (loss / scored.max(1) as f64) as f32,
        correct as f32 / scored.max(1) as f32,
    ))
}

fn check_finite(stats: &BatchStats, it: usize) -> anyhow::Result<()> {
    if !stats.loss.is_finite() {
        bail!(
            "non-finite loss ({}) at iteration {it}; the last good checkpoint is kept. Check the learning rate, the input scale and the thresholds (thr > 0).",
            stats.loss
        );
    }
    Ok(())
}

/// Trains `engine` on `source` for `cfg.train.iterations` iterations, writing metrics and
/// checkpoints into `run_dir`.
pub fn train(
    cfg: &Config,
    source: &mut dyn BatchSource,
    engine: &mut dyn Engine,
    constraints: &[u32],
    run_dir: &Path,
) -> anyhow::Result<TrainSummary> {
    let t = &cfg.train;
    let mut log = MetricsLog::create(&run_dir.join("metrics.jsonl"))?;
    let validation = source.validation_batches()?;
    let bar = ProgressBar::new(t.iterations as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} it  {per_sec}  ETA {eta}  {msg}")
            .expect("valid template"),
    );
    let start = Instant::now();
    let n_regular = engine.network()?.n_regular;
    let mut last = None;
    let (mut val_loss, mut val_acc) = (f32::NAN, f32::NAN);
    let checkpoint = |engine: &dyn Engine, it: usize| -> anyhow::Result<()> {
        let (m, v) = engine.adam_moments()?;
        let state = TrainState {
            iteration: it as u64,
            adam_m: m,
            adam_v: v,
            constraints: constraints.to_vec(),
            rng_state: Vec::new(),
        };
        save_checkpoint(
            &run_dir.join("last.safetensors"),
            &engine.network()?,
            Some(&state),
        )
    };
    for it in 0..t.iterations {
        let batch = source.train_batch(it)?;
        let lr = t.learning_rate_at(it);
        let settings = StepSettings {
            lr,
            beta1: t.adam.beta1,
            beta2: t.adam.beta2,
            eps: t.adam.eps,
            step: it as u32 + 1,
            noise_seed: (t.seed as u32) ^ (it as u32).wrapping_mul(0x9E37_79B9),
        };
        let stats = engine.train_step(&batch, &settings)?;
        check_finite(&stats, it)?;
        let (rate_regular, rate_adaptive) = population_rates_hz(&stats.rates, n_regular);
        let validate_now =
            (cfg.eval.every > 0 && (it + 1) % cfg.eval.every == 0) || it + 1 == t.iterations;
        if validate_now {
            (val_loss, val_acc) = evaluate(engine, &validation)?;
            checkpoint(engine, it + 1)?;
        }
        log.write(&json!({
            "iteration": it + 1,
            "loss": stats.loss,
            "loss_task": stats.loss_task,
            "loss_reg": stats.loss_reg,
            "train_accuracy": stats.accuracy(),
            "validation_loss": if validate_now { Some(val_loss) } else { None },
            "validation_accuracy": if validate_now { Some(val_acc) } else { None },
            "rate_regular_hz": rate_regular,
            "rate_adaptive_hz": rate_adaptive,
            "learning_rate": lr,
            "wall_s": start.elapsed().as_secs_f64(),
        }))?;
        bar.set_message(format!(
            "loss {:.4}  acc {:.3}  val {:.3}",
            stats.loss,
            stats.accuracy(),
            val_acc
        ));
        bar.inc(1);
        last = Some(stats);
    }
    bar.finish();
    let last = last.unwrap_or(BatchStats {
        loss: f32::NAN,
        loss_task: f32::NAN,
        loss_reg: f32::NAN,
        correct: 0,
        scored: 0,
        rates: vec![],
    });
    Ok(TrainSummary {
        iterations: t.iterations,
        final_loss: last.loss,
        final_train_accuracy: last.accuracy(),
        validation_accuracy: val_acc,
        validation_loss: val_loss,
        wall_s: start.elapsed().as_secs_f64(),
        run_dir: run_dir.to_path_buf(),
    })
}
