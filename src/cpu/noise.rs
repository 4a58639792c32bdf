//! Counter-based Gaussian noise for M1's σ·N(0,1): a pure function of (seed, t, b, j), so
//! that the GPU (`shaders/common.wgsl`, `noise_normal`) and this reference draw the same
//! numbers with no shared state and no per-step host work.

/// The 32-bit "lowbias32" integer hash (Chris Wellons), identical in WGSL.
pub fn hash_u32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846ca68b);
    x ^= x >> 16;
    x
}

/// Uniform in (0, 1] from the top 24 bits of a hash (exact in f32).
pub fn unit_open(h: u32) -> f32 {
    ((h >> 8) + 1) as f32 * (1.0 / 16_777_216.0)
}

/// A standard normal number by Box–Muller from two hashed counters.
pub fn noise_normal(seed: u32, t: u32, b: u32, j: u32) -> f32 {
    let key = hash_u32(seed ^ hash_u32(t ^ hash_u32(b ^ hash_u32(j))));
    let u1 = unit_open(hash_u32(key ^ 0x68bc21eb));
    let u2 = unit_open(hash_u32(key ^ 0x02e5be93));
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}
