//! Learning-to-learn from a teacher (docs/experiments.md §3) as a source of batches: each sequence
//! is one episode of a new task of the family (target networks or sines), its pairs shown one
//! per `task.steps_per_frame` steps as population-coded spikes (`l2l_encoding`), the target
//! of each pair scored at the end of its window by the regression readout (docs/model.md §4).
//!
//! Training episode e of iteration `it` is episode index it·B + e; validation and test
//! episodes come from disjoint index ranges, so every batch is a pure function of the seed and
//! its index (a resumed run sees the same episodes).

use std::path::{Path, PathBuf};

use anyhow::Context;

use ndarray::Array3;

use super::l2l_encoding::{encode_episodes, PopulationSettings};
use super::l2l_eval::{
    error_curves, probe_internal_model, ErrorCurves, InternalModel, L2lEvalSettings,
};
use super::l2l_family::{FamilyKind, TaskFamily};
use super::l2l_figures::{draw_error_curves, draw_internal_model};
use super::settings::{TaskKind, TaskRun};
use super::{BatchSource, Split};
use crate::engine::Engine;
use crate::files::write_atomic;
use crate::model::{Batch, Targets};

/// The figures of the final evaluation, drawn from its data (`l2l_eval.json`,
/// `l2l_internal_model.json`).
fn draw_figures(run_dir: &Path, curves: &ErrorCurves, model: &InternalModel) -> anyhow::Result<()> {
    draw_error_curves(curves, &run_dir.join("l2l_error_curves.png"))?;
    draw_internal_model(model, &run_dir.join("l2l_internal_model.png"))
}

/// Redraws the figures of the final evaluation from the data written beside them
/// (`lsnn-gpu plot`); none when the run has not reached its final evaluation.
pub fn redraw_figures(run_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let (eval, probe) = (
        run_dir.join("l2l_eval.json"),
        run_dir.join("l2l_internal_model.json"),
    );
    if !eval.exists() || !probe.exists() {
        return Ok(Vec::new());
    }
    let read = |path: &Path| -> anyhow::Result<serde_json::Value> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))
    };
    let curves: ErrorCurves = serde_json::from_value(read(&eval)?["curves"].take())
        .with_context(|| format!("{}: field `curves`", eval.display()))?;
    let model: InternalModel = serde_json::from_value(read(&probe)?)
        .with_context(|| format!("{}: not an internal model", probe.display()))?;
    draw_figures(run_dir, &curves, &model)?;
    Ok(vec![
        run_dir.join("l2l_error_curves.png"),
        run_dir.join("l2l_internal_model.png"),
    ])
}

/// First episode index of the validation and test episodes (training uses 0, 1, 2, …).
const VALIDATION_EPISODES: u64 = 1 << 40;
const TEST_EPISODES: u64 = 1 << 41;

pub struct L2lTask {
    family: TaskFamily,
    settings: PopulationSettings,
    pairs: usize,
    batch_size: usize,
    eval_batch_size: usize,
    /// Episodes per evaluation split.
    eval_episodes: usize,
    seed: u64,
    /// The final evaluation (`final_report`).
    final_eval: L2lEvalSettings,
}

impl L2lTask {
    pub fn from_config(cfg: &TaskRun) -> anyhow::Result<L2lTask> {
        let kind = match cfg.task.kind {
            TaskKind::L2lTn => FamilyKind::TargetNetworks,
            TaskKind::L2lSine => FamilyKind::Sines,
            other => anyhow::bail!("task.kind {other:?} is not a learning-to-learn task"),
        };
        let t = &cfg.task;
        // `Config::validate` has checked the range (finite, lo < hi).
        let family = match t.input_range {
            Some([lo, hi]) => TaskFamily::of_kind(kind).with_input_range(lo as f64, hi as f64),
            None => TaskFamily::of_kind(kind),
        };
        let settings = PopulationSettings {
            neurons_per_value: t.neurons_per_value,
            width: t.population_width as f64,
            peak_rate_hz: t.population_peak_rate_hz as f64,
            steps_per_pair: t.steps_per_frame,
            dt_ms: cfg.model.dt as f64,
        };
        settings
            .validate()
            .map_err(|e| anyhow::anyhow!("task (population coding): {e}"))?;
        anyhow::ensure!(
            t.pairs_per_episode > 0,
            "task.pairs_per_episode must be at least 1"
        );
        Ok(L2lTask {
            family,
            settings,
            pairs: t.pairs_per_episode,
            batch_size: cfg.batch_size,
            eval_batch_size: cfg.eval_batch_size.max(1),
            eval_episodes: cfg.data.validation_size.max(1),
            seed: cfg.seed,
            final_eval: cfg.l2l_eval.clone(),
        })
    }

