//! Sequential MNIST (docs/experiments.md §1): digits read pixel by pixel, encoded as input spikes
//! by `smnist_encoding`, classified by the window readout over the cue period.
//!
//! Training batches are drawn without replacement from a seeded permutation per epoch, a pure
//! function of (seed, iteration): a resumed run sees the same batches. Validation is a seeded
//! hold-out of the training files; test is the t10k files.

use std::borrow::Cow;
use std::path::PathBuf;

use anyhow::Context as _;
use ndarray::Array1;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::settings::TaskRun;
use super::smnist_encoding::{
    downsample, encode_batch, noise_key, Encoding, PopulationCoding, MNIST_SIDE, N_CHANNELS,
};
use super::{BatchSource, Split};
use crate::data::mnist::{load_mnist, split_validation, DataError, MnistSet, NUM_CLASSES};
use crate::model::{Batch, Targets};

pub struct SmnistTask {
    train: MnistSet,
    validation: MnistSet,
    test: MnistSet,
    batch_size: usize,
    eval_batch_size: usize,
    ms_per_pixel: usize,
    /// 1 for the 28 × 28 digits, 2 or 4 for the pooled ones (task.image_side 14 or 7).
    pool: usize,
    encoding: Encoding,
    population: PopulationCoding,
    dt: f32,
    seed: u64,
}

impl SmnistTask {
    /// Loads the IDX files of `data.path` and holds out `data.validation_size` training digits.
    pub fn from_config(cfg: &TaskRun) -> anyhow::Result<SmnistTask> {
        let path = PathBuf::from(cfg.data.path.as_deref().context(
            "task.kind smnist needs data.path: a directory with the MNIST IDX files (e.g. assets/mnist-10k)",
        )?);
        let data = load_mnist(&path).map_err(|e| match e {
            // Say where the path came from and how it was resolved (config::load::PATH_FIELDS).
            DataError::MissingDir { .. } => anyhow::anyhow!(
                "{e}; from data.path (a relative path in a config file is relative to the \
                 file's directory, one given with --set to the working directory)"
            ),
            e => e.into(),
        })?;
        let (train, validation) =
            split_validation(&data.train, cfg.data.validation_size, cfg.seed)?;
        anyhow::ensure!(
            train.len() >= cfg.batch_size,
            "{}: {} training digits after the validation hold-out, fewer than train.batch_size = {}",
            path.display(),
            train.len(),
            cfg.batch_size
        );
        Ok(SmnistTask {
            train,
            validation,
            test: data.test,
            batch_size: cfg.batch_size,
            eval_batch_size: cfg.eval_batch_size,
            ms_per_pixel: cfg.task.ms_per_pixel,
            pool: MNIST_SIDE / cfg.task.image_side,
            encoding: cfg.task.encoding,
            population: PopulationCoding {
                peak_rate_hz: cfg.task.population_peak_rate_hz,
                width: cfg.task.population_width,
            },
            dt: cfg.model.dt,
            seed: cfg.seed,
        })
    }

    pub fn train_len(&self) -> usize {
        self.train.len()
    }

    /// Encodes the digits `indices` of `set`; `key_base` separates the noise of the splits.
    fn encode(&self, set: &MnistSet, indices: &[usize], key_base: u64) -> Batch {
        // Pooled digits are computed per batch; full-size ones are borrowed from the set.
        let pixels: Vec<Cow<[u8]>> = indices
            .iter()
            .map(|&i| match self.pool {
                1 => Cow::Borrowed(set.image(i)),
                f => Cow::Owned(downsample(set.image(i), f)),
            })
            .collect();
        let images: Vec<&[u8]> = pixels.iter().map(|p| p.as_ref()).collect();
        let keys: Vec<u64> = indices
            .iter()
            .map(|&i| noise_key(self.seed ^ key_base, i as u64))
            .collect();
        let x = encode_batch(
            &images,
            self.ms_per_pixel,
            self.encoding,
            &self.population,
            self.dt,
            &keys,
        );
        let labels = Array1::from_iter(indices.iter().map(|&i| set.labels[i] as i32));
        Batch {
            x,
            targets: Targets::Labels(labels),
        }
    }

    fn split(&self, split: Split) -> &MnistSet {
        match split {
            Split::Validation => &self.validation,
            Split::Test => &self.test,
        }
    }
}

impl BatchSource for SmnistTask {
    fn n_in(&self) -> usize {
        N_CHANNELS
    }

    fn n_out(&self) -> usize {
        NUM_CLASSES
    }

    fn train_batch(&mut self, it: usize) -> anyhow::Result<Batch> {
        let per_epoch = self.train.len() / self.batch_size;
        let (epoch, within) = (it / per_epoch, it % per_epoch);
        let mut order: Vec<usize> = (0..self.train.len()).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(epoch as u64);
        order.shuffle(&mut rng);
        let indices = &order[within * self.batch_size..(within + 1) * self.batch_size];
        // Population coding draws fresh spikes every epoch.
        Ok(self.encode(&self.train, indices, (epoch as u64) << 32))
    }

    fn eval_batches(&self, split: Split) -> usize {
        self.split(split).len().div_ceil(self.eval_batch_size)
    }

    fn eval_batch(&mut self, split: Split, index: usize) -> anyhow::Result<Batch> {
        let set = self.split(split);
        let lo = index * self.eval_batch_size;
        let hi = (lo + self.eval_batch_size).min(set.len());
        let indices: Vec<usize> = (lo..hi).collect();
        let key_base = match split {
            Split::Validation => 1 << 62,
            Split::Test => 1 << 63,
        };
        Ok(self.encode(set, &indices, key_base))
    }
}
