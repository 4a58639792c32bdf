//! MFCC features for TIMIT framewise phone classification (docs/experiments.md §2).
//!
//! The experiments use the features of `python_speech_features` 0.6 (psf), so this module
//! reproduces psf's arithmetic step for step rather than a textbook MFCC: 16 kHz audio at
//! its int16 value scale, pre-emphasis 0.97 over the whole signal, 25 ms Hamming windows
//! every 10 ms (the last frame zero-padded), `|rfft(frame, 512)|² / 512`, 26 triangular mel
//! filters built with psf's integer FFT-bin arithmetic, log, orthonormal DCT-II keeping 13
//! coefficients, sinusoidal lifter 22, and coefficient 0 replaced by the log frame energy.
//! [`MfccExtractor::features`] appends psf's `delta(feat, 2)` and the delta of that delta:
//! 39 values per frame.
//!
//! `tests/fixtures/mfcc_psf.json` (made by `scripts/make_mfcc_fixture.py`) holds psf's
//! output for two signals, and the tests here check that this code matches it.
//!
//! Everything is computed in f64, like numpy, and only the result is rounded to f32.

use std::f64::consts::PI;
use std::sync::Arc;

use ndarray::{s, Array2, ArrayView2, Axis};
use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

/// numpy's `np.finfo(float).eps`: psf puts it in place of a frame energy or a filterbank
/// energy that is exactly zero (digital silence), so the log stays finite (≈ -36.04).
const F64_EPS: f64 = f64::EPSILON;

/// The largest FFT accepted, so that a typo in a config cannot allocate without bound;
/// 65536 samples is 4 s at 16 kHz, far beyond any analysis window.
const MAX_N_FFT: usize = 1 << 16;

/// MFCC settings. The defaults are the docs/experiments.md settings, i.e. the psf call
/// `mfcc(signal, samplerate=16000, winlen=0.025, winstep=0.01, numcep=13, nfilt=26,
/// nfft=512, lowfreq=0, highfreq=None, preemph=0.97, ceplifter=22, appendEnergy=True,
/// winfunc=numpy.hamming)` followed by `delta(feat, 2)` twice. The mel filters always span
/// 0 Hz to half the sample rate (psf's `lowfreq=0, highfreq=None`), and coefficient 0 is
/// always the log frame energy (psf's `appendEnergy=True`).
///
/// In a config file, fields left out take their default; unknown fields are an error, so
/// a misspelt field is not silently ignored.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MfccSettings {
    /// Samples per second of the audio (TIMIT: 16000).
    pub sample_rate: u32,
    /// Analysis window length in milliseconds (25); rounded half up to whole samples as psf
    /// does (400 samples at 16 kHz).
    pub window_ms: f32,
    /// Step between window starts in milliseconds (10 ms, 160 samples at 16 kHz): one
    /// feature vector, and one phone label, every 10 ms.
    pub hop_ms: f32,
    /// Pre-emphasis coefficient `a` in `y[i] = x[i] - a·x[i-1]` (0.97; 0 disables it).
    pub preemphasis: f32,
    /// Number of triangular mel filters (26).
    pub n_filters: usize,
    /// Cepstral coefficients kept per frame (13), counting slot 0, which holds the log
    /// frame energy: 12 MFCCs + log energy.
    pub n_ceps: usize,
    /// FFT length (512); each window is zero-padded to it, so it must be at least the window.
    pub n_fft: usize,
    /// Sinusoidal lifter parameter `L` in `1 + (L/2)·sin(π n / L)` (22; 0 disables it).
    pub cep_lifter: usize,
    /// Frames on each side used by the regression deltas, psf's `N` (2).
    pub delta_window: usize,
}

impl Default for MfccSettings {
    fn default() -> Self {
        MfccSettings {
            sample_rate: 16_000,
            window_ms: 25.0,
            hop_ms: 10.0,
            preemphasis: 0.97,
            n_filters: 26,
            n_ceps: 13,
            n_fft: 512,
            cep_lifter: 22,
            delta_window: 2,
        }
    }
}

