//! Input encoders of sequential MNIST (`docs/experiments.md` §1).
//!
//! An image of 784 pixels (u8, scaled to [0, 1] by /255) is presented row by row, one pixel per
//! `ms_per_pixel` simulation steps, followed by a recall cue of 56·`ms_per_pixel` steps (two
//! image rows): T = (784 + 56)·`ms_per_pixel` steps, 80 input channels. Square images of
//! another side s (the quick configs' 2×2-pooled 14 × 14 digits, see [`downsample`]) are
//! presented the same way with a cue of two rows: T = (s² + 2s)·`ms_per_pixel`. A spike has the value
//! 1/dt (as every spike input of this crate), every other entry is 0.
//!
//! # Threshold crossing (`Encoding::ThresholdCrossing`, the authors' code)
//!
//! 40 thresholds θ_k = k/39 (linspace(0, 1, 40)). For each of the 39 below 1 (k = 0..39):
//! an *onset* channel fires on pixel[i] < θ_k ≤ pixel[i+1] and an *offset* channel fires on
//! pixel[i] ≥ θ_k > pixel[i+1]; one *touch* channel fires on every step whose pixel is 1.0
//! (u8 255); one *cue* channel fires on every step of the cue, during which every other channel
//! is silent.
//!
//! Decisions (ours where the paper and the authors' code leave it open; each one is tested below):
//! - **Channel order**: onset θ_k at channel k (0..39), offset θ_k at channel 39 + k (39..78),
//!   touch 78, cue 79. (The authors' code interleaves onset/offset per threshold; the order of
//!   input channels carries no meaning for the network, whose input weights are per channel.)
//! - **Spike time of a crossing** (ours): the crossing between pixel i and pixel i+1 spikes on
//!   the step at which pixel i+1 is *presented*, so the input is causal. The first pixel is
//!   compared with a virtual pixel[-1] = 0 (an MNIST image starts from background, and the
//!   first pixel is 0 in every MNIST digit anyway). The authors' code writes the spike at the
//!   index of pixel i (one step earlier, seeing the next pixel in advance) and has no crossing
//!   into the first pixel; our encoding is theirs delayed by exactly one step.
//! - **`ms_per_pixel` = m > 1** (ours, consistent with the authors' `ext_time`, which repeats
//!   each pixel m times before detecting crossings): pixel i occupies steps i·m .. (i+1)·m;
//!   a crossing into pixel i spikes once, on the first step i·m of the new pixel (the authors'
//!   code: on the last step of the old pixel, again one step earlier); touch fires on every one
//!   of the m steps of a pixel equal to 1.0.
//! - **Exact comparisons**: pixel/255 against k/39 is decided in integers (39·p vs 255·k), so
//!   ties (p ∈ {0, 85, 170, 255}) follow the rule literally: θ ≤ pixel counts as "at or above".
//!   With level(p) = ⌊39·p/255⌋ ∈ 0..=39, onsets of a rise a → b are the channels k with
//!   level(a) < k ≤ level(b), offsets of a fall a → b those with level(b) < k ≤ level(a), both
//!   restricted to k ≤ 38. So only the thresholds between the two pixel values are visited
//!   and the work is proportional to the number of spikes.
//! - **Dead channels**: θ_0 = 0 can never satisfy pixel[i] < 0 (onset) nor 0 > pixel[i+1]
//!   (offset), so channels 0 and 39 never fire; the rule is followed literally (as in the
//!   authors' code, where the same two channels are silent) rather than patched.
//!
//! # Population rate coding (`Encoding::Population`, entirely ours)
//!
//! The paper mentions an alternative population rate coding with 80 channels but gives no
//! details. Ours: channels 0..79 are 79 intensity channels with Gaussian tuning curves of
//! centre c_j = j/78 (linspace(0, 1, 79)), standard deviation `width` and peak rate
//! `peak_rate_hz`: rate_j(p) = peak · exp(−(p/255 − c_j)² / (2·width²)). On every step of the
//! image each channel spikes independently with probability min(1, rate_j · dt / 1000)
//! (Bernoulli approximation of a Poisson process; dt in ms). Channel 79 is the same cue channel
//! as above (a spike on every cue step, everything else silent during the cue). Defaults
//! (ours): 100 Hz peak (as the population coding of §3) and width 0.05 (about four centre
//! spacings). The random numbers are a counter-based hash of (`noise_key`, step, channel), so
//! an image's encoding is a pure function of its key: pass e.g. `noise_key(seed, image_index)`
//! to make it reproducible per (seed, image index) regardless of batch composition or order.

