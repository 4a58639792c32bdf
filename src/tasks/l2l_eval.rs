//! Evaluation of a trained learning-to-learn LSNN on unseen tasks, its weights frozen
//! (`docs/experiments.md` §3; the paper's Fig. 2E/F and 2H/I).
//!
//! - [`error_curves`]: the squared error at each pair of an episode, averaged over many new
//!   tasks of the family (test episodes), beside the baselines of `l2l_baselines` on the same
//!   episodes: (a) the optimal linear regressor of each task (a line: it knows all pairs),
//!   (b) the online linear regressor, (c) a fresh 2-10-1 network trained by backprop on the
//!   pairs seen so far. The paper's claim: late in an episode the LSNN is below (a).
//! - [`probe_internal_model`]: after k pairs of an episode, the network's prediction for every
//!   input of a grid, each read from a window that shows the grid input together with the
//!   last target the network was given (exactly what the next pair would show), on a saved
//!   copy of the network's state that is restored after each probe (`Engine::stream_save`,
//!   `stream_restore`): probing never changes what the network goes on to do.

use anyhow::Context as _;
use ndarray::{s, Array3};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::progress::progress_bar;

use super::l2l::L2lTask;
use super::l2l_baselines::{
    backprop_fresh_net, family_mean, online_linear, online_mean, optimal_linear_per_step,
    FreshNetSettings,
};
use super::l2l_encoding::{encode_episodes, encode_pair_into};
use super::l2l_family::{episode_rng, sample_episode, RngPurpose, TaskFamily};
use super::Split;
use crate::engine::Engine;
use crate::plot::figures::moving_average;

/// Tasks averaged into baseline (d), and the (Baseline-purpose) stream they come from.
const FAMILY_MEAN_TASKS: usize = 2000;
const FAMILY_MEAN_STREAM: u64 = u64::MAX;

/// Noise seed of the evaluation passes (M1; the learning-to-learn configs have no noise).
const EVAL_NOISE_SEED: u32 = 0x2E7A_1000;

/// Settings of the final evaluation (config `eval.l2l`). All defaults are ours.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct L2lEvalSettings {
    /// Unseen tasks (test episodes) the error curves average over.
    pub test_episodes: usize,
    /// The late part of an episode, as a fraction of its pairs, that the summary compares:
    /// the paper's claim is about the LSNN's error once it has seen many examples.
    pub late_fraction: f64,
    /// Pairs at which baseline (c) is evaluated (it trains a fresh net per pair and episode);
    /// pairs beyond the episode are left out.
    pub backprop_at_pairs: Vec<usize>,
    /// Test episodes baseline (c) averages over (the first ones).
    pub backprop_episodes: usize,
    /// Baseline (c)'s training; absent = `FreshNetSettings::for_family`.
    pub fresh_net: Option<FreshNetSettings>,
    /// Probe the internal model after these many pairs (Fig. 2H/I); values beyond the
    /// episode are left out.
    pub probe_after_pairs: Vec<usize>,
    /// Probe inputs per input axis: a grid × grid square for target networks, a line of
    /// `grid` values of x for sines.
    pub probe_grid: usize,
    /// Test episodes probed (the first ones; one row of the figure each).
    pub probe_episodes: usize,
    /// Windows (independent input spikes) averaged per probe input.
    pub probe_repeats: usize,
}

impl Default for L2lEvalSettings {
    fn default() -> Self {
        L2lEvalSettings {
            test_episodes: 100,
            late_fraction: 0.2,
            backprop_at_pairs: vec![0, 1, 2, 3, 5, 10, 20, 50, 100, 200, 300, 400, 499],
            backprop_episodes: 20,
            fresh_net: None,
            probe_after_pairs: vec![0, 2, 5, 10, 50, 200],
            probe_grid: 21,
            probe_episodes: 2,
            probe_repeats: 2,
        }
    }
}

impl L2lEvalSettings {
    /// Checks every field; the message names the field (under `eval.l2l`).
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("test_episodes", self.test_episodes),
            ("backprop_episodes", self.backprop_episodes),
            ("probe_episodes", self.probe_episodes),
            ("probe_repeats", self.probe_repeats),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(format!("eval.l2l.{name} must be at least 1"));
        }
        if self.probe_grid < 2 {
            return Err("eval.l2l.probe_grid must be at least 2".to_string());
        }
        if !(self.late_fraction > 0.0 && self.late_fraction <= 1.0) {
            return Err(format!(
                "eval.l2l.late_fraction must be in (0, 1] (got {})",
                self.late_fraction
            ));
        }
        if let Some(f) = &self.fresh_net {
            // FreshNetSettings' messages start with the field's name.
            f.validate()
                .map_err(|e| format!("eval.l2l.fresh_net.{e}"))?;
        }
        Ok(())
    }
}

