//! `lsnn-gpu resume`: everything is checked before anything is written. The checkpoint must
//! be readable and hold a training state; its sizes, constants, delays, constraint codes and
//! DEEP R settings must be what the run's `config.yaml` describes; `metrics.jsonl` must be
//! readable up to the checkpoint's iteration. A mismatch is an error naming the field that
//! differs (`model.n_in: config.yaml says 80, last.safetensors has 40`), and the run
//! directory is left as it was. Only [`Resumable::commit`] then writes: the metrics past the
//! checkpoint are dropped (the resumed run writes them again, bit for bit).

use std::fmt::Display;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};

use super::session::SessionStart;
use super::stop::StopRequest;
use super::trainer::validation_score;
use crate::config::Config;
use crate::device::{build_engine, DeviceConfig, Selected};
use crate::engine::Engine;
use crate::files::{split_json_lines, write_atomic};
use crate::model::checkpoint::{load_checkpoint, TrainState};
use crate::model::init::{initialise, Initialised};
use crate::model::Network;

/// A run directory that passed every check of [`check`].
#[derive(Debug)]
pub struct Resumable {
    pub dir: PathBuf,
    /// The network of `last.safetensors`.
    pub network: Network,
    /// Its training state; `deep_r` filled from the config for a checkpoint written before
    /// checkpoints held the DEEP R settings.
    pub state: TrainState,
    /// Completed iterations (the checkpoint's).
    pub iteration: usize,
    /// The best validation score ([`validation_score`]) logged up to the checkpoint.
    pub best_validation_score: Option<f32>,
    /// What `metrics.jsonl` holds once the lines past the checkpoint are dropped.
    kept_metrics: String,
    /// Whether that differs from the file (lines past the checkpoint, a torn last line).
    metrics_change: bool,
}

impl Resumable {
    /// The engine that continues the run on `selected`: built from [`Resumable::network`] and
    /// the checkpoint's constraint codes, with its Adam moments and DEEP R settings restored.
    pub fn engine(
        &self,
        selected: &Selected,
        device: &DeviceConfig,
    ) -> anyhow::Result<Box<dyn Engine>> {
        let mut engine = build_engine(
            selected,
            self.network.clone(),
            &self.state.constraints,
            device,
        )?;
        engine.set_adam_moments(&self.state.adam_m, &self.state.adam_v)?;
        if let Some(d) = &self.state.deep_r {
            engine.set_rewiring(d.clone())?;
        }
        Ok(engine)
    }

    /// Where the resumed session starts.
    pub fn session_start(&self, stop: &StopRequest) -> SessionStart {
        SessionStart {
            iteration: self.iteration,
            init_from: self.state.init_from.clone(),
            stop: stop.clone(),
        }
    }

    /// The one write of a resume before training continues: `metrics.jsonl` cut back to the
    /// checkpoint's iteration (atomically), when anything lies past it.
    pub fn commit(&self) -> anyhow::Result<()> {
        if self.metrics_change {
            write_atomic(
                &self.dir.join("metrics.jsonl"),
                self.kept_metrics.as_bytes(),
            )?;
        }
        Ok(())
    }
}

/// "`field`: config.yaml says `a`, last.safetensors has `b`" when they differ.
fn same<T: PartialEq + Display>(field: &str, config: T, checkpoint: T) -> anyhow::Result<()> {
    if config != checkpoint {
        bail!("{field}: config.yaml says {config}, last.safetensors has {checkpoint}");
    }
    Ok(())
}

/// The first index where two arrays of per-neuron or per-synapse values differ.
fn same_values<T: PartialEq + Display + Copy>(
    field: &str,
    what: &str,
    config: impl IntoIterator<Item = T>,
    checkpoint: impl IntoIterator<Item = T>,
) -> anyhow::Result<()> {
    for (i, (a, b)) in config.into_iter().zip(checkpoint).enumerate() {
        if a != b {
            bail!("{field}: config.yaml gives {what}[{i}] = {a}, last.safetensors has {b}");
        }
    }
    Ok(())
}