use ndarray::{s, Array3, ArrayViewMut2, ArrayViewMut3, Axis};

/// Input channels of both encodings.
pub const N_CHANNELS: usize = 80;
/// Side of an MNIST image (28 × 28 pixels).
pub const MNIST_SIDE: usize = 28;
/// Pixels of one MNIST image (28 × 28).
pub const N_PIXELS: usize = MNIST_SIDE * MNIST_SIDE;
/// Cue steps per `ms_per_pixel` of a 28 × 28 image (two image rows).
pub const CUE_PIXELS: usize = 2 * MNIST_SIDE;
/// Thresholds below 1 (θ_k = k/39, k = 0..39), one onset and one offset channel each.
pub const N_THRESHOLDS: usize = 39;
/// First onset channel (onset of θ_k is `ONSET + k`).
pub const ONSET: usize = 0;
/// First offset channel (offset of θ_k is `OFFSET + k`).
pub const OFFSET: usize = N_THRESHOLDS;
/// The touch channel (pixel equal to 1.0).
pub const TOUCH: usize = 2 * N_THRESHOLDS;
/// The cue channel (fires on every step of the cue), in both encodings.
pub const CUE: usize = N_CHANNELS - 1;
/// Intensity channels of the population coding (0..79).
pub const N_POPULATION: usize = N_CHANNELS - 1;

/// How pixels become input spikes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// Onset/offset threshold-crossing spikes, touch and cue channels (the authors' code).
    #[default]
    ThresholdCrossing,
    /// Gaussian tuning curves with Bernoulli spikes (ours; see the module documentation).
    Population,
}

/// Parameters of the population rate coding (ours: the paper gives no details).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PopulationCoding {
    /// Rate of a channel whose centre equals the pixel intensity (Hz). Default 100 (ours).
    pub peak_rate_hz: f32,
    /// Standard deviation of the Gaussian tuning curves, in intensity units ([0, 1]).
    /// Default 0.05 (ours; centres are 1/78 ≈ 0.0128 apart).
    pub width: f32,
}

impl Default for PopulationCoding {
    fn default() -> Self {
        PopulationCoding {
            peak_rate_hz: 100.0,
            width: 0.05,
        }
    }
}

/// Steps of one encoded image of side `side`: (side² + 2·side)·`ms_per_pixel`; for MNIST's
/// 28 × 28, (784 + 56)·`ms_per_pixel`.
pub fn steps(side: usize, ms_per_pixel: usize) -> usize {
    (side * side + 2 * side) * ms_per_pixel
}

/// Side of a square image of `n_pixels` pixels (panics if it is not square).
fn side_of(n_pixels: usize) -> usize {
    let side = (n_pixels as f64).sqrt().round() as usize;
    assert_eq!(side * side, n_pixels, "images must be square");
    side
}

/// Side of the images of a batch (all of one size; 28 for an empty batch).
fn batch_side(images: &[&[u8]]) -> usize {
    images.first().map_or(MNIST_SIDE, |p| side_of(p.len()))
}

/// A 28 × 28 image pooled by `factor` (a divisor of 28): each output pixel is the mean of a
/// factor × factor block, rounded to the nearest integer. Factor 2 gives the 14 × 14 digits
/// of the quick configs (T = 224 steps instead of 840 at 1 ms per pixel; ours).
pub fn downsample(pixels: &[u8], factor: usize) -> Vec<u8> {
    assert_eq!(pixels.len(), N_PIXELS, "an MNIST image has 784 pixels");
    assert!(
        factor >= 1 && MNIST_SIDE.is_multiple_of(factor),
        "the pooling factor must divide 28"
    );
    let side = MNIST_SIDE / factor;
    let area = (factor * factor) as u32;
    let mut out = Vec::with_capacity(side * side);
    for r in 0..side {
        for c in 0..side {
            let mut sum = 0u32;
            for dr in 0..factor {
                let row = (r * factor + dr) * MNIST_SIDE + c * factor;
                sum += pixels[row..row + factor]
                    .iter()
                    .map(|&p| p as u32)
                    .sum::<u32>();
            }
            out.push(((sum + area / 2) / area) as u8);
        }
    }
    out
}

/// A key for the population coding's noise of image `image_index` under run seed `seed`.
pub fn noise_key(seed: u64, image_index: u64) -> u64 {
    mix64(mix64(seed ^ 0x534D_4E49_5354_0000) ^ image_index)
}

