//! Training runs: the skeleton every trainer shares (`session`: metrics, progress, DEEP R
//! accounting, NaN guard, checkpoints, stop on request), the classification/regression loop
//! (`trainer`), resuming a run (`resume`), run directories and their provenance.

pub mod metrics;
pub mod provenance;
pub mod raster;
pub mod resume;
pub mod run_dir;
pub mod session;
pub mod stop;
pub mod trainer;

pub use session::{Ending, SessionStart};
pub use stop::StopRequest;
pub use trainer::{evaluate, train, validation_score, TrainSummary};
