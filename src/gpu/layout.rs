//! The contract between the host and the kernels, written once: the uniform structs, the
//! layouts of the state and counter buffers, and their constants. `shader::prelude` renders
//! each of them as WGSL and prepends it to every kernel, so the kernels hold no copy of their
//! own; `tests/shaders_validate.rs` checks the generated structs' offsets against naga's
//! layouter.

use anyhow::bail;

use crate::model::deep_r::DeepR;
use crate::model::param_layout::NEURON_ALPHA;
use crate::model::{Network, Readout};
use crate::wgsl::{wgsl_consts, wgsl_struct};

wgsl_struct! {
    /// Shapes, offsets and model constants, fixed for a run (and a batch shape).
    pub struct Dims {
        pub n_in: u32,
        pub n_rec: u32,
        pub n_out: u32,
        pub batch: u32,
        /// T
        pub steps: u32,
        /// delays 0..n_delay-1 (M1)
        pub n_delay: u32,
        /// refractory steps (M5)
        pub n_ref: u32,
        /// K of the window readout; 0 = framewise readout
        pub window: u32,
        /// ceil(n_rec / 32): words of one spike bitmask
        pub rec_words: u32,
        /// ceil(n_in / 32)
        pub in_words: u32,
        /// P: trained scalars, flat as `model::ParamLayout` (in `model::PACKED_ORDER`)
        pub n_params: u32,
        /// where each trained tensor starts in the model, gradient and partials buffers
        pub off_w_in: u32,
        pub off_w_rec: u32,
        pub off_w_out: u32,
        pub off_b_out: u32,
        /// per-neuron constants after the P trained scalars, blocks NEURON_ALPHA.. of n_rec
        pub off_neurons: u32,
        /// in the delay buffer: delay_in | delay_rec
        pub off_delay_rec: u32,
        /// floats per (b, j) of the forward state: STATE_HEAD slots, then ring[n_delay]
        pub state_stride: u32,
        /// floats per (b, j) of the backward state: BSTATE_HEAD slots, then ring[n_delay]
        pub bstate_stride: u32,
        /// in the readout buffer (see readout_loss.wgsl)
        pub off_rates: u32,
        pub off_per_seq: u32,
        pub off_dy: u32,
        /// in the delay buffer: per W_rec row k, its non-zero entries j | d << 16
        pub off_rows: u32,
        /// in the delay buffer: per row k, the number of listed entries
        pub off_row_len: u32,
        /// 1: weight gradients of active connections only (DEEP R option)
        pub sparse_gradients: u32,
        /// in the delay buffer: per W_in row i, its non-zero entries j | d << 16
        pub off_in_rows: u32,
        /// in the delay buffer: per W_in row i, the number of listed entries
        pub off_in_row_len: u32,
        /// k of the framewise readout: steps per labelled frame
        pub steps_per_frame: u32,
        /// in the readout buffer: predicted class per decision
        pub off_pred: u32,
        pub dt: f32,
        /// gamma of M6
        pub dampening: f32,
        /// exp(-dt/tau_out), M7
        pub kappa: f32,
        /// sigma of M1
        pub noise_std: f32,
        /// c of M9
        pub reg_coeff: f32,
        /// f0 of M9, spikes per ms
        pub reg_rate: f32,
        /// 1: the frame readout scores squared errors against target values
        pub regression: u32,
        /// in the readout buffer: regression frame outputs [T/k, B, n_out]
        pub off_out: u32,
        /// a uniform's size is a multiple of 16 bytes
        pub _pad0: u32,
        pub _pad1: u32,
        pub _pad2: u32,
    }
}