/// Squared errors per pair over the test episodes: the LSNN's and the baselines'.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorCurves {
    pub family: TaskFamily,
    pub episodes: usize,
    /// Mean over the episodes of the squared error at each pair, [pairs].
    pub lsnn: Vec<f64>,
    /// Baseline (a), per pair (its MSE is their mean: one line in the figure).
    pub optimal_linear: Vec<f64>,
    /// Baseline (b), mean and median over the episodes (its early errors are heavy-tailed).
    pub online_linear: Vec<f64>,
    pub online_linear_median: Vec<f64>,
    /// Baseline (d): the family's mean function m(x) = E_task[f(x)] (what the outer loop alone
    /// can teach; no learning within the episode), per pair.
    pub family_mean: Vec<f64>,
    /// Baseline (e, ours): the mean of the targets seen so far, per pair.
    pub online_mean: Vec<f64>,
    /// Baseline (c): (pair, mean squared error over `backprop_episodes` episodes).
    pub backprop_fresh_net: Vec<(usize, f64)>,
    pub backprop_episodes: usize,
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

impl ErrorCurves {
    pub fn pairs(&self) -> usize {
        self.lsnn.len()
    }

    /// First pair of the late part of an episode (`late_fraction` of its pairs).
    pub fn late_from(&self, late_fraction: f64) -> usize {
        let late = ((self.pairs() as f64 * late_fraction).ceil() as usize).clamp(1, self.pairs());
        self.pairs() - late
    }

    /// The first pair from which the LSNN's error curve (moving average over 11 pairs, to
    /// look past the noise of single pairs) stays below the optimal linear regressor's MSE
    /// to the end of the episode; None if it does not end below it.
    pub fn below_optimal_linear_from(&self) -> Option<usize> {
        let line = mean(&self.optimal_linear);
        let smoothed = moving_average(&self.lsnn, 11);
        let above = smoothed.iter().rposition(|&e| e >= line);
        match above {
            None => Some(0),
            Some(i) if i + 1 < smoothed.len() => Some(i + 1),
            Some(_) => None,
        }
    }

    /// The numbers of the run's summary, under keys that name the LSNN and each baseline.
    pub fn summary(&self, late_fraction: f64) -> serde_json::Value {
        let late = self.late_from(late_fraction);
        let backprop: serde_json::Map<String, serde_json::Value> = self
            .backprop_fresh_net
            .iter()
            .map(|&(t, e)| (t.to_string(), json!(e)))
            .collect();
        json!({
            "family": self.family,
            "test_episodes": self.episodes,
            "pairs_per_episode": self.pairs(),
            "late_pairs_from": late,
            "lsnn_mse": mean(&self.lsnn),
            "lsnn_mse_late": mean(&self.lsnn[late..]),
            "baseline_optimal_linear_mse": mean(&self.optimal_linear),
            "baseline_online_linear_mse": mean(&self.online_linear),
            "baseline_online_linear_mse_late": mean(&self.online_linear[late..]),
            "baseline_family_mean_mse": mean(&self.family_mean),
            "baseline_online_mean_mse": mean(&self.online_mean),
            "baseline_online_mean_mse_late": mean(&self.online_mean[late..]),
            "baseline_backprop_fresh_net_mse_at_pair": backprop,
            "baseline_backprop_fresh_net_episodes": self.backprop_episodes,
            "lsnn_below_optimal_linear_from_pair": self.below_optimal_linear_from(),
        })
    }

    /// One row per pair: pair, lsnn, optimal_linear, online_linear, online_linear_median,
    /// family_mean, online_mean, backprop_fresh_net (empty where not evaluated).
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "pair,lsnn,optimal_linear,online_linear,online_linear_median,family_mean,online_mean,backprop_fresh_net\n",
        );
        for t in 0..self.pairs() {
            let bp = self
                .backprop_fresh_net
                .iter()
                .find(|(p, _)| *p == t)
                .map_or(String::new(), |(_, e)| e.to_string());
            out += &format!(
                "{t},{},{},{},{},{},{},{bp}\n",
                self.lsnn[t],
                self.optimal_linear[t],
                self.online_linear[t],
                self.online_linear_median[t],
                self.family_mean[t],
                self.online_mean[t]
            );
        }
        out
    }
}

