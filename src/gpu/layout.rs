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
    pub off_rows: u32,
    pub off_row_len: u32,
    pub sparse_gradients: u32,
    pub off_in_rows: u32,
    pub off_in_row_len: u32,
    pub steps_per_frame: u32,
    pub off_pred: u32,
    pub dt: f32,
    pub dampening: f32,
    pub kappa: f32,
    pub noise_std: f32,
    pub reg_coeff: f32,
    pub reg_rate: f32,
    pub regression: u32,
    pub off_out: u32,
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
    /// 1: the forward pass and the readout trace continue from the state the previous pass
    /// left (`Engine::stream_advance`); 0: they start from zero (docs/model.md §2).
    pub resume: u32,
    pub _pad0: u32,
    pub _pad1: u32,
    pub _pad2: u32,
}

/// `struct RewireUniform` of common.wgsl (DEEP R).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable, PartialEq)]
pub struct RewireUniform {
    pub enabled: u32,
    pub budget: u32,
    pub iteration: u32,
    pub max_attempts: u32,
    pub seed_lo: u32,
    pub seed_hi: u32,
    pub _pad0: u32,
    pub _pad1: u32,
    pub l1: f32,
    pub temperature: f32,
    pub _pad2: f32,
    pub _pad3: f32,
    pub offset: [u32; 4],
    pub size: [u32; 4],
    pub capacity: [u32; 4],
    pub choice: [u32; 4],
}

/// u32 counters of one rewiring step (`rewire_stats` buffer): active connections of W_in,
/// W_rec, W_out; connections that went inactive; placed by the refill; refill draws made.
pub const REWIRE_STATS_LEN: usize = 8;

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
