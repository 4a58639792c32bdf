// philox.wgsl: Philox4x32-10, the counter-based generator of DEEP R (Langevin noise and refill
// draws). The twin of src/cpu/philox.rs: the same bits on both sides. Rounds are written out
// (no loop) so they do not count against llvmpipe's per-invocation loop cap.

fn mulhi(a: u32, b: u32) -> u32 {
    // 32x32 -> high 32 bits from 16-bit halves (WGSL has no 64-bit integers).
    let a_lo = a & 0xFFFFu;
    let a_hi = a >> 16u;
    let b_lo = b & 0xFFFFu;
    let b_hi = b >> 16u;
    let lh = a_lo * b_hi;
    let hl = a_hi * b_lo;
    let cross = ((a_lo * b_lo) >> 16u) + (lh & 0xFFFFu) + (hl & 0xFFFFu);
    return a_hi * b_hi + (lh >> 16u) + (hl >> 16u) + (cross >> 16u);
}

fn philox_round(c: vec4<u32>, k: vec2<u32>) -> vec4<u32> {
    let hi0 = mulhi(0xD2511F53u, c.x);
    let lo0 = 0xD2511F53u * c.x;
    let hi1 = mulhi(0xCD9E8D57u, c.z);
    let lo1 = 0xCD9E8D57u * c.z;
    return vec4<u32>(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
}

fn philox4x32_10(ctr: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    let w = vec2<u32>(0x9E3779B9u, 0xBB67AE85u);
    var c = philox_round(ctr, key);
    c = philox_round(c, key + w);
    c = philox_round(c, key + 2u * w);
    c = philox_round(c, key + 3u * w);
    c = philox_round(c, key + 4u * w);
    c = philox_round(c, key + 5u * w);
    c = philox_round(c, key + 6u * w);
    c = philox_round(c, key + 7u * w);
    c = philox_round(c, key + 8u * w);
    return philox_round(c, key + 9u * w);
}

// A uniform in (0, 1] from the top 24 bits of x.
fn uniform_open0(x: u32) -> f32 {
    return f32((x >> 8u) + 1u) * (1.0 / 16777216.0);
}

// A standard normal from two words (Box-Muller, cosine branch).
fn philox_normal(x0: u32, x1: u32) -> f32 {
    return sqrt(-2.0 * log(uniform_open0(x0))) * cos(6.2831853071795864 * uniform_open0(x1));
}

// An integer in 0..n: floor(x * n / 2^32).
fn below(x: u32, n: u32) -> u32 {
    return mulhi(x, n);
}
