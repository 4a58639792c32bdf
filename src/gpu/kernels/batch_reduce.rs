//! Host twin of `shaders/batch_reduce.wgsl` (per-sequence gradients summed over the batch
//! in a fixed order); CPU twin: `src/cpu/batch_reduce.rs`.

use crate::gpu::kernels::kernel_bindings;
use crate::gpu::shader::ShaderConstants;

pub const NAME: &str = "batch_reduce";

kernel_bindings! {
    /// Bindings of batch_reduce.wgsl.
    Bindings {
        dims: Uniform "Dims",
        partials: Read "array<f32>",
        constraints: Read "array<u32>",
        grads: ReadWrite "array<f32>",
        model: Read "array<f32>",
    }
}

/// One invocation per trained parameter.
pub fn grid(n_params: u32, c: &ShaderConstants, max_per_dim: u32) -> (u32, u32) {
    super::elementwise_grid(n_params, c.elementwise_size, max_per_dim)
}
