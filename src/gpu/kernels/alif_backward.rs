//! Host twin of `shaders/alif_backward.wgsl` (B1-B7, one time chunk per dispatch, in
//! reverse); CPU twin: `src/cpu/alif_backward.rs`.

use crate::gpu::kernels::kernel_bindings;

pub const NAME: &str = "alif_backward";

kernel_bindings! {
    /// Bindings of alif_backward.wgsl: `x` and `records` are the time chunk's.
    Bindings {
        dims: Uniform Dims,
        chunk: Uniform Chunk,
        model: Read Model,
        delays: Read Delays,
        x: Read X,
        records: Read Records,
        bits: Read Bits,
        readout: Read Readout,
        bstate: ReadWrite Bstate,
        partials: ReadWrite Partials,
    }
}

/// One workgroup per sequence.
pub fn grid(batch: u32) -> (u32, u32) {
    (batch, 1)
}
