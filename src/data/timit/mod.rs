//! The TIMIT corpus (docs/experiments.md §2), read from the user's LDC copy.
//!
//! - [`audio`]: NIST SPHERE and RIFF WAV files.
//! - [`phones`]: the 61 TIMIT phones and the standard folding to 39.
//! - [`alignment`]: `.PHN` files and per-frame labels.
//! - [`speakers`]: the standard core-test and development speaker lists.
//! - [`corpus`]: walking the LDC layout into the training, development and core-test splits.
//! - [`mfcc`]: 39 MFCC features per 10 ms frame.
//! - [`cache`]: the features of a whole corpus, extracted once and cached on disk.

pub mod alignment;
pub mod audio;
pub mod cache;
pub mod corpus;
pub mod mfcc;
pub mod phones;
pub mod speakers;
