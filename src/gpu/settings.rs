//! What the GPU engine needs from an experiment's `device:` section and what it can run:
//! the wgpu backend to ask for, and the largest layer and delay its kernels hold. The
//! config's validation refuses larger models with these numbers.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    Vulkan,
    Metal,
    Dx12,
    Gl,
}

/// Most recurrent neurons (and input channels) the GPU kernels support: one workgroup holds
/// a whole layer's state in workgroup memory.
pub const MAX_NEURONS: usize = 2048;
/// Most synaptic-delay steps the kernels' delay ring buffers hold.
pub const MAX_DELAY: u32 = 32;
