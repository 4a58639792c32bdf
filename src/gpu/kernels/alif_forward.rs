//! Host twin of `shaders/alif_forward.wgsl` (M1-M5, one time chunk per dispatch); CPU
//! twin: `src/cpu/alif_forward.rs`.

use crate::gpu::kernels::kernel_bindings;

pub const NAME: &str = "alif_forward";

kernel_bindings! {
    /// Bindings of alif_forward.wgsl: `x` and `records` are the time chunk's.
    Bindings {
        dims: Uniform Dims,
        chunk: Uniform Chunk,
        step: Uniform StepUniform,
        model: Read Model,
        delays: Read Delays,
        x: Read X,
        state: ReadWrite State,
        records: ReadWrite Records,
        bits: ReadWrite Bits,
    }
}

/// One workgroup per sequence.
pub fn grid(batch: u32) -> (u32, u32) {
    (batch, 1)
}
