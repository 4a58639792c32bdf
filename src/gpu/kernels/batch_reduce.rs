//! Host twin of `shaders/batch_reduce.wgsl` (per-sequence gradients summed over the batch
//! in a fixed order); CPU twin: `src/cpu/batch_reduce.rs`.

use crate::gpu::kernels::kernel_bindings;
use crate::gpu::shader::ShaderConstants;

pub const NAME: &str = "batch_reduce";

kernel_bindings! {
    /// Bindings of batch_reduce.wgsl.
    Bindings {
        dims: Uniform Dims,
        partials: Read Partials,
        constraints: Read Constraints,
        grads: ReadWrite Grads,
        model: Read Model,
    }
}

/// One invocation per trained parameter.
pub fn grid(n_params: u32, c: &ShaderConstants, max_per_dim: u32) -> (u32, u32) {
    super::elementwise_grid(n_params, c.elementwise_size, max_per_dim)
}
