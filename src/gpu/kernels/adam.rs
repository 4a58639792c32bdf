//! Host twin of `shaders/adam.wgsl` (Adam, the sign constraints, DEEP R's R1-R4 and the
//! NaN guard's counters); CPU twin: `src/cpu/adam.rs` (with `src/cpu/deep_r.rs`).

use crate::gpu::kernels::kernel_bindings;
use crate::gpu::shader::ShaderConstants;

pub const NAME: &str = "adam";

kernel_bindings! {
    /// Bindings of adam.wgsl.
    Bindings {
        dims: Uniform Dims,
        step: Uniform StepUniform,
        grads: Read Grads,
        constraints: Read Constraints,
        model: ReadWrite Model,
        moments: ReadWrite Moments,
        rewire: Uniform RewireUniform,
        stats: ReadWrite Stats,
    }
}

/// One invocation per trained parameter.
pub fn grid(n_params: u32, c: &ShaderConstants, max_per_dim: u32) -> (u32, u32) {
    super::elementwise_grid(n_params, c.elementwise_size, max_per_dim)
}
