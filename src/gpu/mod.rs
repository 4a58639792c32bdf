//! The GPU engine: wgpu host code for the WGSL kernels in `shaders/`.
//!
//! `context` finds an adapter and opens a device; `shader` assembles kernel sources;
//! `layout` holds the uniform structs and buffer slots shared with WGSL, which
//! `crate::wgsl` renders into each kernel's generated prelude; `engine` owns the buffers,
//! pipelines and bind groups and encodes one training iteration as one submit; `timing`
//! times each kernel of an iteration with timestamp queries (opt-in, for `bench`).

pub mod budget;
pub mod context;
pub mod engine;
pub mod kernels;
pub mod layout;
pub mod settings;
pub mod shader;
pub mod timing;

pub use context::{AdapterSummary, DeviceRequest, GpuContext};
pub use engine::GpuEngine;
