//! Task generators: where batches come from.

pub mod l2l;
pub mod l2l_baselines;
pub mod l2l_encoding;
pub mod l2l_eval;
pub mod l2l_family;
pub mod l2l_figures;
pub mod settings;
pub mod smnist;
pub mod smnist_encoding;
pub mod synthetic;
pub mod timit;

use std::path::Path;

use crate::engine::Engine;
use crate::model::Batch;

/// A source of minibatches for training and evaluation.
pub trait BatchSource {
    /// Input channels and readout classes the task needs.
    fn n_in(&self) -> usize;
    fn n_out(&self) -> usize;
    /// The training batch of (0-based) iteration `it`; a pure function of the seed and `it`,
    /// so that a resumed run sees the same batches.
    fn train_batch(&mut self, it: usize) -> anyhow::Result<Batch>;
    /// Number of evaluation batches of a split (fixed for the run).
    fn eval_batches(&self, split: Split) -> usize;
    /// Evaluation batch `index` of a split, made on demand so that large splits are never
    /// held in memory at once.
    fn eval_batch(&mut self, split: Split, index: usize) -> anyhow::Result<Batch>;
    /// Task-specific results of the final weights (figures and files in `run_dir`), added to
    /// the run's summary under `task_report`; `null` when the task has none.
    fn final_report(
        &mut self,
        _engine: &mut dyn Engine,
        _run_dir: &Path,
    ) -> anyhow::Result<serde_json::Value> {
        Ok(serde_json::Value::Null)
    }
}

/// The held-out parts of a data set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// Periodic validation during training (and the `best` checkpoint).
    Validation,
    /// Evaluated at the end of a run and by `lsnn-gpu eval`.
    Test,
}
