//! TIMIT framewise phone classification (docs/experiments.md §2): 39 MFCC features per 10 ms frame,
//! each frame presented for `task.steps_per_frame` simulation steps as analog input currents,
//! one of the 61 phones read out per frame (the framewise readout averages y_t over the
//! frame's steps, docs/model.md §4).
//!
//! Utterances differ in length: a batch is padded to its longest utterance (padded frames have
//! zero input and label −1, so they are not scored). To waste little on padding, training
//! batches are buckets of utterances of similar length: each epoch sorts the training set by
//! length plus a seeded jitter, cuts it into batches and shuffles their order; all of it a pure
//! function of (seed, epoch), so a resumed run sees the same batches. Evaluation batches are
//! the split sorted by length.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use ndarray::{Array2, Array3};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::settings::TaskRun;
use super::{BatchSource, Split};
use crate::data::timit::cache::{
    load_or_extract, FeatureRequest, TimitFeatures, UtteranceFeatures,
};
use crate::data::timit::corpus::SpeakerLists;
use crate::data::timit::phones::{fold_39, folded_match, PHONES_39, PHONES_61};
use crate::engine::Engine;
use crate::files::{write_atomic, write_json_atomic};
use crate::model::{Batch, Targets};
use crate::plot::confusion_figure::{draw_confusion, draw_per_class_error};

/// How a frame's features enter the network.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameInput {
    /// The z-scored features as input currents, one channel each (docs/experiments.md §2).
    #[default]
    Analog,
    /// Bernoulli spikes (ours): channel 2c fires for feature c above its mean, 2c + 1 below,
    /// with probability per step |z|/saturation × rate × dt (capped at the saturation).
    /// Fresh spikes every training iteration; fixed ones for each evaluation batch.
    Spikes,
}

/// Spike-encoding parameters (`task.feature_spike_rate_hz`, `task.feature_saturation`).
#[derive(Clone, Copy, Debug)]
struct SpikeCoding {
    /// Spike probability per step at saturation.
    p_max: f64,
    saturation: f32,
    /// The value of a spike (1/dt, M5).
    value: f32,
}

/// RNG streams of the spike encoding: training iteration `it` uses stream `it`.
const VALIDATION_SPIKES: u64 = 1 << 40;
const TEST_SPIKES: u64 = 1 << 41;

/// The environment variable naming the corpus when `data.path` is not set.
pub const TIMIT_DIR_ENV: &str = "TIMIT_DIR";

/// Frames of length jitter when bucketing training batches (ours): batches change from epoch
/// to epoch while staying within ~this many frames of padding.
const BUCKET_JITTER_FRAMES: f64 = 30.0;

pub struct TimitTask {
    features: TimitFeatures,
    /// Training utterances in the order of the current epoch's batches.
    epoch: Option<(usize, Vec<Vec<usize>>)>,
    /// Split index lists sorted by length (evaluation batching).
    dev_order: Vec<usize>,
    test_order: Vec<usize>,
    batch_size: usize,
    eval_batch_size: usize,
    steps_per_frame: usize,
    /// None: analog input.
    spikes: Option<SpikeCoding>,
    seed: u64,
}

/// The corpus directory: `data.path`, else `TIMIT_DIR`, else an error that says both.
pub fn corpus_path(cfg: &TaskRun) -> anyhow::Result<PathBuf> {
    if let Some(p) = &cfg.data.path {
        return Ok(PathBuf::from(p));
    }
    match std::env::var_os(TIMIT_DIR_ENV) {
        Some(p) if !p.is_empty() => Ok(PathBuf::from(p)),
        _ => anyhow::bail!(
            "task.kind timit needs the TIMIT corpus (LDC93S1): set data.path in the config, pass --set data.path=/path/to/TIMIT, or set the {TIMIT_DIR_ENV} environment variable; the directory must hold TRAIN/ and TEST/ with DR1..DR8/<speaker>/<utterance>.WAV and .PHN files (either case)"
        ),
    }
}

fn sorted_by_length(list: &[UtteranceFeatures]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..list.len()).collect();
    order.sort_by_key(|&i| (list[i].frames(), i));
    order
}

