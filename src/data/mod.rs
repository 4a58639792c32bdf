//! Data sets read from disk for the experiments that need real data.
//!
//! - [`mnist`]: the MNIST handwritten digits in their IDX format (plain or gzip-compressed), for
//!   the sequential-MNIST experiment; a 10,000-digit subset ships in `assets/mnist-10k`.
//! - [`timit`]: the TIMIT corpus (so far its audio files: NIST SPHERE and RIFF WAV).

pub mod mnist;
pub mod settings;
pub mod timit;
