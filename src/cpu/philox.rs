//! Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011): the
//! counter-based generator of DEEP R's Langevin noise and refill draws. The twin of
//! `shaders/philox.wgsl`; both compute the same bits, so the CPU reference and the GPU place
//! the same connections. A draw is a pure function of (key, counter): no state to carry or
//! checkpoint, and every parameter can draw its own numbers in parallel.

const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// High 32 bits of the 64-bit product a·b.
#[inline]
pub fn mulhi(a: u32, b: u32) -> u32 {
    ((a as u64 * b as u64) >> 32) as u32
}

/// Ten Philox rounds of `ctr` under `key`.
pub fn philox4x32_10(ctr: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let [mut c0, mut c1, mut c2, mut c3] = ctr;
    let [mut k0, mut k1] = key;
    for _ in 0..10 {
        let (hi0, lo0) = (mulhi(M0, c0), M0.wrapping_mul(c0));
        let (hi1, lo1) = (mulhi(M1, c2), M1.wrapping_mul(c2));
        (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0);
        k0 = k0.wrapping_add(W0);
        k1 = k1.wrapping_add(W1);
    }
    [c0, c1, c2, c3]
}

/// The key of a 64-bit seed.
pub fn key_of(seed: u64) -> [u32; 2] {
    [seed as u32, (seed >> 32) as u32]
}

/// A uniform in (0, 1] from the top 24 bits of x (never 0, so its log is finite).
#[inline]
pub fn uniform_open0(x: u32) -> f32 {
    ((x >> 8) + 1) as f32 * (1.0 / 16_777_216.0)
}

/// A standard normal from two words (Box–Muller, cosine branch).
#[inline]
pub fn normal(x0: u32, x1: u32) -> f32 {
    let u1 = uniform_open0(x0);
    let u2 = uniform_open0(x1);
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

/// An integer in 0..n from a uniform word: ⌊x·n / 2³²⌋ (bias below n/2³², negligible here).
#[inline]
pub fn below(x: u32, n: u32) -> u32 {
    mulhi(x, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known-answer vectors of the Random123 distribution (kat_vectors, philox4x32 10 rounds).
    #[test]
    fn matches_random123_known_answers() {
        assert_eq!(
            philox4x32_10([0, 0, 0, 0], [0, 0]),
            [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]
        );
        assert_eq!(
            philox4x32_10([u32::MAX; 4], [u32::MAX; 2]),
            [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]
        );
        assert_eq!(
            philox4x32_10(
                [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344],
                [0xa409_3822, 0x299f_31d0]
            ),
            [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1]
        );
    }

    #[test]
    fn normals_have_unit_moments_and_below_stays_in_range() {
        let n = 200_000u32;
        let (mut s1, mut s2) = (0f64, 0f64);
        for i in 0..n {
            let r = philox4x32_10([i, 7, 0, 0], [1, 2]);
            let z = normal(r[0], r[1]) as f64;
            s1 += z;
            s2 += z * z;
            assert!(below(r[2], 13) < 13);
        }
        let mean = s1 / n as f64;
        let var = s2 / n as f64 - mean * mean;
        // Standard errors: mean 1/sqrt(n) = 0.0022, variance sqrt(2/n) = 0.0032; 5 sigma.
        assert!(mean.abs() < 0.011, "mean {mean}");
        assert!((var - 1.0).abs() < 0.016, "variance {var}");
    }
}
