//! Host twin of `shaders/loss_reduce.wgsl` (fixed-order sums of the losses and rates, M9);
//! CPU twin: `src/cpu/loss_reduce.rs`.

use crate::gpu::kernels::kernel_bindings;

pub const NAME: &str = "loss_reduce";

kernel_bindings! {
    /// Bindings of loss_reduce.wgsl.
    Bindings {
        dims: Uniform Dims,
        state: Read State,
        readout: ReadWrite Readout,
    }
}

/// One workgroup: the sums run in a fixed order.
pub fn grid() -> (u32, u32) {
    (1, 1)
}
