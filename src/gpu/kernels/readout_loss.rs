//! Host twin of `shaders/readout_loss.wgsl` (M7-M8: readout, loss, output errors); CPU
//! twin: `src/cpu/readout_loss.rs`.

use crate::gpu::kernels::kernel_bindings;

pub const NAME: &str = "readout_loss";

kernel_bindings! {
    /// Bindings of readout_loss.wgsl.
    Bindings {
        dims: Uniform Dims,
        chunk: Uniform Chunk,
        step: Uniform StepUniform,
        model: Read Model,
        bits: Read Bits,
        labels: Read Labels,
        readout: ReadWrite Readout,
        partials: ReadWrite Partials,
        pstate: ReadWrite Pstate,
    }
}

/// One workgroup per sequence.
pub fn grid(batch: u32) -> (u32, u32) {
    (batch, 1)
}