impl TimitTask {
    /// Loads (or extracts and caches) the features of the configured corpus. `default_cache_dir`
    /// is used unless `data.cache_dir` is set.
    pub fn from_config(cfg: &TaskRun, default_cache_dir: &Path) -> anyhow::Result<TimitTask> {
        let defaults = SpeakerLists::default();
        let request = FeatureRequest {
            corpus: corpus_path(cfg)?,
            lists: SpeakerLists {
                core_test: cfg
                    .data
                    .core_test_speakers
                    .clone()
                    .unwrap_or(defaults.core_test),
                dev: cfg.data.dev_speakers.clone().unwrap_or(defaults.dev),
            },
            holdout_seed: cfg.seed,
            holdout_speakers: cfg.data.holdout_speakers,
            settings: cfg.data.mfcc.clone(),
            cache_dir: cfg
                .data
                .cache_dir
                .as_ref()
                .map_or_else(|| default_cache_dir.to_path_buf(), PathBuf::from),
        };
        let features = load_or_extract(&request)?;
        crate::stderr::line!(
            "TIMIT: {} training, {} validation, {} core-test utterances; features {} {}",
            features.train.len(),
            features.dev.len(),
            features.core_test.len(),
            if features.from_cache {
                "loaded from"
            } else {
                "cached in"
            },
            features.cache_file.display()
        );
        anyhow::ensure!(
            features.train.len() >= cfg.batch_size,
            "{}: {} training utterances, fewer than train.batch_size = {}",
            request.corpus.display(),
            features.train.len(),
            cfg.batch_size
        );
        anyhow::ensure!(
            !features.dev.is_empty(),
            "{}: no validation utterances (no development speaker and no hold-out)",
            request.corpus.display()
        );
        Ok(TimitTask {
            dev_order: sorted_by_length(&features.dev),
            test_order: sorted_by_length(&features.core_test),
            features,
            epoch: None,
            batch_size: cfg.batch_size,
            eval_batch_size: cfg.eval_batch_size.max(1),
            steps_per_frame: cfg.task.steps_per_frame,
            spikes: match cfg.task.frame_input {
                FrameInput::Analog => None,
                FrameInput::Spikes => Some(SpikeCoding {
                    p_max: (cfg.task.feature_spike_rate_hz * cfg.model.dt / 1000.0).min(1.0) as f64,
                    saturation: cfg.task.feature_saturation,
                    value: 1.0 / cfg.model.dt,
                }),
            },
            seed: cfg.seed,
        })
    }

    pub fn features(&self) -> &TimitFeatures {
        &self.features
    }

    /// Training batches per epoch (the last incomplete bucket is dropped).
    fn batches_per_epoch(&self) -> usize {
        (self.features.train.len() / self.batch_size).max(1)
    }