/// The LSNN's and the baselines' squared error at each pair, over the first
/// `settings.test_episodes` test episodes of `task` (never seen in training), weights frozen.
pub fn error_curves(
    engine: &mut dyn Engine,
    task: &L2lTask,
    settings: &L2lEvalSettings,
) -> anyhow::Result<ErrorCurves> {
    let family = task.family();
    let pairs = task.pairs();
    let episodes = settings.test_episodes;
    let mut lsnn = vec![0.0; pairs];
    let mut optimal = vec![0.0; pairs];
    let mut online_all: Vec<Vec<f64>> = vec![Vec::with_capacity(episodes); pairs];
    let fresh = settings
        .fresh_net
        .unwrap_or_else(|| FreshNetSettings::for_family(family));
    let bp_pairs: Vec<usize> = settings
        .backprop_at_pairs
        .iter()
        .copied()
        .filter(|&t| t < pairs)
        .collect();
    let bp_episodes = settings.backprop_episodes.min(episodes);
    let mut backprop = vec![0.0; bp_pairs.len()];
    // Baseline (d) from tasks of its own stream (not the test tasks).
    let mut prior_rng = episode_rng(task.seed(), FAMILY_MEAN_STREAM, RngPurpose::Baseline);
    let prior = family_mean(family, FAMILY_MEAN_TASKS, &mut prior_rng);
    let mut family_mean_err = vec![0.0; pairs];
    let mut online_mean_err = vec![0.0; pairs];
    let mut bar = progress_bar(episodes as u64, "evaluating on unseen tasks", "episodes");
    let mut done = 0;
    while done < episodes {
        let b = task.eval_batch_size().min(episodes - done);
        let indices: Vec<u64> = (done..done + b)
            .map(|i| L2lTask::episode_index(Split::Test, i))
            .collect();
        let batch = task.batch_of(&indices)?;
        let outputs = engine.frame_outputs(&batch, EVAL_NOISE_SEED)?;
        anyhow::ensure!(
            outputs.dim() == (pairs, b, 1),
            "frame outputs of shape {:?}, expected ({pairs}, {b}, 1)",
            outputs.dim()
        );
        for (e, &index) in indices.iter().enumerate() {
            let (_, ep) = sample_episode(family, task.seed(), index, pairs);
            for t in 0..pairs {
                lsnn[t] += (outputs[[t, e, 0]] as f64 - ep.targets[t]).powi(2);
            }
            for (acc, err) in optimal
                .iter_mut()
                .zip(optimal_linear_per_step(&ep.inputs, &ep.targets))
            {
                *acc += err;
            }
            for (t, acc) in family_mean_err.iter_mut().enumerate() {
                *acc += (prior(ep.inputs[t]) - ep.targets[t]).powi(2);
            }
            for (acc, err) in online_mean_err
                .iter_mut()
                .zip(online_mean(&ep.targets, family.target_midpoint()))
            {
                *acc += err;
            }
            let online = online_linear(&ep.inputs, &ep.targets, family.target_midpoint());
            for (all, err) in online_all.iter_mut().zip(online) {
                all.push(err);
            }
            if done + e < bp_episodes {
                let mut rng = episode_rng(task.seed(), index, RngPurpose::Baseline);
                let errs = backprop_fresh_net(&ep.inputs, &ep.targets, &fresh, &bp_pairs, &mut rng)
                    .map_err(|e| anyhow::anyhow!("eval.l2l.fresh_net: {e}"))?;
                for (acc, (_, err)) in backprop.iter_mut().zip(errs) {
                    *acc += err;
                }
            }
        }
        done += b;
        bar.set_position(done as u64);
    }
    bar.finish_and_clear();
    let n = episodes as f64;
    Ok(ErrorCurves {
        family,
        episodes,
        lsnn: lsnn.iter().map(|v| v / n).collect(),
        optimal_linear: optimal.iter().map(|v| v / n).collect(),
        online_linear: online_all.iter().map(|v| mean(v)).collect(),
        online_linear_median: online_all.into_iter().map(median).collect(),
        family_mean: family_mean_err.iter().map(|v| v / n).collect(),
        online_mean: online_mean_err.iter().map(|v| v / n).collect(),
        backprop_fresh_net: bp_pairs
            .iter()
            .zip(&backprop)
            .map(|(&t, &e)| (t, e / bp_episodes as f64))
            .collect(),
        backprop_episodes: bp_episodes,
    })
}