impl MfccSettings {
    /// Window length in samples: `window_ms` at `sample_rate`, rounded half up like psf's
    /// `round_half_up(winlen * samplerate)` (400 with the defaults).
    pub fn window_len(&self) -> usize {
        ms_to_samples(self.window_ms, self.sample_rate)
    }

    /// Hop in samples, rounded like [`Self::window_len`] (160 with the defaults).
    pub fn hop_len(&self) -> usize {
        ms_to_samples(self.hop_ms, self.sample_rate)
    }

    /// Values per frame from [`MfccExtractor::features`]: the cepstra, their deltas and
    /// their delta-deltas, `3 · n_ceps` (39 with the defaults).
    pub fn n_features(&self) -> usize {
        3 * self.n_ceps
    }

    /// Checks that the settings describe a computable front end; the error names the
    /// offending field and says why.
    pub fn validate(&self) -> Result<(), String> {
        if self.sample_rate == 0 {
            return Err("sample_rate must be positive".into());
        }
        if !(self.window_ms.is_finite() && self.window_ms > 0.0) {
            return Err(format!(
                "window_ms = {} must be a positive number",
                self.window_ms
            ));
        }
        if !(self.hop_ms.is_finite() && self.hop_ms > 0.0) {
            return Err(format!(
                "hop_ms = {} must be a positive number",
                self.hop_ms
            ));
        }
        let window_len = self.window_len();
        if window_len == 0 {
            return Err(format!(
                "window_ms = {} is less than half a sample at sample_rate = {}",
                self.window_ms, self.sample_rate
            ));
        }
        if self.hop_len() == 0 {
            return Err(format!(
                "hop_ms = {} is less than half a sample at sample_rate = {}",
                self.hop_ms, self.sample_rate
            ));
        }
        if self.n_fft == 0 || self.n_fft > MAX_N_FFT {
            return Err(format!(
                "n_fft = {} must be between 1 and {MAX_N_FFT}",
                self.n_fft
            ));
        }
        if window_len > self.n_fft {
            // psf would silently truncate the frame (with only a logged warning).
            return Err(format!(
                "window_ms = {} is {window_len} samples at sample_rate = {}, longer than \
                 n_fft = {}; raise n_fft or shorten the window",
                self.window_ms, self.sample_rate, self.n_fft
            ));
        }
        if !(self.preemphasis.is_finite() && (0.0..=1.0).contains(&self.preemphasis)) {
            return Err(format!(
                "preemphasis = {} must be between 0 (off) and 1",
                self.preemphasis
            ));
        }
        if self.n_filters == 0 {
            return Err("n_filters must be at least 1".into());
        }
        if self.n_ceps == 0 || self.n_ceps > self.n_filters {
            // The DCT of n_filters log energies has only n_filters coefficients.
            return Err(format!(
                "n_ceps = {} must be between 1 and n_filters = {}",
                self.n_ceps, self.n_filters
            ));
        }
        if self.delta_window == 0 {
            return Err("delta_window must be at least 1 (psf's delta requires N >= 1)".into());
        }
        Ok(())
    }
}

/// psf's `round_half_up(seconds * samplerate)`, from milliseconds. Invalid (negative,
/// NaN) durations give 0, which [`MfccSettings::validate`] rejects.
fn ms_to_samples(ms: f32, sample_rate: u32) -> usize {
    let samples = (f64::from(sample_rate) * decimal_f64(ms) / 1000.0 + 0.5).floor();
    if samples.is_finite() && samples > 0.0 {
        samples as usize
    } else {
        0
    }
}

/// Number of frames psf makes of `n_samples` samples: 1 if the signal fits in one window,
/// else `1 + ceil((n_samples - window) / hop)`, because psf zero-pads the signal so the
/// last frame is full. Frame `i` covers samples `[i·hop, i·hop + window)`. An empty
/// signal gives one (all-silent) frame, as the formula says.
pub fn frame_count(n_samples: usize, settings: &MfccSettings) -> usize {
    let window_len = settings.window_len();
    // max(1): this function takes unvalidated settings and must not divide by zero.
    let hop_len = settings.hop_len().max(1);
    if n_samples <= window_len {
        1
    } else {
        1 + (n_samples - window_len).div_ceil(hop_len)
    }
}

