//! The training loop: schedule, progress, metrics, checkpoints.

pub mod metrics;
pub mod raster;
pub mod run_dir;
pub mod trainer;

pub use trainer::{evaluate, train, truncate_metrics, validation_score, StartPoint, TrainSummary};
