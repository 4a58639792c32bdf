//! The training loop of the classification and regression tasks: step-decay schedule,
//! periodic validation, `best` and `last` checkpoints, test evaluation at the end. What every
//! trainer shares (metrics, progress, DEEP R accounting, NaN guard, checkpoints, stop on
//! request) is [`super::session`]; where a resumed run starts is [`super::resume`].

use std::path::{Path, PathBuf};

use serde_json::json;

use super::session::{Ending, Session, SessionStart};
use crate::config::Config;
use crate::engine::{BatchStats, Engine, StepSettings};
use crate::model::Readout;
use crate::plot::run_figures::{draw_connectivity_files, draw_learning_curves};
use crate::tasks::{BatchSource, Split};
use crate::train::raster::draw_raster;

/// What a finished run reports (also the JSON summary line of `lsnn-gpu run`).
#[derive(Clone, Debug, serde::Serialize)]
pub struct TrainSummary {
    pub iterations: usize,
    pub final_loss: f32,
    pub final_train_accuracy: f32,
    pub validation_accuracy: f32,
    pub validation_loss: f32,
    /// What picked `best.safetensors`: the best validation accuracy (classification) ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_validation_accuracy: Option<f32>,
    /// ... or the lowest validation loss (the regression readout, whose accuracy means
    /// nothing). Absent when no validation ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_validation_loss: Option<f32>,
    pub test_accuracy: f32,
    pub test_loss: f32,
    /// What the task adds (TIMIT: frame errors with 61 and 39 phones); omitted when none.
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub task_report: serde_json::Value,
    pub wall_s: f64,
    pub run_dir: PathBuf,
}

/// What `best.safetensors` maximises: validation accuracy, or −loss (MSE) for the regression
/// readout, whose accuracy means nothing.
pub fn validation_score(readout: Readout, loss: f32, accuracy: f32) -> f32 {
    match readout {
        Readout::Regression(_) => -loss,
        _ => accuracy,
    }
}

/// The best [`validation_score`] read back as what it is: (accuracy, loss), one of them set
/// by the readout, neither when no validation ran (the score is −∞).
fn best_accuracy_or_loss(readout: Readout, score: f32) -> (Option<f32>, Option<f32>) {
    if !score.is_finite() {
        return (None, None);
    }
    match readout {
        Readout::Regression(_) => (None, Some(-score)),
        _ => (Some(score), None),
    }
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
    let split = n_regular.min(rates.len());
    (mean(&rates[..split]), mean(&rates[split..]))
}

/// Loss and accuracy over a split (weighted by scored predictions). Batch i is evaluated
/// with noise seed i, so evaluation is deterministic.
pub fn evaluate(
    engine: &mut dyn Engine,
    source: &mut dyn BatchSource,
    split: Split,
) -> anyhow::Result<(f32, f32)> {
    let (mut loss, mut correct, mut scored) = (0.0f64, 0usize, 0usize);
    for i in 0..source.eval_batches(split) {
        let b = source.eval_batch(split, i)?;
        let s = engine.evaluate(&b, i as u32)?;
        loss += s.loss_task as f64 * s.scored as f64;
        correct += s.correct;
        scored += s.scored;
    }
    Ok((
        (loss / scored.max(1) as f64) as f32,
        correct as f32 / scored.max(1) as f32,
    ))
}

/// Noise seed of iteration `it` (M1): a pure function of the run seed and the iteration.
pub fn noise_seed(seed: u64, it: usize) -> u32 {
    (seed as u32) ^ (it as u32).wrapping_mul(0x9E37_79B9)
}