/// The f64 nearest the decimal that `value` was written as: 0.97f32 becomes 0.97, the
/// coefficient psf uses, not 0.97000002861. f32's `Display` prints the shortest decimal
/// that reads back as the same f32, which is the one the user wrote (or an equivalent).
fn decimal_f64(value: f32) -> f64 {
    value.to_string().parse().unwrap_or(f64::from(value))
}

/// One triangular mel filter: its weights for FFT bins `first_bin ..`.
#[derive(Clone, Debug)]
struct MelFilter {
    first_bin: usize,
    weights: Vec<f64>,
}

/// The MFCC front end, built once from [`MfccSettings`] and reused for every utterance: it
/// holds the FFT plan, the Hamming window, the mel filterbank, the DCT matrix and the
/// lifter. Frame `i` of an utterance covers samples `[i·hop, i·hop + window)` (see
/// [`frame_count`]). It is `Send + Sync`, so threads can share one.
#[derive(Clone)]
pub struct MfccExtractor {
    settings: MfccSettings,
    window_len: usize,
    hop_len: usize,
    fft: Arc<dyn Fft<f64>>,
    /// numpy.hamming(window_len): symmetric, `0.54 - 0.46·cos(2πn / (M-1))`.
    hamming: Vec<f64>,
    filters: Vec<MelFilter>,
    /// Orthonormal DCT-II rows 0..n_ceps, row-major `[n_ceps][n_filters]`.
    dct: Vec<f64>,
    /// Per-coefficient lifter gains (all 1 when `cep_lifter` is 0).
    lifter: Vec<f64>,
    /// `settings.preemphasis` as the f64 psf would use (see [`decimal_f64`]).
    preemphasis: f64,
}