/// The probe inputs of `family`: a `side` × `side` grid over the input square (target
/// networks; x1 varies fastest) or `side` values of x with x2 = 0 (sines).
pub fn probe_grid(family: TaskFamily, side: usize) -> Vec<[f64; 2]> {
    let (lo, hi) = family.input_range();
    let at = |i: usize| lo + (hi - lo) * i as f64 / (side - 1) as f64;
    match family.n_inputs() {
        1 => (0..side).map(|i| [at(i), 0.0]).collect(),
        _ => (0..side * side)
            .map(|k| [at(k % side), at(k / side)])
            .collect(),
    }
}

/// One probed episode: the task's true values on the grid and the network's predictions
/// after each number of pairs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbedEpisode {
    pub episode: u64,
    pub truth: Vec<f64>,
    /// [after_pairs.len()][grid]: the mean over `probe_repeats` windows.
    pub predictions: Vec<Vec<f64>>,
    /// The pairs the network had been shown by the last probe (inputs, target).
    pub shown: Vec<([f64; 2], f64)>,
}

/// The network's internal model (Fig. 2H/I).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InternalModel {
    pub family: TaskFamily,
    pub grid_side: usize,
    pub grid: Vec<[f64; 2]>,
    pub after_pairs: Vec<usize>,
    pub episodes: Vec<ProbedEpisode>,
}

