//! lsnn-gpu: training long short-term memory spiking neural networks (LSNNs, Bellec et al.
//! 2018) by BPTT, with hand-written WGSL compute shaders and a CPU reference beside each.

// Lines on stderr go through `stderr::line!`, which cannot panic (see `stderr.rs`).
#![cfg_attr(not(test), deny(clippy::print_stderr))]

pub mod bench;
pub mod config;
pub mod cpu;
pub mod data;
pub mod device;
pub mod engine;
pub mod files;
pub mod gpu;
pub mod model;
pub mod native;
pub mod plot;
pub mod progress;
pub mod rl;
pub mod stderr;
pub mod tasks;
pub mod train;
pub mod wgsl;
