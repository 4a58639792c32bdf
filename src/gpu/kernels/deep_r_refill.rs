//! Host twin of `shaders/deep_r_refill.wgsl` (DEEP R's refill, R5); CPU twin:
//! `src/cpu/deep_r_refill.rs`.

use crate::gpu::kernels::kernel_bindings;

pub const NAME: &str = "deep_r_refill";

kernel_bindings! {
    /// Bindings of deep_r_refill.wgsl.
    Bindings {
        dims: Uniform "Dims",
        rewire: Uniform "RewireUniform",
        constraints: Read "array<u32>",
        model: ReadWrite "array<f32>",
        stats: ReadWrite "array<atomic<u32>>",
    }
}

/// One invocation: the draws are sequential (docs/model.md R5).
pub fn grid() -> (u32, u32) {
    (1, 1)
}
