// common.wgsl: functions shared by every kernel. The host prepends the generated prelude
// (src/gpu/shader.rs: workgroup sizes and capacities, the structs Dims, StepUniform,
// RewireUniform and Chunk, the constraint codes, the state and stats slots and the
// neuron-constant blocks, all rendered from their Rust declarations) and then this file to
// each kernel source.

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

// False for an infinity or a NaN. Tested on the bits: a compiler may assume `x != x` false.
fn is_finite(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
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
