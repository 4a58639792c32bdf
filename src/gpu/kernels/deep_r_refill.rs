//! Host twin of `shaders/deep_r_refill.wgsl` (DEEP R's refill, R5); CPU twin:
//! `src/cpu/deep_r_refill.rs`.

use crate::gpu::kernels::kernel_bindings;

pub const NAME: &str = "deep_r_refill";

kernel_bindings! {
    /// Bindings of deep_r_refill.wgsl.
    Bindings {
        dims: Uniform Dims,
        rewire: Uniform RewireUniform,
        constraints: Read Constraints,
        model: ReadWrite Model,
        stats: ReadWrite Stats,
    }
}

/// One invocation: the draws are sequential (docs/model.md R5).
pub fn grid() -> (u32, u32) {
    (1, 1)
}