impl Dims {
    /// The shapes and buffer offsets of `net` for batches of `batch` sequences of `steps`
    /// steps (the engine builds its batch buffers from them, and `tests/kernels.rs` the
    /// buffers of one kernel); `sparse_gradients`: DEEP R's `dense_gradients: false`.
    pub fn for_batch(
        net: &Network,
        batch: usize,
        steps: usize,
        sparse_gradients: bool,
    ) -> anyhow::Result<Dims> {
        let (n, n_in, n_out) = (net.n_rec(), net.n_in(), net.n_out());
        let layout = net.params.layout();
        let nd = net.sim.n_delay as usize;
        let (window, steps_per_frame) = match net.sim.readout {
            Readout::Window(k) => {
                if k > steps {
                    bail!("readout window {k} is longer than the sequence ({steps} steps)");
                }
                (k, 1)
            }
            Readout::Framewise(k) | Readout::Regression(k) => {
                if k == 0 || !steps.is_multiple_of(k) {
                    bail!("the frame readout needs whole frames: {steps} steps are not a multiple of {k} steps per frame");
                }
                (0, k)
            }
        };
        let off_rates = READOUT_TOTALS as usize;
        let off_per_seq = off_rates + n;
        let off_dy = off_per_seq + 3 * batch;
        let dy_len = if window > 0 {
            batch * n_out
        } else {
            steps * batch * n_out
        };
        let off_pred = off_dy + dy_len;
        let pred_len = if window > 0 {
            batch
        } else {
            steps / steps_per_frame * batch
        };
        // Regression: the frame outputs themselves, [T/k, B, n_out], follow at off_out.
        let off_out = off_pred + pred_len;
        Ok(Dims {
            n_in: n_in as u32,
            n_rec: n as u32,
            n_out: n_out as u32,
            batch: batch as u32,
            steps: steps as u32,
            n_delay: nd as u32,
            n_ref: net.sim.n_ref,
            window: window as u32,
            rec_words: n.div_ceil(32) as u32,
            in_words: n_in.div_ceil(32) as u32,
            n_params: layout.len() as u32,
            off_w_in: layout.w_in().offset as u32,
            off_w_rec: layout.w_rec().offset as u32,
            off_w_out: layout.w_out().offset as u32,
            off_b_out: layout.b_out().offset as u32,
            off_neurons: layout.neuron_offset(NEURON_ALPHA) as u32,
            off_delay_rec: (n_in * n) as u32,
            state_stride: STATE_HEAD + nd as u32,
            bstate_stride: BSTATE_HEAD + nd as u32,
            off_rates: off_rates as u32,
            off_per_seq: off_per_seq as u32,
            off_dy: off_dy as u32,
            steps_per_frame: steps_per_frame as u32,
            regression: matches!(net.sim.readout, Readout::Regression(_)) as u32,
            off_out: off_out as u32,
            _pad0: 0,
            _pad1: 0,
            _pad2: 0,
            off_pred: off_pred as u32,
            off_rows: (n_in * n + n * n) as u32,
            off_row_len: (n_in * n + 2 * n * n) as u32,
            off_in_rows: (n_in * n + 2 * n * n + n) as u32,
            off_in_row_len: (2 * n_in * n + 2 * n * n + n) as u32,
            sparse_gradients: sparse_gradients as u32,
            dt: net.sim.dt,
            dampening: net.sim.dampening,
            kappa: net.sim.kappa(),
            noise_std: net.sim.noise_std,
            reg_coeff: net.sim.reg_coeff,
            reg_rate: net.sim.reg_rate_per_ms(),
        })
    }

    /// Floats of the readout buffer: totals, rates, per-sequence sums, dy, predictions and,
    /// for the regression readout, the frame outputs.
    pub fn readout_len(&self) -> usize {
        let out_len = if self.regression == 1 {
            (self.steps / self.steps_per_frame * self.batch * self.n_out) as usize
        } else {
            0
        };
        self.off_out as usize + out_len
    }

    /// Words of the spike bits: [T + 1, B, 2, rec_words] (common.wgsl, `spike_word`).
    pub fn bits_len(&self) -> usize {
        ((self.steps + 1) * self.batch * 2 * self.rec_words) as usize
    }

    /// Words of the delay buffer: delay_in | delay_rec, then the W_rec row lists and counts
    /// and the W_in row lists and counts that sparse_rows.wgsl writes.
    pub fn delays_len(&self) -> usize {
        (self.off_in_row_len + self.n_in) as usize
    }
}

wgsl_struct! {
    /// Per-iteration scalars, written once per training step.
    pub struct StepUniform {
        pub lr: f32,
        pub beta1: f32,
        pub beta2: f32,
        pub eps: f32,
        /// 1 - beta1^step
        pub bias1: f32,
        /// 1 - beta2^step
        pub bias2: f32,
        pub noise_seed: u32,
        /// scored frames of the framewise readout (normalises its loss)
        pub n_scored: u32,
        /// 1: the forward pass and the readout trace continue from the state the previous
        /// pass left (`Engine::stream_advance`); 0: they start from zero (docs/model.md §2).
        pub resume: u32,
        pub _pad0: u32,
        pub _pad1: u32,
        pub _pad2: u32,
    }
}