impl std::fmt::Debug for MfccExtractor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The FFT plan is not Debug; the settings determine everything else.
        f.debug_struct("MfccExtractor")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl MfccExtractor {
    /// Validates the settings and precomputes the window, filterbank, DCT and FFT plan.
    pub fn new(settings: &MfccSettings) -> Result<Self, String> {
        settings.validate()?;
        let window_len = settings.window_len();
        let n_filters = settings.n_filters;
        let n_ceps = settings.n_ceps;

        let hamming = hamming_window(window_len);

        let n_bins = settings.n_fft / 2 + 1;
        let edges = filterbank_bin_edges(settings);
        let filters = (0..n_filters)
            .map(|j| triangular_filter(edges[j], edges[j + 1], edges[j + 2], n_bins))
            .collect();

        // scipy.fftpack.dct(type=2, norm='ortho'): y[k] = f_k Σ x[m] cos(πk(2m+1)/(2N)),
        // f_0 = sqrt(1/N), f_k = sqrt(2/N).
        let n = n_filters as f64;
        let mut dct = Vec::with_capacity(n_ceps * n_filters);
        for k in 0..n_ceps {
            let scale = if k == 0 {
                (1.0 / n).sqrt()
            } else {
                (2.0 / n).sqrt()
            };
            for m in 0..n_filters {
                dct.push(scale * (PI * k as f64 * (2 * m + 1) as f64 / (2.0 * n)).cos());
            }
        }

        // psf's lifter: 1 + (L/2) sin(πn/L), which raises the higher coefficients to a
        // comparable range; L = 0 leaves them as they are.
        let lifter = (0..n_ceps)
            .map(|c| {
                if settings.cep_lifter == 0 {
                    1.0
                } else {
                    let l = settings.cep_lifter as f64;
                    1.0 + (l / 2.0) * (PI * c as f64 / l).sin()
                }
            })
            .collect();

        let fft = FftPlanner::<f64>::new().plan_fft_forward(settings.n_fft);
        Ok(MfccExtractor {
            settings: settings.clone(),
            window_len,
            hop_len: settings.hop_len(),
            fft,
            hamming,
            filters,
            dct,
            lifter,
            preemphasis: decimal_f64(settings.preemphasis),
        })
    }

    /// The settings this extractor was built with.
    pub fn settings(&self) -> &MfccSettings {
        &self.settings
    }

    /// psf's `mfcc(...)` with the settings: `[frames, n_ceps]`, column 0 the log frame
    /// energy, columns 1.. the liftered cepstra. Samples are taken at their int16 value
    /// scale, as psf gets them from `scipy.io.wavfile`.
    pub fn mfcc(&self, samples: &[i16]) -> Array2<f32> {
        self.mfcc_f64(samples).mapv(|v| v as f32)
    }

    /// The 39 features per frame used for TIMIT: `[frames, 3·n_ceps]` holding the
    /// [`Self::mfcc`] cepstra, their [`deltas`] and the deltas of those deltas, in that
    /// order (psf's `delta(mfcc, N)` and `delta(delta(mfcc, N), N)`).
    pub fn features(&self, samples: &[i16]) -> Array2<f32> {
        let cepstra = self.mfcc_f64(samples);
        let delta = deltas_f64(cepstra.view(), self.settings.delta_window);
        let delta_delta = deltas_f64(delta.view(), self.settings.delta_window);
        let n_ceps = self.settings.n_ceps;
        let mut features = Array2::<f32>::zeros((cepstra.nrows(), 3 * n_ceps));
        for (block, part) in [&cepstra, &delta, &delta_delta].into_iter().enumerate() {
            features
                .slice_mut(s![.., block * n_ceps..(block + 1) * n_ceps])
                .assign(&part.mapv(|v| v as f32));
        }
        features
    }

    fn mfcc_f64(&self, samples: &[i16]) -> Array2<f64> {
        let settings = &self.settings;
        let n_fft = settings.n_fft;
        let n_ceps = settings.n_ceps;
        let emphasized = preemphasize(samples, self.preemphasis);
        let n_frames = frame_count(samples.len(), settings);

        let mut cepstra = Array2::<f64>::zeros((n_frames, n_ceps));
        let mut spectrum = vec![Complex::new(0.0, 0.0); n_fft];
        let mut scratch = vec![Complex::new(0.0, 0.0); self.fft.get_inplace_scratch_len()];
        let mut power = vec![0.0; n_fft / 2 + 1];
        let mut log_fbank = vec![0.0; self.filters.len()];

        for (frame, mut row) in cepstra.axis_iter_mut(Axis(0)).enumerate() {
            let start = frame * self.hop_len;
            for (k, slot) in spectrum.iter_mut().enumerate() {
                // Past the signal end psf pads with zeros; past the window, rfft's
                // zero-padding to n_fft.
                let sample = if k < self.window_len {
                    emphasized.get(start + k).copied().unwrap_or(0.0) * self.hamming[k]
                } else {
                    0.0
                };
                *slot = Complex::new(sample, 0.0);
            }
            self.fft.process_with_scratch(&mut spectrum, &mut scratch);
            for (p, bin) in power.iter_mut().zip(&spectrum) {
                *p = bin.norm_sqr() / n_fft as f64;
            }

            let energy = replace_zero_with_eps(power.iter().sum());
            for (log_energy, filter) in log_fbank.iter_mut().zip(&self.filters) {
                let filtered: f64 = filter
                    .weights
                    .iter()
                    .zip(&power[filter.first_bin..])
                    .map(|(w, p)| w * p)
                    .sum();
                *log_energy = replace_zero_with_eps(filtered).ln();
            }

            for (c, value) in row.iter_mut().enumerate() {
                let dct_row = &self.dct[c * log_fbank.len()..(c + 1) * log_fbank.len()];
                let cepstrum: f64 = dct_row.iter().zip(&log_fbank).map(|(d, x)| d * x).sum();
                *value = cepstrum * self.lifter[c];
            }
            // psf's appendEnergy=True: slot 0 holds the log of the frame's total spectral
            // power (eps if zero) instead of c0.
            row[0] = energy.ln();
        }
        cepstra
    }
}