/// Checks `last.safetensors` against the network the config describes (`expected`, from
/// [`initialise`]): everything that is not trained must be equal.
fn check_network(expected: &Initialised, net: &Network, state: &TrainState) -> anyhow::Result<()> {
    let e = &expected.network;
    same("model.n_in", e.n_in(), net.n_in())?;
    same("model.n_out", e.n_out(), net.n_out())?;
    if state.init_from.is_some() {
        // A fine-tuned network (`run --init-from`) has its own neurons and constants.
        return Ok(());
    }
    same("model.n_regular", e.n_regular, net.n_regular)?;
    same(
        "model.n_adaptive",
        e.n_rec() - e.n_regular,
        net.n_rec() - net.n_regular,
    )?;
    let (a, b) = (&e.sim, &net.sim);
    same("model.dt", a.dt, b.dt)?;
    same("model.dampening", a.dampening, b.dampening)?;
    same("model.n_ref", a.n_ref, b.n_ref)?;
    same("model.n_delay", a.n_delay, b.n_delay)?;
    same("model.readout.tau_out", a.tau_out, b.tau_out)?;
    same(
        "model.readout",
        a.readout.to_metadata(),
        b.readout.to_metadata(),
    )?;
    same("train.reg_coeff", a.reg_coeff, b.reg_coeff)?;
    same("train.reg_rate_hz", a.reg_rate_hz, b.reg_rate_hz)?;
    same("model.noise_std", a.noise_std, b.noise_std)?;
    let (a, b) = (&e.neurons, &net.neurons);
    same_values(
        "model.tau_m",
        "tau_m",
        a.tau_m.iter().copied(),
        b.tau_m.iter().copied(),
    )?;
    same_values(
        "model.tau_a (or model.tau_a_range, train.seed)",
        "tau_a",
        a.tau_a.iter().copied(),
        b.tau_a.iter().copied(),
    )?;
    same_values(
        "model.beta",
        "beta",
        a.beta.iter().copied(),
        b.beta.iter().copied(),
    )?;
    same_values(
        "model.thr",
        "thr",
        a.thr.iter().copied(),
        b.thr.iter().copied(),
    )?;
    // Delays are drawn from the seed (docs/model.md §5).
    same_values(
        "train.seed (the synaptic delays)",
        "delay_in",
        e.delay_in.iter().copied(),
        net.delay_in.iter().copied(),
    )?;
    same_values(
        "train.seed (the synaptic delays)",
        "delay_rec",
        e.delay_rec.iter().copied(),
        net.delay_rec.iter().copied(),
    )?;
    match (&expected.rewiring, &state.deep_r) {
        (None, None) => {}
        (Some(_), None) => {} // an older checkpoint: the settings come from the config
        (None, Some(_)) => {
            bail!("rewiring: config.yaml has none, last.safetensors rewires (DEEP R)")
        }
        (Some(a), Some(b)) => {
            same("rewiring.l1", a.l1, b.l1)?;
            same("rewiring.temperature", a.temperature, b.temperature)?;
            same(
                "rewiring.dense_gradients",
                a.dense_gradients,
                b.dense_gradients,
            )?;
            if a.budget != b.budget {
                bail!(
                    "rewiring.connectivity: config.yaml gives a budget of {} connections, last.safetensors has {}",
                    a.budget,
                    b.budget
                );
            }
            same("train.seed (DEEP R's draws)", a.seed, b.seed)?;
        }
    }
    // The codes carry Dale's signs and DEEP R's fixed signs (docs/model.md §7).
    same_values(
        "model.dale, rewiring or train.seed (the sign constraints)",
        "constraint",
        expected.constraints.iter().copied(),
        state.constraints.iter().copied(),
    )?;
    Ok(())
}

/// The `config.yaml` of the run in `dir`; an error that says so when `dir` holds no run (a
/// wrong path, or a run killed before it wrote its config).
pub fn config_path(dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join("config.yaml");
    if !path.exists() {
        bail!(
            "{}: no run to resume (no config.yaml): give the directory of a run, or start one with `lsnn-gpu run CONFIG --out {} --overwrite`",
            dir.display(),
            dir.display()
        );
    }
    Ok(path)
}

