//! The synthetic task: a cue-recall problem with Poisson input spikes, for examples,
//! benchmarks and gradient checks that need no data set.
//!
//! Input channels are split into `n_out` groups. During the first fifth of the sequence the
//! group of the sequence's class fires at 4× the background rate (the cue); afterwards every
//! channel fires at the background rate. The class must be read out over the last K steps,
//! so the network has to hold the cue in memory across the sequence (what adaptive neurons
//! are for). With the framewise readout (e.g. for timing TIMIT-sized networks) every step
//! after the cue is labelled with the class, the cue steps are not scored.

use ndarray::{Array1, Array2, Array3};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::settings::TaskRun;
use super::{BatchSource, Split};
use crate::model::{Batch, Targets};

pub struct SyntheticTask {
    pub n_in: usize,
    pub n_out: usize,
    pub steps: usize,
    pub rate: f64,
    pub batch_size: usize,
    pub eval_batch_size: usize,
    pub seed: u64,
    pub dt: f32,
    /// Framewise readout: label every step after the cue (else one label per sequence).
    pub framewise: bool,
}

/// Validation and test batches drawn from seed streams disjoint from the training batches.
const VALIDATION_STREAM: u64 = 1 << 40;
const TEST_STREAM: u64 = 1 << 41;

impl SyntheticTask {
    pub fn from_config(cfg: &TaskRun) -> SyntheticTask {
        SyntheticTask {
            n_in: cfg.model.n_in.unwrap_or(80),
            n_out: cfg.model.n_out.unwrap_or(10),
            steps: cfg.task.steps,
            rate: cfg.task.input_rate as f64,
            batch_size: cfg.batch_size,
            eval_batch_size: cfg.eval_batch_size,
            seed: cfg.seed,
            dt: cfg.model.dt,
            framewise: cfg.model.readout.kind == crate::model::settings::ReadoutKind::Framewise,
        }
    }

    /// The batch with index `index` of size `size` (a pure function of seed and index).
    pub fn batch(&self, index: u64, size: usize) -> Batch {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0x5EED_0000_0000).clone();
        rng.set_stream(index);
        let labels = Array1::from_shape_fn(size, |_| rng.random_range(0..self.n_out as i32));
        let cue_end = self.steps / 5;
        let group = self.n_in.div_ceil(self.n_out).max(1);
        let spike = 1.0 / self.dt;
        let x = Array3::from_shape_fn((self.steps, size, self.n_in), |(t, b, i)| {
            let cued = t < cue_end && i / group == labels[b] as usize;
            let p = if cued {
                (4.0 * self.rate).min(1.0)
            } else {
                self.rate
            };
            if rng.random_bool(p) {
                spike
            } else {
                0.0
            }
        });
        let targets = if self.framewise {
            Targets::FrameLabels(Array2::from_shape_fn((self.steps, size), |(t, b)| {
                if t < cue_end {
                    -1
                } else {
                    labels[b]
                }
            }))
        } else {
            Targets::Labels(labels)
        };
        Batch { x, targets }
    }
}

impl BatchSource for SyntheticTask {
    fn n_in(&self) -> usize {
        self.n_in
    }
    fn n_out(&self) -> usize {
        self.n_out
    }
    fn train_batch(&mut self, it: usize) -> anyhow::Result<Batch> {
        Ok(self.batch(it as u64, self.batch_size))
    }
    fn eval_batches(&self, _split: Split) -> usize {
        1
    }
    fn eval_batch(&mut self, split: Split, _index: usize) -> anyhow::Result<Batch> {
        let stream = match split {
            Split::Validation => VALIDATION_STREAM,
            Split::Test => TEST_STREAM,
        };
        Ok(self.batch(stream, self.eval_batch_size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn framewise_batches_label_every_step_after_the_cue() {
        let mut cfg = Config::default();
        cfg.task.steps = 50;
        cfg.model.readout.kind = crate::config::ReadoutKind::Framewise;
        let task = SyntheticTask::from_config(&cfg.task_run());
        let b = task.batch(3, 4);
        let window = SyntheticTask {
            framewise: false,
            ..SyntheticTask::from_config(&cfg.task_run())
        }
        .batch(3, 4);
        assert_eq!(b.x, window.x, "the same inputs either way");
        let (Targets::FrameLabels(frames), Targets::Labels(labels)) = (&b.targets, &window.targets)
        else {
            panic!("framewise and window targets")
        };
        for t in 0..50 {
            for s in 0..4 {
                let expected = if t < 10 { -1 } else { labels[s] };
                assert_eq!(frames[[t, s]], expected);
            }
        }
    }
}