fn replace_zero_with_eps(energy: f64) -> f64 {
    if energy == 0.0 {
        F64_EPS
    } else {
        energy
    }
}

/// psf's `preemphasis`: `y[0] = x[0]`, `y[i] = x[i] - a·x[i-1]`, over the whole signal
/// before framing (so a frame's first sample uses the previous frame's samples).
fn preemphasize(samples: &[i16], coefficient: f64) -> Vec<f64> {
    let mut previous = None;
    samples
        .iter()
        .map(|&x| {
            let x = f64::from(x);
            let y = match previous {
                Some(p) => x - coefficient * p,
                None => x,
            };
            previous = Some(x);
            y
        })
        .collect()
}

/// `numpy.hamming(len)`; a one-sample window is `[1.0]`, as numpy gives.
fn hamming_window(len: usize) -> Vec<f64> {
    if len == 1 {
        return vec![1.0];
    }
    let denominator = (len - 1) as f64;
    (0..len)
        .map(|n| 0.54 - 0.46 * (2.0 * PI * n as f64 / denominator).cos())
        .collect()
}

fn hz_to_mel(hz: f64) -> f64 {
    2595.0 * (1.0 + hz / 700.0).log10()
}

fn mel_to_hz(mel: f64) -> f64 {
    700.0 * (10f64.powf(mel / 2595.0) - 1.0)
}

/// The `n_filters + 2` FFT-bin edges of psf's `get_filterbanks` with `lowfreq = 0` and
/// `highfreq = samplerate / 2`: points evenly spaced in mel (as `numpy.linspace` computes
/// them: `start + i·step`, the last point exactly `stop`), converted back to Hz, then
/// `floor((nfft + 1) · hz / samplerate)`. Filter `j` rises over bins `[edge j, edge j+1)`
/// and falls over `[edge j+1, edge j+2)`.
fn filterbank_bin_edges(settings: &MfccSettings) -> Vec<usize> {
    let sample_rate = f64::from(settings.sample_rate);
    let low_mel = hz_to_mel(0.0);
    let high_mel = hz_to_mel(sample_rate / 2.0);
    let n_points = settings.n_filters + 2;
    let step = (high_mel - low_mel) / (n_points - 1) as f64;
    (0..n_points)
        .map(|i| {
            let mel = if i == n_points - 1 {
                high_mel
            } else {
                i as f64 * step + low_mel
            };
            let bin = ((settings.n_fft + 1) as f64 * mel_to_hz(mel) / sample_rate).floor();
            // Never negative in exact arithmetic (mel_to_hz(0) = 0); guard against -0.0 / NaN.
            if bin > 0.0 {
                bin as usize
            } else {
                0
            }
        })
        .collect()
}

/// psf's triangle between bin edges `left <= centre <= right`, its weights computed from
/// the integer bin numbers exactly as psf does, cut to the `n_bins` spectrum bins.
fn triangular_filter(left: usize, centre: usize, right: usize, n_bins: usize) -> MelFilter {
    let end = right.min(n_bins);
    let first_bin = left.min(end);
    let weights = (first_bin..end)
        .map(|i| {
            // Rising bins satisfy left <= i < centre, falling ones centre <= i < right, so
            // neither subtraction underflows nor does either denominator vanish.
            if i < centre {
                (i - left) as f64 / (centre - left) as f64
            } else {
                (right - i) as f64 / (right - centre) as f64
            }
        })
        .collect();
    MelFilter { first_bin, weights }
}

/// psf's `delta(feat, N)`: per column, the regression slope
/// `d[t] = Σ_{k=1..N} k·(x[t+k] - x[t-k]) / (2 Σ_{k=1..N} k²)`, with frames beyond either
/// end replaced by the first or last frame (numpy `pad(mode='edge')`). `n = 0` (which psf
/// rejects and [`MfccSettings::validate`] forbids) gives zeros: no neighbours, no slope.
pub fn deltas(feat: &Array2<f32>, n: usize) -> Array2<f32> {
    deltas_f64(feat.mapv(f64::from).view(), n).mapv(|v| v as f32)
}