/// SplitMix64's finaliser: a bijective 64-bit mixer.
#[inline]
fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE5_E4B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// level(p) = ⌊39·p/255⌋: thresholds θ_k = k/39 with k ≤ level(p) satisfy θ_k ≤ p/255
/// (exactly, in integers: 255·k ≤ 39·p).
const LEVEL: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut p = 0;
    while p < 256 {
        t[p] = ((N_THRESHOLDS * p) / 255) as u8;
        p += 1;
    }
    t
};

/// Writes the encoding of one square image (784 pixels for MNIST) into `out`, an
/// [T, n_channels] view (zeroed first).
///
/// `out` must be [steps(side, ms_per_pixel), N_CHANNELS]; `noise_key` is used by the population coding
/// only. `dt` is the simulation step in ms (spikes are 1/dt; rates use dt/1000 s per step).
pub fn encode_image(
    pixels: &[u8],
    ms_per_pixel: usize,
    encoding: Encoding,
    pop: &PopulationCoding,
    dt: f32,
    noise_key: u64,
    mut out: ArrayViewMut2<f32>,
) {
    check_args(pixels, ms_per_pixel, dt, out.dim());
    out.fill(0.0);
    match encoding {
        Encoding::ThresholdCrossing => write_crossings(pixels, ms_per_pixel, dt, &mut out),
        Encoding::Population => {
            let table = population_table(pop, dt);
            write_population(pixels, ms_per_pixel, dt, noise_key, &table, &mut out)
        }
    }
}

/// Encodes a batch of square images of one size: images[b] -> x[:, b, :] of an [T, B, 80]
/// array.
///
/// `keys[b]` is the noise key of image b for the population coding; the threshold-crossing
/// encoding is deterministic and ignores `keys` (which may then be empty).
pub fn encode_batch(
    images: &[&[u8]],
    ms_per_pixel: usize,
    encoding: Encoding,
    pop: &PopulationCoding,
    dt: f32,
    keys: &[u64],
) -> Array3<f32> {
    let side = batch_side(images);
    let mut x = Array3::<f32>::zeros((steps(side, ms_per_pixel), images.len(), N_CHANNELS));
    // `x` is freshly zeroed: write the spikes only.
    write_batch(images, ms_per_pixel, encoding, pop, dt, keys, x.view_mut());
    x
}

/// `encode_batch` into an existing [T, B, 80] array (zeroed first), to reuse one buffer across
/// iterations: a fresh 69 MB array (B = 256) costs more in page faults than the encoding.
pub fn encode_batch_into(
    images: &[&[u8]],
    ms_per_pixel: usize,
    encoding: Encoding,
    pop: &PopulationCoding,
    dt: f32,
    keys: &[u64],
    mut out: ArrayViewMut3<f32>,
) {
    let side = batch_side(images);
    assert_eq!(
        out.dim(),
        (steps(side, ms_per_pixel), images.len(), N_CHANNELS),
        "output must be [steps(side, ms_per_pixel), images.len(), 80]"
    );
    out.fill(0.0);
    write_batch(images, ms_per_pixel, encoding, pop, dt, keys, out);
}

fn write_batch(
    images: &[&[u8]],
    ms_per_pixel: usize,
    encoding: Encoding,
    pop: &PopulationCoding,
    dt: f32,
    keys: &[u64],
    mut x: ArrayViewMut3<f32>,
) {
    let table = match encoding {
        Encoding::ThresholdCrossing => None,
        Encoding::Population => {
            assert_eq!(
                keys.len(),
                images.len(),
                "population coding needs one noise key per image"
            );
            Some(population_table(pop, dt))
        }
    };
    for (b, (pixels, mut out)) in images.iter().zip(x.axis_iter_mut(Axis(1))).enumerate() {
        check_args(pixels, ms_per_pixel, dt, out.dim());
        match &table {
            None => write_crossings(pixels, ms_per_pixel, dt, &mut out),
            Some(table) => write_population(pixels, ms_per_pixel, dt, keys[b], table, &mut out),
        }
    }
}

fn check_args(pixels: &[u8], ms_per_pixel: usize, dt: f32, dim: (usize, usize)) {
    let side = side_of(pixels.len());
    assert!(ms_per_pixel >= 1, "ms_per_pixel must be at least 1");
    assert!(dt > 0.0, "dt must be positive");
    assert_eq!(
        dim,
        (steps(side, ms_per_pixel), N_CHANNELS),
        "output must be [steps(side, ms_per_pixel), 80]"
    );
}