    /// The utterances of each batch of `epoch`, in the order they are trained.
    fn epoch_batches(&self, epoch: usize) -> Vec<Vec<usize>> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0x7141_7000 ^ (epoch as u64) << 20);
        let train = &self.features.train;
        let mut keyed: Vec<(f64, usize)> = (0..train.len())
            .map(|i| {
                let jitter: f64 = rng.random_range(0.0..BUCKET_JITTER_FRAMES);
                (train[i].frames() as f64 + jitter, i)
            })
            .collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut batches: Vec<Vec<usize>> = keyed
            .chunks_exact(self.batch_size)
            .map(|c| c.iter().map(|&(_, i)| i).collect())
            .collect();
        batches.shuffle(&mut rng);
        batches
    }

    /// A padded batch of utterances: [T, B, n_in] inputs and [T, B] labels, T = k × the
    /// longest utterance's frames. `stream` keys the spike encoding's random numbers.
    fn make_batch(&self, list: &[UtteranceFeatures], indices: &[usize], stream: u64) -> Batch {
        let k = self.steps_per_frame;
        let n_features = self.features.mean.len();
        let frames = indices.iter().map(|&i| list[i].frames()).max().unwrap_or(1);
        let b = indices.len();
        let mut x = Array3::<f32>::zeros((frames * k, b, self.n_in()));
        let mut labels = Array2::<i32>::from_elem((frames * k, b), -1);
        let (mean, std) = (&self.features.mean, &self.features.std);
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0x5b1c_e000_0000);
        rng.set_stream(stream);
        let mut z = vec![0.0f32; n_features];
        for (bi, &i) in indices.iter().enumerate() {
            let u = &list[i];
            for (f, row) in u.features.rows().into_iter().enumerate() {
                for (c, &v) in row.iter().enumerate() {
                    z[c] = (v - mean[c]) / std[c];
                }
                for s in f * k..(f + 1) * k {
                    labels[[s, bi]] = u.labels[f] as i32;
                    match &self.spikes {
                        None => {
                            for (c, &zc) in z.iter().enumerate() {
                                x[[s, bi, c]] = zc;
                            }
                        }
                        Some(sc) => {
                            for (c, &zc) in z.iter().enumerate() {
                                let p = (zc.abs() / sc.saturation).min(1.0) as f64 * sc.p_max;
                                if rng.random_bool(p) {
                                    x[[s, bi, 2 * c + usize::from(zc < 0.0)]] = sc.value;
                                }
                            }
                        }
                    }
                }
            }
        }
        Batch {
            x,
            targets: Targets::FrameLabels(labels),
        }
    }

    fn split(&self, split: Split) -> (&[UtteranceFeatures], &[usize]) {
        match split {
            Split::Validation => (&self.features.dev, &self.dev_order),
            Split::Test => (&self.features.core_test, &self.test_order),
        }
    }

    /// Frame errors over a split with 61 phones and folded to 39, and the 61 × 61 confusion
    /// counts [target][predicted]. Batch i uses noise seed i, as `train::evaluate`.
    pub fn frame_errors(
        &mut self,
        engine: &mut dyn Engine,
        split: Split,
    ) -> anyhow::Result<FrameErrors> {
        let mut confusion = vec![vec![0u64; PHONES_61.len()]; PHONES_61.len()];
        for i in 0..self.eval_batches(split) {
            let batch = self.eval_batch(split, i)?;
            let (_, predicted) = engine.predict(&batch, i as u32)?;
            let Targets::FrameLabels(labels) = &batch.targets else {
                unreachable!("TIMIT batches have frame labels")
            };
            let k = self.steps_per_frame;
            for ((f, b), &p) in predicted.indexed_iter() {
                let target = labels[[f * k + k - 1, b]];
                if target >= 0 {
                    confusion[target as usize][p as usize] += 1;
                }
            }
        }
        Ok(FrameErrors::from_confusion(confusion))
    }
}

/// Frame errors from the confusion counts of the 61 phones.
#[derive(Clone, Debug, PartialEq)]
pub struct FrameErrors {
    /// [target][predicted], 61 × 61.
    pub confusion_61: Vec<Vec<u64>>,
    /// Folded to the 39 classes (frames whose target has no class are left out).
    pub confusion_39: Vec<Vec<u64>>,
    pub frames: u64,
    pub error_61: f64,
    pub error_39: f64,
}

impl FrameErrors {
    pub fn from_confusion(confusion_61: Vec<Vec<u64>>) -> FrameErrors {
        // The 39-class error scores every frame whose target has a class (all but the glottal
        // stop q, phones.rs); a prediction of q is wrong for any of them. The 39 × 39 matrix
        // (for the figure) has no column for such predictions.
        let mut confusion_39 = vec![vec![0u64; PHONES_39.len()]; PHONES_39.len()];
        let (mut scored_39, mut right_39) = (0u64, 0u64);
        for (t, row) in confusion_61.iter().enumerate() {
            for (p, &c) in row.iter().enumerate() {
                if let Some(right) = folded_match(p, t) {
                    scored_39 += c;
                    right_39 += if right { c } else { 0 };
                }
                if let (Some(t39), Some(p39)) = (fold_39(t), fold_39(p)) {
                    confusion_39[t39][p39] += c;
                }
            }
        }
        let frames: u64 = confusion_61.iter().flatten().sum();
        let right_61: u64 = (0..confusion_61.len()).map(|i| confusion_61[i][i]).sum();
        let rate = |right: u64, total: u64| {
            if total == 0 {
                f64::NAN
            } else {
                1.0 - right as f64 / total as f64
            }
        };
        FrameErrors {
            frames,
            error_61: rate(right_61, frames),
            error_39: rate(right_39, scored_39),
            confusion_61,
            confusion_39,
        }
    }
}

impl BatchSource for TimitTask {
    fn n_in(&self) -> usize {
        match self.spikes {
            None => self.features.mean.len(),
            Some(_) => 2 * self.features.mean.len(),
        }
    }