/// Trains `engine` on `source` from `start` to `cfg.train.iterations`, writing metrics and
/// checkpoints into `run_dir` (the skeleton of [`Session`]), then evaluates the test set with
/// the final weights. `best_validation_score` is the best [`validation_score`] of the
/// iterations before `start` (a resumed run).
pub fn train(
    cfg: &Config,
    source: &mut dyn BatchSource,
    engine: &mut dyn Engine,
    run_dir: &Path,
    start: SessionStart,
    best_validation_score: Option<f32>,
) -> anyhow::Result<Ending<TrainSummary>> {
    let t = &cfg.train;
    let first = start.iteration;
    let mut session = Session::open(engine, run_dir, t.iterations, start, "training", "it")?;
    let net = engine.network()?;
    let n_regular = net.n_regular;
    let mut last = None;
    let (mut val_loss, mut val_acc) = (f32::NAN, f32::NAN);
    let mut best = best_validation_score.unwrap_or(f32::NEG_INFINITY);
    for it in first..t.iterations {
        let batch = source.train_batch(it)?;
        let lr = t.learning_rate_at(it);
        let settings = StepSettings::adam(&t.adam, lr, it as u32 + 1, noise_seed(t.seed, it));
        let stats = engine.train_step(&batch, &settings)?;
        session.guard_finite(
            it + 1,
            "loss",
            std::iter::once(stats.loss).chain(stats.rates.iter().copied()).map(f64::from),
            "Check the learning rate (train.learning_rate), the input scale and the thresholds (model.thr > 0).",
        )?;
        let (rate_regular, rate_adaptive) = population_rates_hz(&stats.rates, n_regular);
        let validate_now =
            (cfg.eval.every > 0 && (it + 1) % cfg.eval.every == 0) || it + 1 == t.iterations;
        if validate_now {
            (val_loss, val_acc) = evaluate(engine, source, Split::Validation)?;
        }
        session.record(
            engine,
            json!({
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
                "wall_s": session.wall_s(),
            }),
        )?;
        if validate_now {
            // The best checkpoint first: `last` then always names a state at least as new.
            let score = validation_score(net.sim.readout, val_loss, val_acc);
            if score > best {
                best = score;
                session.checkpoint(engine, "best.safetensors", it + 1, Vec::new())?;
            }
            session.checkpoint(engine, "last.safetensors", it + 1, Vec::new())?;
            draw_learning_curves(run_dir)?;
        }
        // No validation yet in this process (a fresh start, or a resume before its first
        // validation): "val -" rather than "val NaN".
        let val = if val_acc.is_nan() {
            "-".to_string()
        } else {
            format!("{val_acc:.3}")
        };
        session.advance(format!(
            "loss {:.4}  acc {:.3}  val {val}",
            stats.loss,
            stats.accuracy(),
        ));
        last = Some(stats);
        if session.stop_here(engine, it + 1, Vec::new)? {
            return Ok(Ending::Stopped { iteration: it + 1 });
        }
    }
    session.finish_progress();
    let (test_loss, test_acc) = evaluate(engine, source, Split::Test)?;
    session.record_plain(
        &json!({ "iteration": t.iterations, "test_loss": test_loss, "test_accuracy": test_acc }),
    )?;
    draw_learning_curves(run_dir)?;
    let trained = engine.network()?;
    draw_raster(
        run_dir,
        &trained,
        &source.eval_batch(Split::Test, 0)?,
        engine.constraints(),
    )?;
    draw_connectivity_files(run_dir, &trained)?;
    let task_report = source.final_report(engine, run_dir)?;
    let (best_validation_accuracy, best_validation_loss) =
        best_accuracy_or_loss(net.sim.readout, best);
    let last = last.unwrap_or(BatchStats {
        loss: f32::NAN,
        loss_task: f32::NAN,
        loss_reg: f32::NAN,
        correct: 0,
        scored: 0,
        rates: vec![],
    });
    Ok(Ending::Finished(TrainSummary {
        iterations: t.iterations,
        final_loss: last.loss,
        final_train_accuracy: last.accuracy(),
        validation_accuracy: val_acc,
        validation_loss: val_loss,
        best_validation_accuracy,
        best_validation_loss,
        test_accuracy: test_acc,
        test_loss,
        task_report,
        wall_s: session.wall_s(),
        run_dir: run_dir.to_path_buf(),
    }))
}