    pub fn family(&self) -> TaskFamily {
        self.family
    }

    pub fn population(&self) -> &PopulationSettings {
        &self.settings
    }

    pub fn pairs(&self) -> usize {
        self.pairs
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn eval_batch_size(&self) -> usize {
        self.eval_batch_size
    }

    /// The episode index of the `i`-th episode of `split`.
    pub fn episode_index(split: Split, i: usize) -> u64 {
        Self::split_base(split) + i as u64
    }

    /// The batch of episodes `indices`: spikes [T, B, 3N] and the target of each pair at the
    /// last step of its window ([T, B, 1], NaN elsewhere).
    pub fn batch_of(&self, indices: &[u64]) -> anyhow::Result<Batch> {
        let (_, _, encoded) =
            encode_episodes(self.family, &self.settings, self.seed, indices, self.pairs)
                .map_err(|e| anyhow::anyhow!("learning-to-learn episodes: {e}"))?;
        let k = self.settings.steps_per_pair;
        let (steps, b, _) = encoded.x.dim();
        let mut values = Array3::from_elem((steps, b, 1), f32::NAN);
        for ((pair, e), &target) in encoded.targets.indexed_iter() {
            values[[pair * k + k - 1, e, 0]] = target;
        }
        Ok(Batch {
            x: encoded.x,
            targets: Targets::FrameValues(values),
        })
    }

    fn split_base(split: Split) -> u64 {
        match split {
            Split::Validation => VALIDATION_EPISODES,
            Split::Test => TEST_EPISODES,
        }
    }
}

impl BatchSource for L2lTask {
    fn n_in(&self) -> usize {
        self.settings.n_channels()
    }

    fn n_out(&self) -> usize {
        1
    }

    fn train_batch(&mut self, it: usize) -> anyhow::Result<Batch> {
        let first = (it * self.batch_size) as u64;
        let indices: Vec<u64> = (first..first + self.batch_size as u64).collect();
        self.batch_of(&indices)
    }

    fn eval_batches(&self, _split: Split) -> usize {
        self.eval_episodes.div_ceil(self.eval_batch_size)
    }

    fn eval_batch(&mut self, split: Split, index: usize) -> anyhow::Result<Batch> {
        let start = index * self.eval_batch_size;
        let end = (start + self.eval_batch_size).min(self.eval_episodes);
        anyhow::ensure!(start < end, "evaluation batch {index} is out of range");
        let base = Self::split_base(split);
        let indices: Vec<u64> = (start..end).map(|i| base + i as u64).collect();
        self.batch_of(&indices)
    }

