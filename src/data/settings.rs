//! The `data:` section of an experiment: where the data sets are and how they are split and
//! featurised. The data layer owns it; `config::Config` aggregates it.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// Directory or file holding the data set. TIMIT: the corpus (the directory with TRAIN/
    /// and TEST/, or one above it); when unset, the TIMIT_DIR environment variable.
    pub path: Option<String>,
    /// Training examples held out for validation (5,000 in the reference sMNIST split).
    pub validation_size: usize,
    /// TIMIT: where the extracted features are cached (default: the directory that holds the
    /// run directory, `runs/` unless `--out` says otherwise).
    pub cache_dir: Option<String>,
    /// TIMIT: the core test speakers (default: the standard 24, `data::timit::speakers`).
    pub core_test_speakers: Option<Vec<String>>,
    /// TIMIT: the development (validation) speakers (default: the standard 50).
    pub dev_speakers: Option<Vec<String>>,
    /// TIMIT: training speakers held out for validation when no development speaker is in the
    /// corpus (ours).
    pub holdout_speakers: usize,
    /// TIMIT: MFCC feature settings (docs/experiments.md §2).
    pub mfcc: crate::data::timit::mfcc::MfccSettings,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            path: None,
            validation_size: 5000,
            cache_dir: None,
            core_test_speakers: None,
            dev_speakers: None,
            holdout_speakers: 50,
            mfcc: Default::default(),
        }
    }
}