/// The threshold-crossing spikes of one image into a zeroed [T, 80] view.
fn write_crossings(pixels: &[u8], m: usize, dt: f32, out: &mut ArrayViewMut2<f32>) {
    let spike = 1.0 / dt;
    let mut prev_level = 0usize; // the virtual pixel[-1] = 0
    for (i, &p) in pixels.iter().enumerate() {
        let t0 = i * m;
        let level = LEVEL[p as usize] as usize;
        // Only thresholds strictly between the two levels cross; θ_39 = 1 has no channel.
        if level > prev_level {
            let mut row = out.row_mut(t0);
            for k in prev_level + 1..=level.min(N_THRESHOLDS - 1) {
                row[ONSET + k] = spike;
            }
        } else if level < prev_level {
            let mut row = out.row_mut(t0);
            for k in level + 1..=prev_level.min(N_THRESHOLDS - 1) {
                row[OFFSET + k] = spike;
            }
        }
        if p == u8::MAX {
            for t in t0..t0 + m {
                out[[t, TOUCH]] = spike;
            }
        }
        prev_level = level;
    }
    write_cue(pixels.len(), m, spike, out);
}

/// The cue: a spike on every step after the image's `n_pixels`·m steps.
fn write_cue(n_pixels: usize, m: usize, spike: f32, out: &mut ArrayViewMut2<f32>) {
    out.slice_mut(s![n_pixels * m.., CUE]).fill(spike);
}

/// The spike probabilities of the intensity channels for one u8 pixel value, as integer
/// thresholds on a 24-bit uniform u: a spike when u < `thr[j]` = ⌈q_j·2^24⌉, which is exactly
/// u/2^24 < q_j. Channels `lo..hi` are those with `thr > 0` (the others cannot fire).
struct PopulationRow {
    thr: [u32; N_POPULATION],
    lo: usize,
    hi: usize,
}

/// Probability per step of each intensity channel for each u8 pixel value:
/// q_j(p) = min(1, peak · dt/1000 · exp(−(p/255 − j/78)² / (2·width²))).
fn population_table(pop: &PopulationCoding, dt: f32) -> Vec<PopulationRow> {
    assert!(
        pop.width > 0.0 && pop.peak_rate_hz >= 0.0,
        "population coding needs width > 0 and peak_rate_hz >= 0"
    );
    let scale = pop.peak_rate_hz as f64 * dt as f64 / 1000.0;
    let inv_two_var = 1.0 / (2.0 * pop.width as f64 * pop.width as f64);
    (0..256)
        .map(|p| {
            let v = p as f64 / 255.0;
            let mut thr = [0u32; N_POPULATION];
            for (j, t) in thr.iter_mut().enumerate() {
                let d = v - j as f64 / (N_POPULATION - 1) as f64;
                let q = (scale * (-d * d * inv_two_var).exp()).min(1.0) as f32;
                *t = (q as f64 * 16_777_216.0).ceil() as u32;
            }
            // Tuning curves are unimodal in j, so the channels that can fire are contiguous.
            let lo = thr.iter().position(|&t| t > 0).unwrap_or(0);
            let hi = thr.iter().rposition(|&t| t > 0).map_or(0, |j| j + 1);
            PopulationRow { thr, lo, hi }
        })
        .collect()
}