fn deltas_f64(feat: ArrayView2<f64>, n: usize) -> Array2<f64> {
    let n_frames = feat.nrows();
    let mut delta = Array2::<f64>::zeros(feat.raw_dim());
    if n_frames == 0 || n == 0 {
        return delta;
    }
    let denominator = 2.0 * (1..=n).map(|k| (k * k) as f64).sum::<f64>();
    for (t, mut row) in delta.axis_iter_mut(Axis(0)).enumerate() {
        for k in 1..=n {
            let later = feat.row((t + k).min(n_frames - 1));
            let earlier = feat.row(t.saturating_sub(k));
            for ((d, a), b) in row.iter_mut().zip(later).zip(earlier) {
                *d += k as f64 * (a - b);
            }
        }
        row.mapv_inplace(|v| v / denominator);
    }
    delta
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array1;

    #[derive(serde::Deserialize)]
    struct Fixture {
        versions: std::collections::BTreeMap<String, String>,
        settings: MfccSettings,
        filterbank_bins: Vec<usize>,
        signals: Vec<FixtureSignal>,
    }

    #[derive(serde::Deserialize)]
    struct FixtureSignal {
        name: String,
        samples: Vec<i16>,
        mfcc: Vec<Vec<f64>>,
        features: Vec<Vec<f64>>,
    }

    fn load_fixture() -> Fixture {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mfcc_psf.json");
        let text = std::fs::read_to_string(path).expect("read tests/fixtures/mfcc_psf.json");
        serde_json::from_str(&text).expect("parse tests/fixtures/mfcc_psf.json")
    }

    // Tolerance against psf: |ours - psf| <= 2e-3 + 1e-3·|psf|. Our output is rounded to
    // f32 (relative 6e-8, i.e. ~2e-6 at the log(eps) ≈ -36 of silent frames), and the f64
    // pipelines differ in rounding (pocketfft vs rustfft, numpy's pairwise sums, libm's
    // log10/pow), which the log turns into absolute errors that grow for frames with very
    // little energy (a frame holding only the edge of a silence); the deltas mix 5 frames.
    // (Measured: about 2e-6 absolute, i.e. just the f32 rounding.) All that stays orders
    // of magnitude below this bound, which is in turn far below the effect of leaving out
    // any psf step (the lifter scales c1..c12 by up to 12, missing pre-emphasis moves the
    // log energy by about 1).
    const ABS_TOL: f64 = 2e-3;
    const REL_TOL: f64 = 1e-3;

    /// Largest errors seen: absolute, relative (over values with |psf| >= 1, since values
    /// near zero, such as the cepstra of silent frames, make relative error meaningless),
    /// and the largest fraction of the tolerance used.
    #[derive(Default)]
    struct MaxErrors {
        abs: f64,
        rel: f64,
        tolerance_used: f64,
    }

    /// Checks every value against psf and returns the largest errors.
    fn compare(what: &str, ours: &Array2<f32>, expected: &[Vec<f64>]) -> MaxErrors {
        let n_cols = expected.first().map_or(0, Vec::len);
        assert_eq!(ours.dim(), (expected.len(), n_cols), "{what}: shape");
        let mut max = MaxErrors::default();
        for (frame, expected_row) in expected.iter().enumerate() {
            for (col, &want) in expected_row.iter().enumerate() {
                let got = f64::from(ours[[frame, col]]);
                let error = (got - want).abs();
                let tolerance = ABS_TOL + REL_TOL * want.abs();
                assert!(
                    error <= tolerance,
                    "{what}: frame {frame} column {col}: ours {got}, psf {want}"
                );
                max.abs = max.abs.max(error);
                if want.abs() >= 1.0 {
                    max.rel = max.rel.max(error / want.abs());
                }
                max.tolerance_used = max.tolerance_used.max(error / tolerance);
            }
        }
        max
    }

    #[test]
    fn matches_python_speech_features_fixture() {
        let fixture = load_fixture();
        assert_eq!(fixture.versions["python_speech_features"], "0.6");
        // The fixture was made with the docs/experiments.md settings, which are the defaults.
        assert_eq!(fixture.settings, MfccSettings::default());
        let extractor = MfccExtractor::new(&fixture.settings).unwrap();
        assert_eq!(fixture.signals.len(), 2);
        for signal in &fixture.signals {
            let n_frames = frame_count(signal.samples.len(), &fixture.settings);
            assert_eq!(n_frames, signal.mfcc.len(), "{}: frame count", signal.name);
            let mfcc = extractor.mfcc(&signal.samples);
            let mfcc_errors = compare(&format!("{} mfcc", signal.name), &mfcc, &signal.mfcc);
            let features = extractor.features(&signal.samples);
            let feature_errors = compare(
                &format!("{} features", signal.name),
                &features,
                &signal.features,
            );
            for (what, errors) in [("mfcc", mfcc_errors), ("features", feature_errors)] {
                crate::stderr::line!(
                    "{} {what}: {n_frames} frames; max error vs psf: abs {:.2e}, rel {:.2e} \
                     (|psf| >= 1), {:.2e} of the tolerance",
                    signal.name,
                    errors.abs,
                    errors.rel,
                    errors.tolerance_used
                );
            }
        }
    }

    #[test]
    fn silent_frames_get_log_eps_like_psf() {
        // The fixture's second signal has samples 1500..3000 exactly zero: frames 10..=16
        // lie inside it, and psf gives them log(eps) energy.
        let fixture = load_fixture();
        let signal = &fixture.signals[1];
        let mfcc = MfccExtractor::new(&fixture.settings)
            .unwrap()
            .mfcc(&signal.samples);
        for frame in 10..=16 {
            assert_eq!(signal.mfcc[frame][0], F64_EPS.ln(), "fixture frame {frame}");
            assert_eq!(mfcc[[frame, 0]], F64_EPS.ln() as f32, "frame {frame}");
        }
        // All 26 filter energies are eps too, so the DCT of a constant leaves c1.. at 0.
        assert!(mfcc.slice(s![10..=16, 1..]).iter().all(|v| v.abs() < 1e-6));
    }

    #[test]
    fn filterbank_edges_match_psf_exactly() {
        let fixture = load_fixture();
        assert_eq!(
            filterbank_bin_edges(&fixture.settings),
            fixture.filterbank_bins
        );
    }

    #[test]
    fn default_settings_are_the_experiment_settings() {
        let settings = MfccSettings::default();
        assert_eq!(settings.window_len(), 400);
        assert_eq!(settings.hop_len(), 160);
        assert_eq!(settings.n_features(), 39);
        assert_eq!(settings.validate(), Ok(()));
        // The f32 coefficient reaches the arithmetic as psf's f64 0.97.
        assert_eq!(decimal_f64(settings.preemphasis), 0.97f64);
        assert_eq!(MfccExtractor::new(&settings).unwrap().preemphasis, 0.97f64);
        // As documented, one extractor can be shared between threads.
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<MfccExtractor>();
    }

    #[test]
    fn frame_count_edge_cases() {
        let settings = MfccSettings::default(); // window 400, hop 160
        assert_eq!(frame_count(0, &settings), 1);
        assert_eq!(frame_count(399, &settings), 1, "shorter than a window");
        assert_eq!(frame_count(400, &settings), 1, "exactly one window");
        assert_eq!(
            frame_count(401, &settings),
            2,
            "one sample over: zero-padded frame"
        );
        assert_eq!(frame_count(560, &settings), 2, "exact fit of two frames");
        assert_eq!(frame_count(561, &settings), 3, "one sample over two frames");
        assert_eq!(frame_count(4321, &settings), 26);
        // The extractor makes exactly that many frames, even from an empty signal.
        let extractor = MfccExtractor::new(&settings).unwrap();
        for n_samples in [0, 1, 399, 400, 401, 560, 561] {
            let samples: Vec<i16> = (0..n_samples)
                .map(|i| ((i * 37) % 2000) as i16 - 1000)
                .collect();
            let features = extractor.features(&samples);
            assert_eq!(
                features.dim(),
                (frame_count(n_samples, &settings), 39),
                "{n_samples}"
            );
            assert!(features.iter().all(|v| v.is_finite()), "{n_samples}");
        }
    }

    #[test]
    fn deltas_of_a_linear_ramp_are_its_slope() {
        // Column c rises by slope[c] per frame. Away from the ends (N = 2 frames of context
        // on each side) the regression slope is exact; at the ends psf repeats the edge
        // frame, which gives (1·1 + 2·2)/10 = 0.5 and (1·2 + 2·3)/10 = 0.8 of the slope.
        let slope = Array1::from(vec![1.5f32, -0.25, 0.0]);
        let ramp = Array2::from_shape_fn((8, 3), |(t, c)| slope[c] * t as f32 + 10.0);
        let delta = deltas(&ramp, 2);
        let factors = [0.5, 0.8, 1.0, 1.0, 1.0, 1.0, 0.8, 0.5];
        for (t, factor) in factors.iter().enumerate() {
            for c in 0..3 {
                let want = factor * slope[c];
                assert!(
                    (delta[[t, c]] - want).abs() < 1e-6,
                    "t {t} c {c}: {}",
                    delta[[t, c]]
                );
            }
        }
        // A constant sequence has zero deltas; no frames in, no frames out.
        assert!(deltas(&Array2::from_elem((3, 2), 4.0), 2)
            .iter()
            .all(|&v| v == 0.0));
        assert_eq!(deltas(&Array2::zeros((0, 13)), 2).dim(), (0, 13));
    }

    #[test]
    fn validate_names_the_offending_field() {
        let window_too_long = MfccSettings {
            n_fft: 256,
            ..MfccSettings::default()
        };
        let message = window_too_long.validate().unwrap_err();
        assert!(
            message.contains("window_ms") && message.contains("n_fft"),
            "{message}"
        );
        assert_eq!(MfccExtractor::new(&window_too_long).unwrap_err(), message);

        let cases = [
            (
                MfccSettings {
                    sample_rate: 0,
                    ..MfccSettings::default()
                },
                "sample_rate",
            ),
            (
                MfccSettings {
                    hop_ms: 0.0,
                    ..MfccSettings::default()
                },
                "hop_ms",
            ),
            (
                MfccSettings {
                    window_ms: f32::NAN,
                    ..MfccSettings::default()
                },
                "window_ms",
            ),
            (
                MfccSettings {
                    n_ceps: 27,
                    ..MfccSettings::default()
                },
                "n_ceps",
            ),
            (
                MfccSettings {
                    n_filters: 0,
                    ..MfccSettings::default()
                },
                "n_filters",
            ),
            (
                MfccSettings {
                    preemphasis: -0.5,
                    ..MfccSettings::default()
                },
                "preemphasis",
            ),
            (
                MfccSettings {
                    delta_window: 0,
                    ..MfccSettings::default()
                },
                "delta_window",
            ),
            (
                MfccSettings {
                    n_fft: 1 << 30,
                    ..MfccSettings::default()
                },
                "n_fft",
            ),
        ];
        for (settings, field) in cases {
            let message = settings.validate().unwrap_err();
            assert!(message.contains(field), "{field}: {message}");
        }
    }

    #[test]
    fn settings_deserialize_with_defaults_and_reject_unknown_fields() {
        let settings: MfccSettings = serde_json::from_str(r#"{"n_fft": 1024}"#).unwrap();
        assert_eq!(
            settings,
            MfccSettings {
                n_fft: 1024,
                ..MfccSettings::default()
            }
        );
        assert!(serde_json::from_str::<MfccSettings>(r#"{"nfft": 1024}"#).is_err());
    }
}
