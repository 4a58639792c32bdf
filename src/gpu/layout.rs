//! Uniform structs shared with WGSL (`shaders/common.wgsl`). Field order, types and padding
//! must match the WGSL declarations exactly: `tests/shaders_validate.rs` checks the sizes
//! against naga's layouter.

use bytemuck::{Pod, Zeroable};

/// `struct Dims` of common.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable, PartialEq)]
pub struct Dims {
    pub n_in: u32,
    pub n_rec: u32,
    pub n_out: u32,
    pub batch: u32,
    pub steps: u32,
    pub n_delay: u32,
    pub n_ref: u32,
    pub window: u32,
    pub rec_words: u32,
    pub in_words: u32,
    pub n_params: u32,
    pub off_w_rec: u32,
    pub off_w_out: u32,
    pub off_b_out: u32,
    pub off_neurons: u32,
    pub off_delay_rec: u32,
    pub state_stride: u32,
    pub bstate_stride: u32,
    pub off_rates: u32,
    pub off_per_seq: u32,
    pub off_dy: u32,
    pub _pad0: u32,
    pub _pad1: u32,
    pub _pad2: u32,
    pub dt: f32,
    pub dampening: f32,
    pub kappa: f32,
    pub noise_std: f32,
    pub reg_coeff: f32,
    pub reg_rate: f32,
    pub _pad3: f32,
    pub _pad4: f32,
}

/// `struct StepUniform` of common.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable, PartialEq)]
pub struct StepUniform {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub bias1: f32,
    pub bias2: f32,
    pub noise_seed: u32,
    pub n_scored: u32,
}

/// `struct Chunk` of common.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable, PartialEq)]
pub struct Chunk {
    pub t0: u32,
    pub len: u32,
    pub _pad0: u32,
    pub _pad1: u32,
}

/// Floats of the readout buffer before the rates: loss, loss_task, loss_reg, correct, scored.
pub const READOUT_TOTALS: u32 = 8;
/// Floats per (b, j) of the forward state before the delay ring: v, b, refractory, count.
pub const STATE_HEAD: u32 = 4;
/// Floats per (b, j) of the backward state before the dI ring.
pub const BSTATE_HEAD: u32 = 8;