wgsl_struct! {
    /// DEEP R settings of the rewiring in adam.wgsl (R1-R4) and deep_r_refill.wgsl (R5),
    /// docs/model.md section 7. Per rewired matrix k (x = W_in, y = W_rec, z = W_out): first
    /// flat index, rows*cols, capacity (W_rec without its diagonal), and the cumulative 32-bit
    /// thresholds that choose the matrix of a refilled connection.
    pub struct RewireUniform {
        pub enabled: u32,
        /// K, active connections over all rewired matrices
        pub budget: u32,
        /// the Adam step: Philox counter word 0
        pub iteration: u32,
        /// refill draws per dispatch (under llvmpipe's loop cap)
        pub max_attempts: u32,
        /// Philox key
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
}

impl RewireUniform {
    /// The uniform of DEEP R `d` at Adam step `iteration`, with at most `max_attempts` refill
    /// draws per dispatch.
    pub fn new(d: &DeepR, iteration: u32, max_attempts: u32) -> RewireUniform {
        let per = |f: fn(&crate::model::deep_r::RewiredMatrix) -> u32| {
            [f(&d.matrices[0]), f(&d.matrices[1]), f(&d.matrices[2]), 0]
        };
        RewireUniform {
            enabled: 1,
            budget: d.budget,
            iteration,
            max_attempts,
            seed_lo: d.seed as u32,
            seed_hi: (d.seed >> 32) as u32,
            l1: d.l1,
            temperature: d.temperature,
            offset: per(|m| m.offset),
            size: per(|m| m.rows * m.cols),
            capacity: per(|m| m.capacity),
            choice: [d.choice[0], d.choice[1], d.choice[2], u32::MAX],
            ..RewireUniform::default()
        }
    }
}

wgsl_struct! {
    /// One time chunk of the forward/backward sweep.
    pub struct Chunk {
        /// first step of the chunk, 1-based
        pub t0: u32,
        /// steps in the chunk
        pub len: u32,
        pub _pad0: u32,
        pub _pad1: u32,
    }
}

wgsl_consts! {
    /// Slots of the forward state per (b, j) (alif_forward.wgsl), before the delay ring.
    STATE_LAYOUT {
        /// v_t, the membrane voltage (M2)
        STATE_V = 0;
        /// b_t, the threshold adaptation (M3)
        STATE_B = 1;
        /// refractory steps left (M5)
        STATE_REFRACTORY = 2;
        /// spikes so far (the firing rates of M9)
        STATE_COUNT = 3;
        /// slots before the ring of I_{t..t+n_delay-1}
        STATE_HEAD = 4;
    }
}

wgsl_consts! {
    /// Slots of the backward state per (b, j) (alif_backward.wgsl), before the dI ring.
    BSTATE_LAYOUT {
        /// dv_{t+1} (B3)
        BSTATE_DV = 0;
        /// du_{t+1} (B2)
        BSTATE_DU = 1;
        /// A_{t+1}, the threshold
        BSTATE_A = 2;
        /// db_{t+1} (B5)
        BSTATE_DB = 3;
        /// dp_{t+1}, the readout trace (B1)
        BSTATE_DP = 4;
        /// dz_later: what later steps sent to z_t (B6)
        BSTATE_DZ_LATER = 5;
        /// the B7 part for z_{t-1}
        BSTATE_B7 = 6;
        /// slots before the ring of dI_{t..t+n_delay-1} (slot 7 is unused)
        BSTATE_HEAD = 8;
    }
}

wgsl_consts! {
    /// u32 counters of one optimiser step (the `stats` buffer of adam.wgsl and
    /// deep_r_refill.wgsl), zeroed before each step and read back after it.
    STATS_LAYOUT {
        /// active connections of W_in, W_rec, W_out after the step (DEEP R); W_rec and W_out
        /// follow at +1, +2
        STAT_ACTIVE = 0;
        /// connections that went inactive (R3, R4)
        STAT_DISCONNECTED = 3;
        /// connections placed by the refill (R5)
        STAT_PLACED = 4;
        /// refill draws made
        STAT_DRAWS = 5;
        /// gradients that were not finite (the NaN guard: the step is refused)
        STAT_NONFINITE_GRADS = 6;
        /// updated weights that were not finite (the NaN guard: the step is refused)
        STAT_NONFINITE_WEIGHTS = 7;
        /// counters in the buffer
        STATS_LEN = 8;
    }
}

/// u32 counters of one optimiser step (`STATS_LAYOUT`).
pub const REWIRE_STATS_LEN: usize = STATS_LEN as usize;

/// Floats of the readout buffer before the rates: loss, loss_task, loss_reg, correct, scored.
pub const READOUT_TOTALS: u32 = 8;