/// Probes the network's internal model on the first `settings.probe_episodes` test episodes:
/// the episode runs pair by pair as a stream of forward passes; after k pairs (each k of
/// `probe_after_pairs` within the episode), the state is saved and, for every grid input, a
/// window showing that input with the last target given (what pair k would show; 0 at k = 0)
/// runs and its output is read, the state being restored after each. The restore is exact,
/// so the episode continues as if it had never been probed.
pub fn probe_internal_model(
    engine: &mut dyn Engine,
    task: &L2lTask,
    settings: &L2lEvalSettings,
) -> anyhow::Result<InternalModel> {
    let family = task.family();
    let pop = task.population();
    let pairs = task.pairs();
    let m = pop.steps_per_pair;
    let mut after: Vec<usize> = settings
        .probe_after_pairs
        .iter()
        .copied()
        .filter(|&k| k <= pairs)
        .collect();
    after.sort_unstable();
    after.dedup();
    let grid = probe_grid(family, settings.probe_grid);
    let b = settings.probe_episodes;
    let indices: Vec<u64> = (0..b)
        .map(|i| L2lTask::episode_index(Split::Test, i))
        .collect();
    let (tasks, episodes, encoded) =
        encode_episodes(family, pop, task.seed(), &indices, pairs).map_err(anyhow::Error::msg)?;
    let mut predictions = vec![vec![vec![0.0; grid.len()]; after.len()]; b];
    let mut probe_rngs: Vec<_> = indices
        .iter()
        .map(|&i| episode_rng(task.seed(), i, RngPurpose::Probe))
        .collect();
    let mut probe_x = Array3::<f32>::zeros((m, b, pop.n_channels()));
    let last = after.last().copied().unwrap_or(0);
    engine
        .stream_start(b, m)
        .context("probing the internal model")?;
    let mut bar = progress_bar(
        after.len() as u64,
        "probing the internal model",
        "probe times",
    );
    let mut next_probe = 0;
    for k in 0..=last {
        if after.get(next_probe) == Some(&k) {
            engine.stream_save()?;
            for (g, &x) in grid.iter().enumerate() {
                for _ in 0..settings.probe_repeats {
                    for (e, ep) in episodes.iter().enumerate() {
                        let prev = if k == 0 { 0.0 } else { ep.targets[k - 1] };
                        encode_pair_into(
                            family,
                            pop,
                            x,
                            prev,
                            &mut probe_rngs[e],
                            probe_x.slice_mut(s![.., e, ..]),
                        )
                        .map_err(anyhow::Error::msg)?;
                    }
                    let out = engine.stream_advance(&probe_x, EVAL_NOISE_SEED)?;
                    for (e, row) in predictions.iter_mut().enumerate() {
                        row[next_probe][g] += out[[0, e, 0]] as f64 / settings.probe_repeats as f64;
                    }
                    // An exact restore: the next probe (and the episode) starts from the
                    // state saved after k pairs.
                    engine.stream_restore()?;
                }
            }
            next_probe += 1;
            bar.set_position(next_probe as u64);
        }
        if k < last {
            let window = encoded.x.slice(s![k * m..(k + 1) * m, .., ..]).to_owned();
            engine.stream_advance(&window, EVAL_NOISE_SEED)?;
        }
    }
    bar.finish_and_clear();
    Ok(InternalModel {
        family,
        grid_side: settings.probe_grid,
        grid: grid.clone(),
        after_pairs: after,
        episodes: episodes
            .iter()
            .zip(&tasks)
            .zip(predictions)
            .zip(&indices)
            .map(|(((ep, t), predictions), &episode)| ProbedEpisode {
                episode,
                truth: grid.iter().map(|&x| t.eval(x)).collect(),
                predictions,
                shown: ep
                    .inputs
                    .iter()
                    .zip(&ep.targets)
                    .take(last)
                    .map(|(&x, &y)| (x, y))
                    .collect(),
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curves(lsnn: Vec<f64>, optimal: f64) -> ErrorCurves {
        let n = lsnn.len();
        ErrorCurves {
            family: TaskFamily::TARGET_NETWORKS,
            episodes: 3,
            lsnn,
            optimal_linear: vec![optimal; n],
            online_linear: vec![0.5; n],
            online_linear_median: vec![0.4; n],
            family_mean: vec![0.2; n],
            online_mean: vec![0.25; n],
            backprop_fresh_net: vec![(0, 0.3), (n - 1, 0.1)],
            backprop_episodes: 2,
        }
    }

    #[test]
    fn summary_names_the_lsnn_and_each_baseline() {
        // Falls linearly from 0.2 to 0.0 over 100 pairs; the optimal linear MSE is 0.05.
        let lsnn: Vec<f64> = (0..100).map(|t| 0.2 * (1.0 - t as f64 / 99.0)).collect();
        let c = curves(lsnn.clone(), 0.05);
        let s = c.summary(0.2);
        assert_eq!(s["late_pairs_from"], 80);
        let late = lsnn[80..].iter().sum::<f64>() / 20.0;
        assert!((s["lsnn_mse_late"].as_f64().unwrap() - late).abs() < 1e-12);
        assert!((s["lsnn_mse"].as_f64().unwrap() - 0.1).abs() < 1e-12);
        let close = |key: &str, want: f64| {
            assert!(
                (s[key].as_f64().unwrap() - want).abs() < 1e-12,
                "{key}: {s}"
            );
        };
        close("baseline_optimal_linear_mse", 0.05);
        close("baseline_online_linear_mse_late", 0.5);
        close("baseline_family_mean_mse", 0.2);
        close("baseline_online_mean_mse", 0.25);
        close("baseline_online_mean_mse_late", 0.25);
        assert_eq!(s["baseline_backprop_fresh_net_mse_at_pair"]["99"], 0.1);
        // 0.2·(1 − t/99) < 0.05 from t > 74.25: the 11-pair mean crosses at the same place
        // (the curve is linear), so from pair 75.
        assert_eq!(s["lsnn_below_optimal_linear_from_pair"], 75);
        // A curve that ends above the line: None.
        let up: Vec<f64> = (0..100).map(|t| t as f64 / 100.0).collect();
        assert_eq!(curves(up, 0.05).below_optimal_linear_from(), None);
        let csv = c.to_csv();
        assert_eq!(csv.lines().count(), 101);
        assert!(csv.lines().nth(1).unwrap().ends_with(",0.3"), "{csv}");
        assert!(csv.lines().nth(2).unwrap().ends_with(','), "{csv}");
    }

    #[test]
    fn probe_grids_cover_the_input_range() {
        let g = probe_grid(TaskFamily::TARGET_NETWORKS, 3);
        assert_eq!(g.len(), 9);
        assert_eq!(g[0], [-1.0, -1.0]);
        assert_eq!(g[1], [0.0, -1.0]);
        assert_eq!(g[8], [1.0, 1.0]);
        let g = probe_grid(TaskFamily::SINES, 5);
        assert_eq!(
            g,
            vec![[-5.0, 0.0], [-2.5, 0.0], [0.0, 0.0], [2.5, 0.0], [5.0, 0.0]]
        );
    }

    #[test]
    fn settings_errors_name_the_field() {
        let bad = |f: fn(&mut L2lEvalSettings)| {
            let mut s = L2lEvalSettings::default();
            f(&mut s);
            s.validate().unwrap_err()
        };
        assert!(bad(|s| s.test_episodes = 0).starts_with("eval.l2l.test_episodes "));
        assert!(bad(|s| s.probe_grid = 1).starts_with("eval.l2l.probe_grid "));
        assert!(bad(|s| s.late_fraction = 0.0).starts_with("eval.l2l.late_fraction "));
        let e = bad(|s| {
            s.fresh_net = Some(FreshNetSettings {
                learning_rate: -1.0,
                ..FreshNetSettings::default()
            })
        });
        assert!(e.starts_with("eval.l2l.fresh_net.learning_rate "), "{e}");
        assert!(L2lEvalSettings::default().validate().is_ok());
    }
}