/// What stops a run directory from resuming when it has no `last.safetensors`.
fn no_checkpoint(dir: &Path, cfg: &Config) -> anyhow::Error {
    let every = if cfg.eval.every > 0 {
        format!("every {} iterations (eval.every)", cfg.eval.every)
    } else {
        "at the end only (eval.every = 0)".to_string()
    };
    anyhow::anyhow!(
        "{}: no checkpoint yet: the run stopped before writing its first last.safetensors (written {every}), so there is nothing to resume; start it again with `lsnn-gpu run {} --out {} --overwrite`",
        dir.display(),
        dir.join("config.yaml").display(),
        dir.display()
    )
}

/// Checks that `dir` can resume with the config `cfg` (its `config.yaml`, already loaded) on
/// a task of `n_in` inputs and `n_out` outputs. Writes nothing.
pub fn check(dir: &Path, cfg: &Config, n_in: usize, n_out: usize) -> anyhow::Result<Resumable> {
    let checkpoint = dir.join("last.safetensors");
    if !checkpoint.exists() {
        return Err(no_checkpoint(dir, cfg));
    }
    let (network, state) = load_checkpoint(&checkpoint)?;
    let mut state = state.with_context(|| {
        format!(
            "{}: no training state (train.*) to resume from",
            checkpoint.display()
        )
    })?;
    let iteration = state.iteration as usize;
    let context = || {
        format!(
            "cannot resume {}: {} does not fit its config.yaml",
            dir.display(),
            checkpoint.display()
        )
    };
    let expected = initialise(&cfg.init_settings(), n_in, n_out);
    check_network(&expected, &network, &state).with_context(context)?;
    if iteration > cfg.train.iterations {
        bail!(
            "cannot resume {}: train.iterations: config.yaml says {}, last.safetensors is already at iteration {iteration}",
            dir.display(),
            cfg.train.iterations
        );
    }
    if state.deep_r.is_none() && state.init_from.is_none() {
        state.deep_r = expected.rewiring;
    }
    let (kept_metrics, metrics_change, best) = read_metrics(dir, cfg, &network, iteration)?;
    Ok(Resumable {
        dir: dir.to_path_buf(),
        network,
        state,
        iteration,
        best_validation_score: best,
        kept_metrics,
        metrics_change,
    })
}

/// The lines of `metrics.jsonl` up to `iteration` (the final test line dropped), whether
/// that changes the file, and the best validation score among them. A torn last line is
/// dropped with a warning; any other unreadable line, or a log that stops short of the
/// checkpoint, is an error.
fn read_metrics(
    dir: &Path,
    cfg: &Config,
    network: &Network,
    iteration: usize,
) -> anyhow::Result<(String, bool, Option<f32>)> {
    let path = dir.join("metrics.jsonl");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && iteration == 0 => String::new(),
        Err(e) => bail!(
            "cannot resume {}: cannot read {}: {e}",
            dir.display(),
            path.display()
        ),
    };
    let split = split_json_lines(&text);
    if let Some(torn) = split.torn {
        crate::stderr::line!(
            "warning: {}: dropping the torn last line ({} bytes, a run stopped while writing it)",
            path.display(),
            torn.len()
        );
    }
    let mut kept = String::new();
    let mut reached = 0usize;
    let mut best: Option<f32> = None;
    for (n, line) in split.lines {
        let v: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| anyhow::anyhow!("{}: line {n}: {e}", path.display()))?;
        let it = v["iteration"]
            .as_u64()
            .with_context(|| format!("{}: line {n}: no `iteration`", path.display()))?
            as usize;
        if it > iteration || v.get("test_accuracy").is_some() {
            continue;
        }
        reached = reached.max(it);
        if let (Some(loss), Some(acc)) = (
            v["validation_loss"].as_f64(),
            v["validation_accuracy"].as_f64(),
        ) {
            let s = validation_score(network.sim.readout, loss as f32, acc as f32);
            best = Some(best.map_or(s, |b| b.max(s)));
        }
        kept.push_str(line);
        kept.push('\n');
    }
    if reached < iteration {
        bail!(
            "cannot resume {}: {} ends at iteration {reached}, before the checkpoint's {iteration} (eval.every = {}): the log of the iterations between would be missing",
            dir.display(),
            path.display(),
            cfg.eval.every
        );
    }
    let change = kept != text;
    Ok((kept, change, best))
}