/// The population-coded spikes of one image into a zeroed [T, 80] view.
fn write_population(
    pixels: &[u8],
    m: usize,
    dt: f32,
    key: u64,
    table: &[PopulationRow],
    out: &mut ArrayViewMut2<f32>,
) {
    let spike = 1.0 / dt;
    let k = mix64(key);
    for (i, &p) in pixels.iter().enumerate() {
        let row_p = &table[p as usize];
        for t in i * m..(i + 1) * m {
            let mut row = out.row_mut(t);
            // The counter of draw (t, j) is t·80 + j: a pure function of (key, step, channel).
            let base = (t * N_CHANNELS) as u64;
            for j in row_p.lo..row_p.hi {
                // A uniform 24-bit integer from the top bits of the hash.
                let u = (mix64(k ^ (base + j as u64)) >> 40) as u32;
                if u < row_p.thr[j] {
                    row[j] = spike;
                }
            }
        }
    }
    write_cue(pixels.len(), m, spike, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn encode(pixels: &[u8], m: usize) -> Array2<f32> {
        let side = side_of(pixels.len());
        let mut out = Array2::<f32>::from_elem((steps(side, m), N_CHANNELS), 7.0);
        let pop = PopulationCoding::default();
        encode_image(
            pixels,
            m,
            Encoding::ThresholdCrossing,
            &pop,
            1.0,
            0,
            out.view_mut(),
        );
        out
    }

    /// Channels that fire at step t.
    fn active(x: &Array2<f32>, t: usize) -> Vec<usize> {
        (0..N_CHANNELS).filter(|&c| x[[t, c]] != 0.0).collect()
    }

    fn image_from(f: impl FnMut(usize) -> u8) -> Vec<u8> {
        (0..N_PIXELS).map(f).collect()
    }

    #[test]
    fn step_count() {
        assert_eq!(steps(MNIST_SIDE, 1), 840);
        assert_eq!(steps(MNIST_SIDE, 2), 1680);
        assert_eq!(steps(14, 1), 196 + 28);
    }

    #[test]
    fn rise_to_white_fires_onsets_then_touch() {
        // 0 for pixels 0..5, 255 for 5..10, 0 afterwards.
        let img = image_from(|i| if (5..10).contains(&i) { 255 } else { 0 });
        let x = encode(&img, 1);
        for t in 0..5 {
            assert!(active(&x, t).is_empty(), "step {t}");
        }
        // Step 5: onsets of θ_1..θ_38 (θ_0 = 0 never: pixel[4] = 0 is not < 0) and touch.
        let mut want: Vec<usize> = (1..N_THRESHOLDS).map(|k| ONSET + k).collect();
        want.push(TOUCH);
        assert_eq!(active(&x, 5), want);
        for t in 6..10 {
            assert_eq!(active(&x, t), vec![TOUCH], "step {t}");
        }
        // Step 10: 255 -> 0 fires offsets of θ_1..θ_38 (θ_0: 0 > 0 fails), no touch.
        let want: Vec<usize> = (1..N_THRESHOLDS).map(|k| OFFSET + k).collect();
        assert_eq!(active(&x, 10), want);
        for t in 11..N_PIXELS {
            assert!(active(&x, t).is_empty(), "step {t}");
        }
        assert!(x.iter().all(|&v| v == 0.0 || v == 1.0));
    }

    #[test]
    fn partial_rise_and_fall_cross_only_thresholds_in_between() {
        // 0 -> 128 at pixel 3, 128 -> 64 at pixel 4, 64 -> 0 at pixel 5.
        let img = image_from(|i| match i {
            3 => 128,
            4 => 64,
            _ => 0,
        });
        let x = encode(&img, 1);
        // 128/255 = 0.50196: θ_k = k/39 ≤ 0.50196 for k ≤ 19 (19/39 = 0.48718, 20/39 =
        // 0.51282); θ_0 excluded (0 < 0 fails): onsets k = 1..=19, 19 channels.
        let want: Vec<usize> = (1..=19).map(|k| ONSET + k).collect();
        assert_eq!(want.len(), 19);
        assert_eq!(active(&x, 3), want);
        // 64/255 = 0.25098: θ_k ≤ 0.25098 for k ≤ 9 (9/39 = 0.23077, 10/39 = 0.25641).
        // 128 -> 64: offsets with 128/255 ≥ θ > 64/255: k = 10..=19.
        let want: Vec<usize> = (10..=19).map(|k| OFFSET + k).collect();
        assert_eq!(active(&x, 4), want);
        // 64 -> 0: k = 1..=9 (θ_0 = 0 > 0 fails).
        let want: Vec<usize> = (1..=9).map(|k| OFFSET + k).collect();
        assert_eq!(active(&x, 5), want);
        assert_eq!(x.iter().filter(|&&v| v != 0.0).count(), 19 + 10 + 9 + 56);
    }

    #[test]
    fn ties_count_as_reaching_the_threshold() {
        // 85/255 = 1/3 = θ_13 exactly: onset of θ_13 fires (θ ≤ pixel), then 85 -> 84 fires
        // the offset of θ_13 (85/255 ≥ θ_13 > 84/255).
        let img = image_from(|i| match i {
            0 => 85,
            1 => 84,
            2 => 84,
            _ => 0,
        });
        let x = encode(&img, 1);
        // The first pixel is compared with the virtual pixel[-1] = 0.
        let want: Vec<usize> = (1..=13).map(|k| ONSET + k).collect();
        assert_eq!(active(&x, 0), want);
        assert_eq!(active(&x, 1), vec![OFFSET + 13]);
        assert!(active(&x, 2).is_empty());
        assert_eq!(
            active(&x, 3),
            (1..=12).map(|k| OFFSET + k).collect::<Vec<_>>()
        );
    }

    /// The rule written literally over all thresholds (f64, with exact ties via integers).
    fn reference(pixels: &[u8]) -> Vec<Vec<usize>> {
        let mut prev = 0u8;
        pixels
            .iter()
            .map(|&p| {
                let mut on = Vec::new();
                let below = |x: u8, k: usize| 39 * (x as usize) < 255 * k; // x/255 < k/39
                for k in 0..39 {
                    if below(prev, k) && !below(p, k) {
                        on.push(ONSET + k);
                    }
                }
                for k in 0..39 {
                    if !below(prev, k) && below(p, k) {
                        on.push(OFFSET + k);
                    }
                }
                if p == 255 {
                    on.push(TOUCH);
                }
                prev = p;
                on
            })
            .collect()
    }

    #[test]
    fn matches_the_literal_rule_on_random_images() {
        let mut h = 12345u64;
        for _ in 0..20 {
            let img = image_from(|_| {
                h = mix64(h);
                // Mix of background, saturation and any value.
                match h % 4 {
                    0 => 0,
                    1 => 255,
                    _ => (h >> 8) as u8,
                }
            });
            let x = encode(&img, 1);
            for (t, want) in reference(&img).iter().enumerate() {
                assert_eq!(&active(&x, t), want, "step {t}");
            }
            // Channels 0 and 39 (θ = 0) never fire.
            assert!(x.column(ONSET).iter().all(|&v| v == 0.0));
            assert!(x.column(OFFSET).iter().all(|&v| v == 0.0));
        }
    }

    #[test]
    fn cue_alone_during_the_last_56_pixels() {
        for m in [1, 2] {
            let img = image_from(|i| if i % 3 == 0 { 255 } else { 100 });
            let x = encode(&img, m);
            let cue_start = N_PIXELS * m;
            assert_eq!(x.nrows(), cue_start + 56 * m);
            assert!(x.slice(s![..cue_start, CUE]).iter().all(|&v| v == 0.0));
            for t in cue_start..x.nrows() {
                assert_eq!(active(&x, t), vec![CUE], "m {m} step {t}");
            }
        }
    }

    #[test]
    fn two_ms_per_pixel_spikes_on_the_first_step_and_touch_on_both() {
        let img = image_from(|i| match i {
            5..=6 => 255,
            7 => 128,
            _ => 0,
        });
        let x1 = encode(&img, 1);
        let x2 = encode(&img, 2);
        assert_eq!(x2.nrows(), 2 * x1.nrows());
        for i in 0..N_PIXELS {
            // The first step carries everything of the 1 ms/pixel step, the second touch only.
            let first = active(&x1, i);
            let second: Vec<usize> = first.iter().copied().filter(|&c| c == TOUCH).collect();
            assert_eq!(active(&x2, 2 * i), first, "pixel {i}, first step");
            assert_eq!(active(&x2, 2 * i + 1), second, "pixel {i}, second step");
        }
        // Spot checks: onsets at step 10, touch on steps 10..14, the fall to 128 at step 14.
        assert_eq!(active(&x2, 10).len(), 38 + 1);
        assert_eq!(active(&x2, 13), vec![TOUCH]);
        assert_eq!(
            active(&x2, 14),
            (20..=38).map(|k| OFFSET + k).collect::<Vec<_>>()
        );
        assert!(active(&x2, 15).is_empty());
    }

    #[test]
    fn spike_value_is_one_over_dt_and_output_is_zeroed() {
        let img = image_from(|i| if i == 0 { 255 } else { 0 });
        let mut out = Array2::<f32>::from_elem((steps(MNIST_SIDE, 1), N_CHANNELS), 3.0);
        let pop = PopulationCoding::default();
        encode_image(
            &img,
            1,
            Encoding::ThresholdCrossing,
            &pop,
            0.5,
            0,
            out.view_mut(),
        );
        assert!(out.iter().all(|&v| v == 0.0 || v == 2.0));
        assert_eq!(out[[0, TOUCH]], 2.0);
        assert_eq!(out[[1, OFFSET + 38]], 2.0);
        assert_eq!(out.iter().filter(|&&v| v != 0.0).count(), 38 + 1 + 38 + 56);
    }

    #[test]
    fn batch_equals_per_image_encoding() {
        let imgs: Vec<Vec<u8>> = (0..3)
            .map(|b| image_from(|i| ((i * 7 + b * 31) % 256) as u8))
            .collect();
        let refs: Vec<&[u8]> = imgs.iter().map(|v| v.as_slice()).collect();
        let pop = PopulationCoding::default();
        for enc in [Encoding::ThresholdCrossing, Encoding::Population] {
            let keys = [1u64, 2, 3];
            let x = encode_batch(&refs, 2, enc, &pop, 1.0, &keys);
            assert_eq!(x.dim(), (steps(MNIST_SIDE, 2), 3, N_CHANNELS));
            for b in 0..3 {
                let mut one = Array2::<f32>::zeros((steps(MNIST_SIDE, 2), N_CHANNELS));
                encode_image(&imgs[b], 2, enc, &pop, 1.0, keys[b], one.view_mut());
                assert_eq!(x.index_axis(Axis(1), b), one, "{enc:?} image {b}");
            }
        }
    }

    #[test]
    fn encoding_names() {
        let e: Encoding = serde_yaml_ng::from_str("threshold_crossing").unwrap();
        assert_eq!(e, Encoding::ThresholdCrossing);
        let e: Encoding = serde_yaml_ng::from_str("population").unwrap();
        assert_eq!(e, Encoding::Population);
    }

    fn encode_pop(pixels: &[u8], m: usize, pop: &PopulationCoding, key: u64) -> Array2<f32> {
        let mut out = Array2::<f32>::zeros((steps(MNIST_SIDE, m), N_CHANNELS));
        encode_image(
            pixels,
            m,
            Encoding::Population,
            pop,
            1.0,
            key,
            out.view_mut(),
        );
        out
    }

    #[test]
    fn population_is_reproducible_per_key() {
        let img = image_from(|i| (i % 256) as u8);
        let pop = PopulationCoding::default();
        let a = encode_pop(&img, 1, &pop, noise_key(7, 42));
        let b = encode_pop(&img, 1, &pop, noise_key(7, 42));
        let c = encode_pop(&img, 1, &pop, noise_key(7, 43));
        let d = encode_pop(&img, 1, &pop, noise_key(8, 42));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
        assert!(a.iter().filter(|&&v| v != 0.0).count() > 100);
        // The cue: channel 79 on every cue step only; intensity channels silent there.
        for t in 0..steps(MNIST_SIDE, 1) {
            let cue = t >= N_PIXELS;
            assert_eq!(a[[t, CUE]] != 0.0, cue, "step {t}");
            if cue {
                assert!(a.slice(s![t, ..CUE]).iter().all(|&v| v == 0.0));
            }
        }
    }

    #[test]
    fn population_rates_follow_the_tuning_curves() {
        // A constant image of intensity 100/255 over 2 ms per pixel: 1568 steps, many keys.
        let pop = PopulationCoding {
            peak_rate_hz: 200.0,
            width: 0.05,
        };
        let p = 100u8;
        let img = vec![p; N_PIXELS];
        let n_keys = 20;
        let n_steps = (N_PIXELS * 2 * n_keys) as f64;
        let mut counts = [0.0f64; N_POPULATION];
        for key in 0..n_keys as u64 {
            let x = encode_pop(&img, 2, &pop, noise_key(1, key));
            for t in 0..N_PIXELS * 2 {
                for (j, c) in counts.iter_mut().enumerate() {
                    *c += x[[t, j]] as f64; // spikes are 1/dt = 1
                }
            }
        }
        for (j, &c) in counts.iter().enumerate() {
            let d = p as f64 / 255.0 - j as f64 / 78.0;
            let prob = 0.2 * (-d * d / (2.0 * 0.05 * 0.05)).exp();
            let mean = prob * n_steps;
            let sd = (n_steps * prob * (1.0 - prob)).sqrt();
            // 5 standard deviations (plus one count of slack for the rare tails).
            assert!(
                (c - mean).abs() <= 5.0 * sd + 1.0,
                "channel {j}: {c} spikes, expected {mean:.1} ± {sd:.1}"
            );
        }
        // The most active channel is the one whose centre is nearest to 100/255 (0.392 ≈ 31/78).
        let best = (0..N_POPULATION)
            .max_by(|&a, &b| counts[a].total_cmp(&counts[b]))
            .unwrap();
        assert_eq!(best, 31);
    }

    /// Not a benchmark: prints the time to encode 256 blob images (run with
    /// `cargo test --release smnist_encoding -- --nocapture`).
    #[test]
    fn encode_time_of_a_batch_of_blobs() {
        let mut h = 99u64;
        let imgs: Vec<Vec<u8>> = (0..256)
            .map(|_| {
                // A few Gaussian blobs of random centre and size, saturating at 255 like digits.
                let blobs: Vec<(f64, f64, f64)> = (0..4)
                    .map(|_| {
                        h = mix64(h);
                        let cx = 7.0 + (h % 14) as f64;
                        let cy = 7.0 + ((h >> 8) % 14) as f64;
                        let r = 1.5 + ((h >> 16) % 3) as f64;
                        (cx, cy, r)
                    })
                    .collect();
                image_from(|i| {
                    let (y, x) = ((i / 28) as f64, (i % 28) as f64);
                    let v: f64 = blobs
                        .iter()
                        .map(|&(cx, cy, r)| {
                            2.0 * (-((x - cx).powi(2) + (y - cy).powi(2)) / (2.0 * r * r)).exp()
                        })
                        .sum();
                    (v.min(1.0) * 255.0).round() as u8
                })
            })
            .collect();
        let refs: Vec<&[u8]> = imgs.iter().map(|v| v.as_slice()).collect();
        let keys: Vec<u64> = (0..256).map(|i| noise_key(0, i)).collect();
        let pop = PopulationCoding::default();
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        let mut reused = Array3::<f32>::zeros((steps(MNIST_SIDE, 1), 256, N_CHANNELS));
        reused.fill(1.0); // fault every page in once
        for enc in [Encoding::ThresholdCrossing, Encoding::Population] {
            // Best of 3 (the machine may be shared).
            let (mut fresh, mut fresh_read, mut into) = (f64::MAX, f64::MAX, f64::MAX);
            let mut n = 0;
            for _ in 0..3 {
                let t0 = std::time::Instant::now();
                let x = encode_batch(&refs, 1, enc, &pop, 1.0, &keys);
                fresh = fresh.min(ms(t0.elapsed()));
                // Touch every page, as the upload to the device will.
                n = x.iter().filter(|&&v| v != 0.0).count();
                fresh_read = fresh_read.min(ms(t0.elapsed()));
                let t0 = std::time::Instant::now();
                encode_batch_into(&refs, 1, enc, &pop, 1.0, &keys, reused.view_mut());
                into = into.min(ms(t0.elapsed()));
                assert_eq!(x, reused);
            }
            println!(
                "smnist_encoding {enc:?}: 256 images x {} steps x 80 ({:.1} spikes/image): \
                 encode_batch {fresh:.2} ms (incl. first read of the fresh array {fresh_read:.2} \
                 ms); encode_batch_into a reused array {into:.2} ms",
                steps(MNIST_SIDE, 1),
                n as f64 / 256.0
            );
        }
    }

    #[test]
    fn downsample_averages_blocks_and_keeps_rows() {
        // Pixel (r, c) = 4·r + c for r, c < 4, 0 elsewhere; pooled by 2:
        // (0,0) = mean(0, 1, 4, 5) = 2.5 -> 3 (rounded half up); (0,1) = mean(2,3,6,7) = 4.5 -> 5;
        // (1,0) = mean(8,9,12,13) = 10.5 -> 11; (1,1) = mean(10,11,14,15) = 12.5 -> 13.
        let img = image_from(|i| {
            let (r, c) = (i / 28, i % 28);
            if r < 4 && c < 4 {
                (4 * r + c) as u8
            } else {
                0
            }
        });
        let small = downsample(&img, 2);
        assert_eq!(small.len(), 196);
        assert_eq!(&small[..2], &[3, 5]);
        assert_eq!(&small[14..16], &[11, 13]);
        assert!(small[2..14].iter().all(|&p| p == 0));
        assert_eq!(downsample(&img, 1), img);
        // A pooled image encodes to (196 + 28) steps with the cue on the last 28.
        let x = encode(&small, 1);
        assert_eq!(x.dim(), (224, N_CHANNELS));
        assert!((196..224).all(|t| active(&x, t) == vec![CUE]));
        assert!((0..196).all(|t| x[[t, CUE]] == 0.0));
    }
}
