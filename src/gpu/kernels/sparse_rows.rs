//! Host twin of `shaders/sparse_rows.wgsl` (the lists of the non-zero weights of each row of
//! W_in and W_rec that the backward sweep walks); CPU twin: `src/cpu/sparse_rows.rs`.

use crate::gpu::kernels::kernel_bindings;
use crate::gpu::shader::ShaderConstants;

pub const NAME: &str = "sparse_rows";

kernel_bindings! {
    /// Bindings of sparse_rows.wgsl.
    Bindings {
        dims: Uniform Dims,
        model: Read Model,
        delays: ReadWrite Delays,
    }
}

/// One invocation per row of W_in and W_rec.
pub fn grid(n_in: u32, n_rec: u32, c: &ShaderConstants) -> (u32, u32) {
    ((n_in + n_rec).div_ceil(c.elementwise_size), 1)
}
