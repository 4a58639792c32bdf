//! Task generators: where batches come from.

pub mod smnist_encoding;
pub mod synthetic;

use crate::model::Batch;

/// A source of minibatches for training and evaluation.
pub trait BatchSource {
    /// Input channels and readout classes the task needs.
    fn n_in(&self) -> usize;
    fn n_out(&self) -> usize;
    /// The training batch of (0-based) iteration `it`; a pure function of the seed and `it`,
    /// so that a resumed run sees the same batches.
    fn train_batch(&mut self, it: usize) -> anyhow::Result<Batch>;
    /// Validation batches (fixed for the run).
    fn validation_batches(&mut self) -> anyhow::Result<Vec<Batch>>;
    /// Test batches, evaluated at the end of a run and by `lsnn-gpu eval`.
    fn test_batches(&mut self) -> anyhow::Result<Vec<Batch>>;
}
