//! The skeleton every training run shares, whatever it trains (classification and regression
//! in [`super::trainer`], meta-RL in `crate::rl::trainer`): the metrics log, progress, the
//! DEEP R accounting of each iteration, the guard against non-finite numbers, checkpoints
//! that carry everything `resume` needs (weights, Adam moments, constraint codes, DEEP R
//! settings), and the stop on request (SIGINT, SIGTERM) at the end of an iteration.
//!
//! The order of one iteration's records is what makes a kill at any moment resumable: the
//! metrics line of iteration i is written (and flushed) before any checkpoint of iteration i,
//! so `metrics.jsonl` always reaches at least the iteration of `last.safetensors`; `resume`
//! drops the lines past it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::json;

use super::metrics::MetricsLog;
use super::stop::StopRequest;
use crate::engine::Engine;
use crate::model::checkpoint::{save_checkpoint, TrainState};
use crate::model::init::rewired_matrices;
use crate::progress::{resumed_progress_bar, Progress};

/// How a training run ended.
#[derive(Clone, Debug)]
pub enum Ending<T> {
    /// Trained to the end: the trainer's summary.
    Finished(T),
    /// Stopped on request after `iteration` iterations, with `last.safetensors` written there.
    Stopped { iteration: usize },
}

/// Where a run starts and how it is told to stop.
#[derive(Clone, Debug, Default)]
pub struct SessionStart {
    /// Completed iterations (0 for a new run; the checkpoint's for `resume`).
    pub iteration: usize,
    /// The checkpoint a fine-tuning run started from (`run --init-from`), recorded in every
    /// checkpoint so that `resume` knows the network is not the config's.
    pub init_from: Option<String>,
    pub stop: StopRequest,
}

/// One training session: from `start` to `total` iterations of one run directory.
pub struct Session {
    dir: PathBuf,
    log: MetricsLog,
    bar: Progress,
    clock: Instant,
    /// Positions per rewired matrix (W_in, W_rec, W_out), for the connectivity of DEEP R.
    capacity: [f64; 3],
    init_from: Option<String>,
    stop: StopRequest,
    /// The iteration of the newest `last.safetensors` this session wrote.
    last_saved: Option<usize>,
}

impl Session {
    /// Opens `metrics.jsonl` of `dir` for appending and starts the progress ("training … it").
    pub fn open(
        engine: &dyn Engine,
        dir: &Path,
        total: usize,
        start: SessionStart,
        what: &str,
        unit: &str,
    ) -> anyhow::Result<Session> {
        let net = engine.network()?;
        Ok(Session {
            dir: dir.to_path_buf(),
            log: MetricsLog::create(&dir.join("metrics.jsonl"))?,
            bar: resumed_progress_bar(total as u64, start.iteration as u64, what, unit),
            clock: Instant::now(),
            capacity: rewired_matrices(net.n_in(), net.n_rec(), net.n_out())
                .map(|m| m.capacity as f64),
            init_from: start.init_from,
            stop: start.stop,
            last_saved: None,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Seconds since the session opened.
    pub fn wall_s(&self) -> f64 {
        self.clock.elapsed().as_secs_f64()
    }

    /// The NaN guard: an error when a value of iteration `iteration` is not finite, before
    /// anything of that iteration is recorded, so the last checkpoint stays the last good one.
    pub fn guard_finite(
        &self,
        iteration: usize,
        what: &str,
        values: impl IntoIterator<Item = f64>,
        hint: &str,
    ) -> anyhow::Result<()> {
        if let Some(bad) = values.into_iter().find(|v| !v.is_finite()) {
            anyhow::bail!(
                "non-finite {what} ({bad}) at iteration {iteration}; the last good checkpoint is kept. {hint}"
            );
        }
        Ok(())
    }

    /// Appends `record` (a JSON object) to `metrics.jsonl` with the DEEP R accounting of the
    /// engine's last step: connections rewired and the connectivity of each matrix (null
    /// without DEEP R).
    pub fn record(
        &mut self,
        engine: &dyn Engine,
        mut record: serde_json::Value,
    ) -> anyhow::Result<()> {
        let rewiring = engine.rewire_stats();
        let c = self.capacity;
        let fields = json!({
            "rewired": rewiring.map(|r| r.rewired),
            "connectivity_w_in": rewiring.map(|r| r.active[0] as f64 / c[0]),
            "connectivity_w_rec": rewiring.map(|r| r.active[1] as f64 / c[1]),
            "connectivity_w_out": rewiring.map(|r| r.active[2] as f64 / c[2]),
        });
        if let (Some(r), Some(f)) = (record.as_object_mut(), fields.as_object()) {
            r.extend(f.clone());
        }
        self.log.write(&record)
    }

    /// Appends a record as it is (the final test line).
    pub fn record_plain(&mut self, record: &serde_json::Value) -> anyhow::Result<()> {
        self.log.write(record)
    }

    /// Writes the engine's network and training state after `iteration` iterations to
    /// `name` in the run directory (atomically: docs/formats.md). `extra` is the trainer's
    /// own state (`train.rng_state`).
    pub fn checkpoint(
        &mut self,
        engine: &dyn Engine,
        name: &str,
        iteration: usize,
        extra: Vec<u8>,
    ) -> anyhow::Result<()> {
        let (adam_m, adam_v) = engine.adam_moments()?;
        let state = TrainState {
            iteration: iteration as u64,
            adam_m,
            adam_v,
            constraints: engine.constraints().to_vec(),
            rng_state: extra,
            deep_r: engine.rewiring().cloned(),
            init_from: self.init_from.clone(),
        };
        save_checkpoint(&self.dir.join(name), &engine.network()?, Some(&state))?;
        if name == "last.safetensors" {
            self.last_saved = Some(iteration);
        }
        Ok(())
    }

    /// After iteration `iteration` is recorded: when a stop was requested, writes
    /// `last.safetensors` there (unless it already is) and says to stop.
    pub fn stop_here(
        &mut self,
        engine: &dyn Engine,
        iteration: usize,
        extra: impl FnOnce() -> Vec<u8>,
    ) -> anyhow::Result<bool> {
        if !self.stop.is_requested() {
            return Ok(false);
        }
        if self.last_saved != Some(iteration) {
            self.checkpoint(engine, "last.safetensors", iteration, extra())?;
        }
        self.bar.finish();
        crate::stderr::line!(
            "stopped on request after iteration {iteration}; `lsnn-gpu resume {}` continues the run",
            self.dir.display()
        );
        Ok(true)
    }

    /// One iteration done: the progress advances, with `message`.
    pub fn advance(&mut self, message: String) {
        self.bar.set_message(message);
        self.bar.inc(1);
    }

    pub fn finish_progress(&mut self) {
        self.bar.finish();
    }
}