    /// The evaluation on unseen tasks against the baselines (Fig. 2E/F) and the probing of the
    /// internal model (Fig. 2H/I): `l2l_eval.json`, `l2l_error_curves.csv`,
    /// `l2l_error_curves.png`, `l2l_internal_model.json` and `.png` in the run directory; the
    /// summary's numbers.
    fn final_report(
        &mut self,
        engine: &mut dyn Engine,
        run_dir: &Path,
    ) -> anyhow::Result<serde_json::Value> {
        let s = &self.final_eval;
        let curves = error_curves(engine, self, s)?;
        let summary = curves.summary(s.late_fraction);
        let model = probe_internal_model(engine, self, s)?;
        let write = |name: &str, text: String| -> anyhow::Result<()> {
            write_atomic(&run_dir.join(name), text.as_bytes())
        };
        write(
            "l2l_eval.json",
            serde_json::to_string_pretty(&serde_json::json!({
                "summary": summary,
                "curves": curves,
            }))?,
        )?;
        write("l2l_error_curves.csv", curves.to_csv())?;
        write(
            "l2l_internal_model.json",
            serde_json::to_string_pretty(&model)?,
        )?;
        draw_figures(run_dir, &curves, &model)?;
        crate::stderr::line!(
            "unseen tasks: LSNN MSE {:.4} over the episode, {:.4} from pair {} on; optimal linear regressor {:.4}",
            summary["lsnn_mse"].as_f64().unwrap_or(f64::NAN),
            summary["lsnn_mse_late"].as_f64().unwrap_or(f64::NAN),
            summary["late_pairs_from"],
            summary["baseline_optimal_linear_mse"].as_f64().unwrap_or(f64::NAN),
        );
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn config(kind: TaskKind) -> Config {
        let mut cfg = Config::default();
        cfg.task.kind = kind;
        cfg.task.steps_per_frame = 20;
        cfg.task.pairs_per_episode = 6;
        cfg.task.neurons_per_value = 10;
        cfg.train.batch_size = 3;
        cfg.eval.batch_size = 2;
        cfg.data.validation_size = 5;
        cfg
    }

    #[test]
    fn batches_score_each_pair_at_the_end_of_its_window() {
        let mut task = L2lTask::from_config(&config(TaskKind::L2lTn).task_run()).unwrap();
        assert_eq!((task.n_in(), task.n_out()), (30, 1));
        let b = task.train_batch(2).unwrap();
        assert_eq!(b.x.dim(), (120, 3, 30));
        let Targets::FrameValues(v) = &b.targets else {
            panic!("regression targets")
        };
        for t in 0..120 {
            for e in 0..3 {
                let scored = v[[t, e, 0]].is_finite();
                assert_eq!(scored, t % 20 == 19, "step {t}");
                if scored {
                    assert!(
                        (0.0..=1.0).contains(&v[[t, e, 0]]),
                        "TN targets lie in [0, 1]"
                    );
                }
            }
        }
        // Pure in the iteration; evaluation batches cover the split, disjoint from training.
        let again = task.train_batch(2).unwrap();
        let Targets::FrameValues(v2) = &again.targets else {
            panic!("regression targets")
        };
        assert_eq!(again.x, b.x);
        assert_eq!(v2.mapv(f32::to_bits), v.mapv(f32::to_bits));
        assert_eq!(task.eval_batches(Split::Validation), 3);
        assert_eq!(task.eval_batch(Split::Validation, 2).unwrap().size(), 1);
        assert_ne!(
            task.eval_batch(Split::Validation, 0).unwrap().x,
            task.eval_batch(Split::Test, 0).unwrap().x
        );
        assert!(task.eval_batch(Split::Test, 3).is_err());
    }

    #[test]
    fn sines_and_bad_settings() {
        let task = L2lTask::from_config(&config(TaskKind::L2lSine).task_run()).unwrap();
        assert_eq!(task.family(), TaskFamily::SINES);
        let mut cfg = config(TaskKind::L2lTn);
        cfg.task.neurons_per_value = 0;
        let e = L2lTask::from_config(&cfg.task_run())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("neurons_per_value"), "{e}");
    }

    #[test]
    fn the_input_range_comes_from_the_config() {
        let mut cfg = config(TaskKind::L2lTn);
        assert_eq!(
            L2lTask::from_config(&cfg.task_run()).unwrap().family(),
            TaskFamily::TARGET_NETWORKS
        );
        cfg.task.input_range = Some([-5.0, 5.0]);
        let task = L2lTask::from_config(&cfg.task_run()).unwrap();
        assert_eq!(task.family().kind, FamilyKind::TargetNetworks);
        assert_eq!(task.family().input_range(), (-5.0, 5.0));
    }
}
