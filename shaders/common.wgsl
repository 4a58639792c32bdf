// common.wgsl: declarations shared by every kernel. The host prepends generated constants
// (WG, MAX_REC_WORDS, MAX_IN_WORDS, MAX_NEURONS, MAX_OUT; see src/gpu/shader.rs) and then
// this file to each kernel source.

// Shapes, offsets and model constants, fixed for a run. Mirrors `gpu::layout::Dims`
// (a test checks size and field order).
struct Dims {
    n_in: u32,
    n_rec: u32,
    n_out: u32,
    batch: u32,
    steps: u32,            // T
    n_delay: u32,          // delays 0..n_delay-1 (M1)
    n_ref: u32,            // refractory steps (M5)
    window: u32,           // K of the window readout; 0 = framewise readout
    rec_words: u32,        // ceil(n_rec / 32): words of one spike bitmask
    in_words: u32,         // ceil(n_in / 32)
    n_params: u32,         // P: trained scalars, flat as w_in | w_rec | w_out | b_out
    off_w_rec: u32,
    off_w_out: u32,
    off_b_out: u32,
    off_neurons: u32,      // per-neuron constants after the P trained scalars: alpha | rho | beta | thr
    off_delay_rec: u32,    // in the delay buffer: delay_in | delay_rec
    state_stride: u32,     // floats per (b, j) of the forward state: v, b, refr, count, ring[n_delay]
    bstate_stride: u32,    // floats per (b, j) of the backward state: 8 + ring[n_delay]
    off_rates: u32,        // in the readout buffer (see readout_loss.wgsl)
    off_per_seq: u32,
    off_dy: u32,
    off_rows: u32,         // in the delay buffer: per W_rec row k, its non-zero entries j | d << 16
    off_row_len: u32,      // in the delay buffer: per row k, the number of listed entries
    sparse_gradients: u32, // 1: weight gradients of active connections only (DEEP R option)
    off_in_rows: u32,      // in the delay buffer: per W_in row i, its non-zero entries j | d << 16
    off_in_row_len: u32,   // in the delay buffer: per W_in row i, the number of listed entries
    steps_per_frame: u32,  // k of the framewise readout: steps per labelled frame
    off_pred: u32,         // in the readout buffer: predicted class per decision
    dt: f32,
    dampening: f32,        // gamma of M6
    kappa: f32,            // exp(-dt/tau_out), M7
    noise_std: f32,        // sigma of M1
    reg_coeff: f32,        // c of M9
    reg_rate: f32,         // f0 of M9, spikes per ms
    regression: u32,       // 1: the frame readout scores squared errors against target values
    off_out: u32,          // in the readout buffer: regression frame outputs [T/k, B, n_out]
}

// Per-iteration scalars, written once per training step. Mirrors `gpu::layout::StepUniform`.
struct StepUniform {
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    bias1: f32,            // 1 - beta1^step
    bias2: f32,            // 1 - beta2^step
    noise_seed: u32,
    n_scored: u32,         // scored frames of the framewise readout (normalises its loss)
    resume: u32,           // 1: continue from the state the previous pass left (a stream)
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

// DEEP R settings of the rewiring in adam.wgsl (R1-R4) and deep_r_refill.wgsl (R5), docs/model.md
// section 7. Mirrors `gpu::layout::RewireUniform`. Per rewired matrix k (x = W_in, y = W_rec,
// z = W_out): first flat index, rows*cols, capacity (W_rec without its diagonal), and the
// cumulative 32-bit thresholds that choose the matrix of a refilled connection.
struct RewireUniform {
    enabled: u32,
    budget: u32,           // K, active connections over all rewired matrices
    iteration: u32,        // the Adam step: Philox counter word 0
    max_attempts: u32,     // refill draws per dispatch (under llvmpipe's loop cap)
    seed_lo: u32,          // Philox key
    seed_hi: u32,
    _pad0: u32,
    _pad1: u32,
    l1: f32,
    temperature: f32,
    _pad2: f32,
    _pad3: f32,
    offset: vec4<u32>,
    size: vec4<u32>,
    capacity: vec4<u32>,
    choice: vec4<u32>,
}

// One time chunk of the forward/backward sweep. Mirrors `gpu::layout::Chunk`.
struct Chunk {
    t0: u32,               // first step of the chunk, 1-based
    len: u32,              // steps in the chunk
    _pad0: u32,
    _pad1: u32,
}

// The "lowbias32" hash; src/cpu/noise.rs is its twin.
fn hash_u32(x_in: u32) -> u32 {
    var x = x_in;
    x ^= x >> 16u;
    x *= 0x7feb352du;
    x ^= x >> 15u;
    x *= 0x846ca68bu;
    x ^= x >> 16u;
    return x;
}

fn unit_open(h: u32) -> f32 {
    return f32((h >> 8u) + 1u) * (1.0 / 16777216.0);
}

// sigma * N(0,1) of M1, keyed by (seed, t, b, j): no state, same numbers as the reference.
fn noise_normal(seed: u32, t: u32, b: u32, j: u32) -> f32 {
    let key = hash_u32(seed ^ hash_u32(t ^ hash_u32(b ^ hash_u32(j))));
    let u1 = unit_open(hash_u32(key ^ 0x68bc21ebu));
    let u2 = unit_open(hash_u32(key ^ 0x02e5be93u));
    return sqrt(-2.0 * log(u1)) * cos(6.2831853071795864 * u2);
}

// Bit j of a spike bitmask word array.
fn bit_of(word: u32, j: u32) -> bool {
    return ((word >> (j & 31u)) & 1u) != 0u;
}

// (t_slot + d) mod n_delay for t_slot, d < n_delay, without an integer division per synapse
// (divisions are scalarised on CPU adapters).
fn ring_slot(t_slot: u32, d: u32, n_delay: u32) -> u32 {
    let s = t_slot + d;
    return select(s, s - n_delay, s >= n_delay);
}

// The bits buffer holds, per step t (row 0 = before the first step) and sequence b, two
// bitmasks of rec_words words each: the spikes z_t, then the neurons whose pseudo-derivative
// is non-zero at step t (|u_t| < 1 and not refractory: M6). BPTT visits only the latter's
// rows of W_rec (B6): elsewhere dz_t is multiplied by zero (B2).
fn spike_word(t: u32, b: u32, w: u32) -> u32 {
    return (t * dims.batch + b) * 2u * dims.rec_words + w;
}

fn active_word(t: u32, b: u32, w: u32) -> u32 {
    return (t * dims.batch + b) * 2u * dims.rec_words + dims.rec_words + w;
}