    fn n_out(&self) -> usize {
        PHONES_61.len()
    }

    fn train_batch(&mut self, it: usize) -> anyhow::Result<Batch> {
        let per_epoch = self.batches_per_epoch();
        let epoch = it / per_epoch;
        if self.epoch.as_ref().map(|e| e.0) != Some(epoch) {
            self.epoch = Some((epoch, self.epoch_batches(epoch)));
        }
        let (_, batches) = self.epoch.as_ref().expect("epoch batches");
        Ok(self.make_batch(&self.features.train, &batches[it % per_epoch], it as u64))
    }

    fn eval_batches(&self, split: Split) -> usize {
        self.split(split).1.len().div_ceil(self.eval_batch_size)
    }

    fn eval_batch(&mut self, split: Split, index: usize) -> anyhow::Result<Batch> {
        let (list, order) = self.split(split);
        let start = index * self.eval_batch_size;
        let chunk = order
            .get(start..(start + self.eval_batch_size).min(order.len()))
            .with_context(|| format!("evaluation batch {index} is out of range"))?;
        let stream = match split {
            Split::Validation => VALIDATION_SPIKES,
            Split::Test => TEST_SPIKES,
        } + index as u64;
        Ok(self.make_batch(list, chunk, stream))
    }

    /// Frame errors (61 and 39 phones) on the validation and core test sets with the final
    /// weights; the core test's confusion matrices and per-phone errors as PNG, CSV and JSON.
    fn final_report(
        &mut self,
        engine: &mut dyn Engine,
        run_dir: &Path,
    ) -> anyhow::Result<serde_json::Value> {
        let validation = self.frame_errors(engine, Split::Validation)?;
        let test = self.frame_errors(engine, Split::Test)?;
        draw_figures(run_dir, &test.confusion_61, &test.confusion_39)?;
        write_per_phone_csv(&test.confusion_61, &run_dir.join("per_phone_error.csv"))?;
        let report = json!({
            "validation_frame_error_61": validation.error_61,
            "validation_frame_error_39": validation.error_39,
            "validation_frames": validation.frames,
            "test_frame_error_61": test.error_61,
            "test_frame_error_39": test.error_39,
            "test_frames": test.frames,
            "confusion_61": test.confusion_61,
            "confusion_39": test.confusion_39,
        });
        let path = run_dir.join("frame_errors.json");
        write_json_atomic(&path, &report)?;
        crate::stderr::line!(
            "frame error: validation {:.1} % (61) / {:.1} % (39), core test {:.1} % (61) / {:.1} % (39)",
            100.0 * validation.error_61,
            100.0 * validation.error_39,
            100.0 * test.error_61,
            100.0 * test.error_39
        );
        // The summary line carries the errors; the matrices stay in frame_errors.json.
        Ok(json!({
            "validation_frame_error_61": validation.error_61,
            "validation_frame_error_39": validation.error_39,
            "test_frame_error_61": test.error_61,
            "test_frame_error_39": test.error_39,
            "confusion": run_dir.join("confusion_61.png"),
        }))
    }
}

/// The core test's confusion matrices (61 and 39 phones) and per-phone errors, drawn from
/// their data (`frame_errors.json`).
fn draw_figures(
    run_dir: &Path,
    confusion_61: &[Vec<u64>],
    confusion_39: &[Vec<u64>],
) -> anyhow::Result<()> {
    draw_confusion(
        confusion_61,
        &PHONES_61,
        "TIMIT core test, 61 phones",
        &run_dir.join("confusion_61.png"),
    )?;
    draw_confusion(
        confusion_39,
        &PHONES_39,
        "TIMIT core test, folded to 39 phones",
        &run_dir.join("confusion_39.png"),
    )?;
    draw_per_class_error(
        confusion_61,
        &PHONES_61,
        "TIMIT core test: frame error per phone (61)",
        &run_dir.join("per_phone_error.png"),
    )
}

