//! The native engine: the LSNN of docs/model.md on the host's cores, multi-threaded over the
//! batch and event-driven in time (the fast path of machines without a hardware GPU).
//!
//! Each file is the twin of the reference file of the same name in `src/cpu/` (and of the
//! shader of that name): `alif_forward` (M1–M8, bit-identical to the f32 reference),
//! `readout_loss` (losses and δy in the reference's order), `alif_backward` (B1–B7, within
//! f32 rounding of the reference). `tables` and `synapses` lay the network out for them.

// Index loops over neurons mirror the equations and keep the loops the compiler vectorises.
#![allow(clippy::needless_range_loop)]

pub mod alif_backward;
pub mod alif_forward;
pub mod engine;
pub mod readout_loss;
pub mod synapses;
pub mod tables;

pub use engine::NativeEngine;
