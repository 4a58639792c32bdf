//! The roles a buffer plays in the kernels, one type each: a binding is declared with its
//! role, and a [`Buf`](super::Buf) carries its role in its type, so a buffer given to the
//! binding of another role is a type error (the doctests of `kernels/mod.rs`).
//!
//! Every binding name has one WGSL type across all kernels, so the role owns it
//! ([`Role::WGSL_TYPE`]). The uniform roles are the `gpu::layout` structs themselves (their
//! WGSL type is their generated struct, and a uniform buffer is created from a value of it);
//! the storage roles are the markers below (types without values), named after the binding.

pub use crate::gpu::layout::{Chunk, Dims, RewireUniform, StepUniform};
use crate::wgsl::WgslStruct;

/// What a buffer holds, as the kernels see it.
pub trait Role: 'static {
    /// The WGSL type of the binding (`var<…> name: WGSL_TYPE`).
    const WGSL_TYPE: &'static str;
    /// A uniform (`var<uniform>`) rather than a storage buffer.
    const UNIFORM: bool;
}

/// A role held in a storage buffer (`Buf::storage`, `Buf::storage_init`).
pub trait StorageRole: Role {}

/// A role held in a uniform buffer: a `gpu::layout` struct (`Buf::uniform`).
pub trait UniformRole: Role + WgslStruct {}

macro_rules! uniform_roles {
    ($($ty:ident),* $(,)?) => {$(
        impl Role for $ty {
            const WGSL_TYPE: &'static str = <$ty as WgslStruct>::NAME;
            const UNIFORM: bool = true;
        }
        impl UniformRole for $ty {}
    )*};
}

uniform_roles!(Dims, Chunk, StepUniform, RewireUniform);

macro_rules! storage_roles {
    ($( $(#[doc = $doc:literal])* $name:ident = $wgsl:literal; )*) => {$(
        $(#[doc = $doc])*
        pub enum $name {}
        impl Role for $name {
            const WGSL_TYPE: &'static str = $wgsl;
            const UNIFORM: bool = false;
        }
        impl StorageRole for $name {}
    )*};
}

storage_roles! {
    /// `model`: the trained parameters (P), then the per-neuron constants α | ρ | β | thr.
    Model = "array<f32>";
    /// `delays`: delay_in | delay_rec, then the row lists and counts of sparse_rows.wgsl.
    Delays = "array<u32>";
    /// `x`: the inputs of one time chunk [len, B, n_in].
    X = "array<f32>";
    /// `state`: the forward state [B, N, state_stride] (`layout::STATE_LAYOUT`).
    State = "array<f32>";
    /// `records`: (v_{t-1}, b_t) of one time chunk, for the backward sweep.
    Records = "array<vec2<f32>>";
    /// `bits`: the spike and pseudo-derivative masks [T+1, B, 2, words].
    Bits = "array<u32>";
    /// `bstate`: the backward state [B, N, bstate_stride] (`layout::BSTATE_LAYOUT`).
    Bstate = "array<f32>";
    /// `partials`: the per-sequence gradients [B, P].
    Partials = "array<f32>";
    /// `pstate`: the readout trace state [B, N, 2].
    Pstate = "array<f32>";
    /// `labels`: classes [B] or [T, B], or regression targets as f32 bits [T, B, n_out].
    Labels = "array<i32>";
    /// `readout`: totals, rates, per-sequence losses, output errors, predictions, outputs.
    Readout = "array<f32>";
    /// `constraints`: the sign-constraint code of each parameter.
    Constraints = "array<u32>";
    /// `grads`: the batch's gradient (P).
    Grads = "array<f32>";
    /// `moments`: Adam's m | v.
    Moments = "array<f32>";
    /// `stats`: the optimiser's counters (`layout::STATS_LAYOUT`).
    Stats = "array<atomic<u32>>";
}