/// Redraws the figures of the final report from `frame_errors.json` (`lsnn-gpu plot`); none
/// when the run has not reached its final report.
pub fn redraw_figures(run_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let path = run_dir.join("frame_errors.json");
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let report: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    let matrix = |key: &str| -> anyhow::Result<Vec<Vec<u64>>> {
        serde_json::from_value(report[key].clone())
            .with_context(|| format!("{}: field `{key}`", path.display()))
    };
    draw_figures(run_dir, &matrix("confusion_61")?, &matrix("confusion_39")?)?;
    Ok([
        "confusion_61.png",
        "confusion_39.png",
        "per_phone_error.png",
    ]
    .map(|f| run_dir.join(f))
    .to_vec())
}

/// phone, frames, correct, error: one line per phone of the 61.
fn write_per_phone_csv(confusion: &[Vec<u64>], path: &Path) -> anyhow::Result<()> {
    let mut text = String::from("phone,frames,correct,error\n");
    for (i, row) in confusion.iter().enumerate() {
        let total: u64 = row.iter().sum();
        let error = if total == 0 {
            String::new()
        } else {
            format!("{:.4}", 1.0 - row[i] as f64 / total as f64)
        };
        text.push_str(&format!("{},{total},{},{error}\n", PHONES_61[i], row[i]));
    }
    write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A task over hand-made features: utterance i has 3 + 2i frames, feature c of frame f
    /// is (i + 1)·(c + 1)·(f − 1) (so the z-scores have both signs), label f % 61.
    fn task(n_train: usize, batch: usize, k: usize, spikes: Option<SpikeCoding>) -> TimitTask {
        let utterance = |i: usize| {
            let frames = 3 + 2 * i;
            UtteranceFeatures {
                id: format!("U{i}"),
                speaker: format!("S{i}"),
                features: Array2::from_shape_fn((frames, 4), |(f, c)| {
                    ((i + 1) * (c + 1)) as f32 * (f as f32 - 1.0)
                }),
                labels: (0..frames).map(|f| (f % 61) as i8).collect(),
            }
        };
        let list: Vec<UtteranceFeatures> = (0..n_train).map(utterance).collect();
        let features = TimitFeatures {
            dev: list[..2].to_vec(),
            core_test: list[..3].to_vec(),
            train: list,
            mean: vec![0.5, 0.0, 0.0, 0.0],
            std: vec![2.0, 1.0, 1.0, 1.0],
            warnings: vec![],
            cache_file: PathBuf::new(),
            from_cache: false,
        };
        TimitTask {
            dev_order: sorted_by_length(&features.dev),
            test_order: sorted_by_length(&features.core_test),
            features,
            epoch: None,
            batch_size: batch,
            eval_batch_size: 2,
            steps_per_frame: k,
            spikes,
            seed: 7,
        }
    }

    #[test]
    fn batches_are_padded_masked_and_repeat_each_frame() {
        let mut t = task(5, 2, 3, None);
        let b = t.eval_batch(Split::Test, 1).unwrap(); // the longest test utterance, alone
        assert_eq!(b.size(), 1);
        let b = t.eval_batch(Split::Test, 0).unwrap(); // utterances 0 (3 frames) and 1 (5)
        assert_eq!((b.steps(), b.size(), b.n_in()), (15, 2, 4));
        let Targets::FrameLabels(l) = &b.targets else {
            panic!()
        };
        for s in 0..15 {
            let f = s / 3;
            // Utterance 1: every frame labelled; utterance 0: padded after its 3 frames.
            assert_eq!(l[[s, 1]], f as i32);
            assert_eq!(l[[s, 0]], if f < 3 { f as i32 } else { -1 });
            for c in 0..4 {
                let raw = |i: usize| ((i + 1) * (c + 1)) as f32 * (f as f32 - 1.0);
                let z = |v: f32| (v - t.features.mean[c]) / t.features.std[c];
                assert_eq!(b.x[[s, 1, c]], z(raw(1)));
                assert_eq!(b.x[[s, 0, c]], if f < 3 { z(raw(0)) } else { 0.0 });
            }
        }
    }

    #[test]
    fn training_batches_are_length_buckets_and_pure_in_the_iteration() {
        let mut t = task(9, 3, 2, None);
        let per_epoch = t.batches_per_epoch();
        assert_eq!(per_epoch, 3);
        let epoch: Vec<Vec<usize>> = t.epoch_batches(4);
        let mut seen: Vec<usize> = epoch.iter().flatten().copied().collect();
        seen.sort();
        assert_eq!(
            seen,
            (0..9).collect::<Vec<_>>(),
            "an epoch uses every utterance once"
        );
        // Each batch is a run of the jittered length order: lengths apart by at most the
        // spread of three consecutive keys plus the jitter.
        let frames = |i: usize| t.features.train[i].frames() as f64;
        for batch in &epoch {
            let lengths: Vec<f64> = batch.iter().map(|&i| frames(i)).collect();
            let spread = lengths.iter().cloned().fold(f64::MIN, f64::max)
                - lengths.iter().cloned().fold(f64::MAX, f64::min);
            assert!(
                spread <= BUCKET_JITTER_FRAMES + 2.0 * 2.0 * 3.0,
                "{lengths:?}"
            );
        }
        let a = t.train_batch(7).unwrap();
        let _ = t.train_batch(1).unwrap();
        let mut fresh = task(9, 3, 2, None);
        assert_eq!(
            fresh.train_batch(7).unwrap(),
            a,
            "batch 7 depends on 7 alone"
        );
        assert_ne!(t.epoch_batches(0), t.epoch_batches(1), "epochs differ");
    }

    #[test]
    fn spike_input_codes_the_sign_on_two_channels_at_the_set_rate() {
        let coding = SpikeCoding {
            p_max: 0.4,
            saturation: 3.0,
            value: 1.0,
        };
        let mut t = task(6, 2, 50, Some(coding));
        assert_eq!(t.n_in(), 8);
        let b = t.eval_batch(Split::Validation, 0).unwrap();
        let again = t.eval_batch(Split::Validation, 0).unwrap();
        assert_eq!(b, again, "evaluation spikes are fixed");
        let mut counts = [[0usize; 2]; 4];
        let mut steps = 0;
        // Sequence 1 (utterance 1, 5 frames), frame 4: features 2(c + 1)·3 = 6(c + 1).
        for s in 4 * 50..5 * 50 {
            steps += 1;
            for (c, feature) in counts.iter_mut().enumerate() {
                for (side, count) in feature.iter_mut().enumerate() {
                    let v = b.x[[s, 1, 2 * c + side]];
                    assert!(v == 0.0 || v == 1.0);
                    *count += usize::from(v == 1.0);
                }
            }
        }
        // Feature 0: z = (6 − 0.5)/2 = 2.75 → p = 0.4·2.75/3 ≈ 0.367; others saturate at 0.4.
        for (c, [pos, neg]) in counts.iter().enumerate() {
            assert_eq!(
                *neg, 0,
                "feature {c} is above its mean: no spike on its negative channel"
            );
            let expected = if c == 0 { 0.4 * 2.75 / 3.0 } else { 0.4 };
            let rate = *pos as f64 / steps as f64;
            // 50 Bernoulli draws: 4 standard deviations ≈ 4·√(0.4·0.6/50) ≈ 0.28.
            assert!(
                (rate - expected).abs() < 0.28,
                "feature {c}: rate {rate} vs {expected}"
            );
        }
        // Frame 0 of sequence 1: features −2(c + 1) < mean → only negative channels.
        for s in 0..50 {
            for c in 0..4 {
                assert_eq!(b.x[[s, 1, 2 * c]], 0.0);
            }
        }
    }

    #[test]
    fn frame_errors_fold_and_count() {
        let n = PHONES_61.len();
        let idx = |s: &str| PHONES_61.iter().position(|p| *p == s).unwrap();
        let mut c = vec![vec![0u64; n]; n];
        c[idx("aa")][idx("aa")] = 6; // right
        c[idx("aa")][idx("ao")] = 2; // wrong with 61, right after folding (ao → aa)
        c[idx("s")][idx("z")] = 2; // wrong either way
        c[idx("q")][idx("q")] = 5; // right with 61; q has no class among the 39: not scored
        c[idx("t")][idx("q")] = 1; // wrong either way (a predicted q matches no class)
        let e = FrameErrors::from_confusion(c);
        assert_eq!(e.frames, 16);
        assert!((e.error_61 - 5.0 / 16.0).abs() < 1e-12, "{}", e.error_61);
        assert!((e.error_39 - 3.0 / 11.0).abs() < 1e-12, "{}", e.error_39);
        let folded: u64 = e.confusion_39.iter().flatten().sum();
        assert_eq!(
            folded, 10,
            "q rows and columns are left out of the 39 × 39 matrix"
        );
    }
}
