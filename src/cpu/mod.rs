//! The CPU reference: the LSNN of `docs/model.md` written for clarity, not speed.
//!
//! Every GPU kernel in `shaders/` has its twin here under the same name, and a test holds one
//! against the other. The forward pass is generic over [`Real`] so that the same code runs in
//! f32 (the twin of the kernels), f64, and forward-mode dual numbers ([`Dual`]), which check
//! the hand-written BPTT (`alif_backward`) to rounding error (docs/model.md §3).

// Index loops mirror the equations (sums over i, j, k); iterator chains would hide them.
#![allow(clippy::needless_range_loop)]

pub mod adam;
pub mod alif_backward;
pub mod alif_forward;
pub mod batch_reduce;
pub mod deep_r;
pub mod deep_r_refill;
pub mod engine;
pub mod loss_reduce;
pub mod noise;
pub mod philox;
pub mod readout_loss;
pub mod real;
pub mod sparse_rows;

pub use adam::{adam_step, apply_constraints, AdamHyper, AdamState};
pub use alif_backward::{alif_backward, Gradients};
pub use alif_forward::{alif_forward, ForwardTrace};
pub use engine::CpuEngine;
pub use readout_loss::{readout_loss, LossOutput};
pub use real::{Dual, Real};
