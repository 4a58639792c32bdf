//! Population coding of learning-to-learn episodes into input spikes
//! (`docs/experiments.md` §3).
//!
//! Each input/target pair of an episode is shown for `steps_per_pair` simulation steps (20 ms at
//! dt = 1 ms, paper). During pair t the network sees three values, each coded by its own
//! population of `neurons_per_value` input neurons (100 each, 300 in all, paper):
//!
//! | channels        | value                                          | range                  |
//! |-----------------|------------------------------------------------|------------------------|
//! | `0 .. N`        | x1 of pair t                                   | family's input range   |
//! | `N .. 2N`       | x2 of pair t (the constant 0 for sines)        | family's input range   |
//! | `2N .. 3N`      | the target of pair t − 1 (0 during pair 0)     | family's target range  |
//!
//! The target of pair t itself is never shown while pair t is presented: the network has to
//! predict it, and receives it as feedback one pair later (paper). The value 0 at the first pair
//! is the paper's; it is the bottom of the TN target range and the middle of the sine range.
//!
//! Tuning curves (ours: the paper says "population coded" without details): neuron j of a
//! population over [lo, hi] has its centre c_j = lo + j·(hi − lo)/(N − 1) (N centres tiling the
//! range evenly, both ends included) and fires at the Gaussian rate
//! r_j(v) = `peak_rate_hz` · exp(−(v − c_j)² / (2σ²)), σ = `width` · (hi − lo).
//! The default width 0.1 (ours) is about 10 centre spacings at N = 100: a value activates ~50
//! neurons noticeably, so nearby values have overlapping codes (what lets a readout interpolate),
//! and at 100 Hz a 20 ms window carries ~2 spikes per neuron near the value's centre.
//!
//! On each step every neuron spikes independently with probability p = r·dt/1000 (dt in ms;
//! the Bernoulli approximation of a Poisson process, as the sMNIST population coding), and a
//! spike has the value 1/dt like every spike input of this crate. The random numbers of an
//! episode come from one RNG per episode ([`super::l2l_family::episode_rng`] with
//! [`RngPurpose::EncodingNoise`]), consumed step by step, channel by channel, so an episode's
//! spikes are a pure function of (seed, episode index) and do not depend on the batch it is in.

use ndarray::{s, Array2, Array3, ArrayViewMut2, ArrayViewMut3, Axis};
use rand::Rng;

use super::l2l_family::{episode_rng, sample_episode, Episode, RngPurpose, Task, TaskFamily};

/// Population of x1 (block index: channels `X1 * N .. (X1 + 1) * N`).
pub const X1: usize = 0;
/// Population of x2.
pub const X2: usize = 1;
/// Population of the previous pair's target.
pub const PREV_TARGET: usize = 2;
/// Populations (values shown per pair).
pub const N_POPULATIONS: usize = 3;

/// Parameters of the population coding (config section of the l2l task).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PopulationSettings {
    /// Input neurons per coded value (paper: 100, 300 in all).
    pub neurons_per_value: usize,
    /// Standard deviation of the tuning curves as a fraction of the value's range (ours: 0.1).
    pub width: f64,
    /// Rate of a neuron whose centre equals the value, Hz (ours: 100).
    pub peak_rate_hz: f64,
    /// Simulation steps each pair is shown for (paper: 20 ms at dt = 1 ms).
    pub steps_per_pair: usize,
    /// Simulation step in ms (the model's dt; spikes have the value 1/dt).
    pub dt_ms: f64,
}

impl Default for PopulationSettings {
    fn default() -> Self {
        PopulationSettings {
            neurons_per_value: 100,
            width: 0.1,
            peak_rate_hz: 100.0,
            steps_per_pair: 20,
            dt_ms: 1.0,
        }
    }
}

impl PopulationSettings {
    /// Checks every field; the message names the field at fault.
    pub fn validate(&self) -> Result<(), String> {
        if self.neurons_per_value < 2 {
            return Err(format!(
                "neurons_per_value must be at least 2, so that the centres can tile the range \
                 (got {})",
                self.neurons_per_value
            ));
        }
        if !(self.width.is_finite() && self.width > 0.0) {
            return Err(format!(
                "width must be positive and finite (got {})",
                self.width
            ));
        }
        if !(self.dt_ms.is_finite() && self.dt_ms > 0.0) {
            return Err(format!(
                "dt_ms must be positive and finite (got {})",
                self.dt_ms
            ));
        }
        if !(self.peak_rate_hz.is_finite() && self.peak_rate_hz >= 0.0) {
            return Err(format!(
                "peak_rate_hz must be non-negative and finite (got {})",
                self.peak_rate_hz
            ));
        }
        if self.peak_rate_hz * self.dt_ms / 1000.0 > 1.0 {
            return Err(format!(
                "peak_rate_hz × dt_ms / 1000 is a spike probability per step and must be at \
                 most 1 (got peak_rate_hz {} at dt_ms {})",
                self.peak_rate_hz, self.dt_ms
            ));
        }
        if self.steps_per_pair == 0 {
            return Err("steps_per_pair must be at least 1 (got 0)".into());
        }
        Ok(())
    }

    /// Input channels: 3 · `neurons_per_value`.
    pub fn n_channels(&self) -> usize {
        N_POPULATIONS * self.neurons_per_value
    }

    /// Simulation steps of an episode of `n_pairs` pairs.
    pub fn steps(&self, n_pairs: usize) -> usize {
        n_pairs * self.steps_per_pair
    }

    /// Channel of neuron `j` of population `population` (`X1`, `X2` or `PREV_TARGET`).
    pub fn channel(&self, population: usize, j: usize) -> usize {
        population * self.neurons_per_value + j
    }

    /// Centre of neuron j of a population over `range`.
    pub fn centre(&self, range: (f64, f64), j: usize) -> f64 {
        let (lo, hi) = range;
        lo + j as f64 * (hi - lo) / (self.neurons_per_value - 1) as f64
    }

    /// The value of a spike, 1/dt.
    pub fn spike_value(&self) -> f32 {
        (1.0 / self.dt_ms) as f32
    }
}

/// The rate (Hz) of neuron j of a population over `range` for `value`:
/// `peak_rate_hz` · exp(−(value − c_j)² / (2σ²)), σ = `width` · (hi − lo).
pub fn tuning_rate_hz(
    settings: &PopulationSettings,
    range: (f64, f64),
    j: usize,
    value: f64,
) -> f64 {
    let sigma = settings.width * (range.1 - range.0);
    let d = value - settings.centre(range, j);
    settings.peak_rate_hz * (-d * d / (2.0 * sigma * sigma)).exp()
}

/// The expected rates (Hz) of all 3N input channels while a pair with inputs `x` is shown after
/// a pair with target `prev_target` (0 for the first pair).
pub fn pair_rates_hz(
    family: TaskFamily,
    settings: &PopulationSettings,
    x: [f64; 2],
    prev_target: f64,
) -> Vec<f64> {
    let values = [
        (x[0], family.input_range()),
        (x[1], family.input_range()),
        (prev_target, family.target_range()),
    ];
    values
        .iter()
        .flat_map(|&(v, range)| {
            (0..settings.neurons_per_value).map(move |j| tuning_rate_hz(settings, range, j, v))
        })
        .collect()
}

/// The values shown during each pair: (x1, x2, previous target), the previous target being 0
/// during the first pair.
pub fn shown_values(ep: &Episode) -> Vec<([f64; 2], f64)> {
    ep.inputs
        .iter()
        .enumerate()
        .map(|(t, &x)| (x, if t == 0 { 0.0 } else { ep.targets[t - 1] }))
        .collect()
}

/// The expected rate (Hz) of every channel during every pair of an episode, [n_pairs, 3N]: the
/// deterministic counterpart of the spikes (for tests, rasters and analysis).
pub fn expected_rates_hz(
    ep: &Episode,
    family: TaskFamily,
    settings: &PopulationSettings,
) -> Array2<f64> {
    let mut out = Array2::zeros((ep.len(), settings.n_channels()));
    for (t, (x, prev)) in shown_values(ep).into_iter().enumerate() {
        let rates = pair_rates_hz(family, settings, x, prev);
        out.row_mut(t)
            .assign(&ndarray::ArrayView1::from(&rates[..]));
    }
    out
}

/// The spike probabilities of one pair as thresholds on a uniform u32: a spike when
/// u < thr = ⌈p · 2³²⌉, which has probability thr/2³² (p rounded up by less than 2⁻³²; p = 1
/// always spikes). Only channels with thr > 0 draw a number.
fn pair_thresholds(rates_hz: &[f64], dt_ms: f64) -> Vec<(usize, u64)> {
    rates_hz
        .iter()
        .enumerate()
        .filter_map(|(c, &r)| {
            let thr = spike_threshold((r * dt_ms / 1000.0).clamp(0.0, 1.0));
            (thr > 0).then_some((c, thr))
        })
        .collect()
}

/// A Bernoulli spike of probability `p` ∈ [0, 1] from a uniform u32 u: a spike when
/// u < ⌈p · 2³²⌉ (probability p rounded up by less than 2⁻³²; p = 1 always spikes). The input
/// codes of the l2l task and of the meta-RL place cells draw their spikes this way.
pub fn spike_threshold(p: f64) -> u64 {
    (p * 4_294_967_296.0).ceil() as u64
}

/// Writes the spikes of one episode into `out`, a [T, 3N] view (zeroed first), T =
/// n_pairs · `steps_per_pair`.
pub fn encode_episode_into(
    ep: &Episode,
    family: TaskFamily,
    settings: &PopulationSettings,
    rng: &mut impl Rng,
    mut out: ArrayViewMut2<f32>,
) -> Result<(), String> {
    settings.validate()?;
    let want = (settings.steps(ep.len()), settings.n_channels());
    if out.dim() != want {
        return Err(format!(
            "output must be [steps, channels] = {want:?} for {} pairs (got {:?})",
            ep.len(),
            out.dim()
        ));
    }
    if ep.inputs.len() != ep.targets.len() {
        return Err(format!(
            "episode has {} inputs but {} targets",
            ep.inputs.len(),
            ep.targets.len()
        ));
    }
    let m = settings.steps_per_pair;
    for (t, (x, prev)) in shown_values(ep).into_iter().enumerate() {
        write_pair(
            family,
            settings,
            x,
            prev,
            rng,
            out.slice_mut(s![t * m..(t + 1) * m, ..]),
        );
    }
    Ok(())
}

/// The spikes of one window showing inputs `x` after a pair with target `prev_target`, into
/// `out` [steps_per_pair, 3N] (zeroed first): what a probe of the network presents
/// (`l2l_eval`).
pub fn encode_pair_into(
    family: TaskFamily,
    settings: &PopulationSettings,
    x: [f64; 2],
    prev_target: f64,
    rng: &mut impl Rng,
    out: ArrayViewMut2<f32>,
) -> Result<(), String> {
    settings.validate()?;
    let want = (settings.steps_per_pair, settings.n_channels());
    if out.dim() != want {
        return Err(format!(
            "output must be [steps, channels] = {want:?} for one pair (got {:?})",
            out.dim()
        ));
    }
    write_pair(family, settings, x, prev_target, rng, out);
    Ok(())
}

/// Bernoulli spikes of one pair's window into `out` (checked by the callers).
fn write_pair(
    family: TaskFamily,
    settings: &PopulationSettings,
    x: [f64; 2],
    prev_target: f64,
    rng: &mut impl Rng,
    mut out: ArrayViewMut2<f32>,
) {
    out.fill(0.0);
    let spike = settings.spike_value();
    let thr = pair_thresholds(
        &pair_rates_hz(family, settings, x, prev_target),
        settings.dt_ms,
    );
    for mut row in out.outer_iter_mut() {
        for &(c, th) in &thr {
            if (rng.next_u32() as u64) < th {
                row[c] = spike;
            }
        }
    }
}

/// An encoded batch of episodes.
#[derive(Clone, Debug, PartialEq)]
pub struct EncodedBatch {
    /// Input spikes [T, B, 3N], T = n_pairs · `steps_per_pair`.
    pub x: Array3<f32>,
    /// Target of each pair [n_pairs, B]: what the readout of pair t's window is compared with.
    pub targets: Array2<f32>,
}

/// The per-pair targets of equally long episodes, [n_pairs, B] (f32).
pub fn targets_array(episodes: &[Episode]) -> Result<Array2<f32>, String> {
    let n_pairs = check_lengths(episodes)?;
    Ok(Array2::from_shape_fn(
        (n_pairs, episodes.len()),
        |(t, b)| episodes[b].targets[t] as f32,
    ))
}

fn check_lengths(episodes: &[Episode]) -> Result<usize, String> {
    let n_pairs = episodes.first().map_or(0, Episode::len);
    match episodes.iter().position(|e| e.len() != n_pairs) {
        Some(b) => Err(format!(
            "episodes of a batch must have the same number of pairs: episode 0 has {n_pairs}, \
             episode {b} has {}",
            episodes[b].len()
        )),
        None => Ok(n_pairs),
    }
}

/// Encodes a batch of episodes of equal length: episode b -> x[:, b, :], with `rngs[b]` its
/// noise (one RNG per episode, so an episode's spikes do not depend on the batch).
pub fn encode_batch<R: Rng>(
    episodes: &[Episode],
    family: TaskFamily,
    settings: &PopulationSettings,
    rngs: &mut [R],
) -> Result<EncodedBatch, String> {
    settings.validate()?;
    let n_pairs = check_lengths(episodes)?;
    let mut x = Array3::zeros((
        settings.steps(n_pairs),
        episodes.len(),
        settings.n_channels(),
    ));
    encode_batch_into(episodes, family, settings, rngs, x.view_mut())?;
    Ok(EncodedBatch {
        x,
        targets: targets_array(episodes)?,
    })
}

/// [`encode_batch`]'s spikes into an existing [T, B, 3N] array (zeroed first), to reuse one
/// buffer across iterations (an episode of 500 pairs is 10,000 steps: 120 MB at B = 10).
pub fn encode_batch_into<R: Rng>(
    episodes: &[Episode],
    family: TaskFamily,
    settings: &PopulationSettings,
    rngs: &mut [R],
    mut out: ArrayViewMut3<f32>,
) -> Result<(), String> {
    settings.validate()?;
    let n_pairs = check_lengths(episodes)?;
    if rngs.len() != episodes.len() {
        return Err(format!(
            "one noise RNG per episode is needed ({} episodes, {} RNGs)",
            episodes.len(),
            rngs.len()
        ));
    }
    let want = (
        settings.steps(n_pairs),
        episodes.len(),
        settings.n_channels(),
    );
    if out.dim() != want {
        return Err(format!(
            "output must be [steps, batch, channels] = {want:?} (got {:?})",
            out.dim()
        ));
    }
    for ((ep, rng), view) in episodes
        .iter()
        .zip(rngs.iter_mut())
        .zip(out.axis_iter_mut(Axis(1)))
    {
        encode_episode_into(ep, family, settings, rng, view)?;
    }
    Ok(())
}

/// Episodes `indices` of run `seed`, drawn and encoded: tasks and pairs from
/// [`sample_episode`], spikes from the episodes' [`RngPurpose::EncodingNoise`] streams. A pure
/// function of (seed, indices): what a training or evaluation batch is built from.
pub fn encode_episodes(
    family: TaskFamily,
    settings: &PopulationSettings,
    seed: u64,
    indices: &[u64],
    n_pairs: usize,
) -> Result<(Vec<Task>, Vec<Episode>, EncodedBatch), String> {
    let (tasks, episodes): (Vec<Task>, Vec<Episode>) = indices
        .iter()
        .map(|&i| sample_episode(family, seed, i, n_pairs))
        .unzip();
    let mut rngs: Vec<_> = indices
        .iter()
        .map(|&i| episode_rng(seed, i, RngPurpose::EncodingNoise))
        .collect();
    let batch = encode_batch(&episodes, family, settings, &mut rngs)?;
    Ok((tasks, episodes, batch))
}

/// Spike counts of each channel during pair t of episode b, [n_pairs, 3N] (for tests and
/// analysis; spikes counted as value · dt = 1).
pub fn pair_counts(x: &Array3<f32>, b: usize, settings: &PopulationSettings) -> Array2<f64> {
    let m = settings.steps_per_pair;
    let n_pairs = x.dim().0 / m;
    let dt = settings.dt_ms;
    let mut out = Array2::zeros((n_pairs, x.dim().2));
    for t in 0..n_pairs {
        let window = x.slice(s![t * m..(t + 1) * m, b, ..]);
        for (c, col) in window.axis_iter(Axis(1)).enumerate() {
            out[[t, c]] = col.iter().map(|&v| v as f64 * dt).sum::<f64>();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::l2l_family::{episode, FamilyKind, Sine};
    use ndarray::Array1;

    /// An episode whose every pair has the same inputs and target.
    fn constant_episode(x: [f64; 2], y: f64, n_pairs: usize) -> Episode {
        Episode {
            inputs: vec![x; n_pairs],
            targets: vec![y; n_pairs],
        }
    }

    fn argmax(v: impl Iterator<Item = f64>) -> usize {
        v.enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map_or(0, |(i, _)| i)
    }

    #[test]
    fn defaults_are_valid_and_bad_fields_are_named() {
        let d = PopulationSettings::default();
        assert_eq!(d.validate(), Ok(()));
        assert_eq!(d.n_channels(), 300);
        assert_eq!(d.steps(500), 10_000);
        let bad = |f: fn(&mut PopulationSettings), field: &str| {
            let mut s = PopulationSettings::default();
            f(&mut s);
            let e = s.validate().unwrap_err();
            assert!(e.starts_with(field), "{e}");
        };
        bad(|s| s.neurons_per_value = 1, "neurons_per_value");
        bad(|s| s.width = 0.0, "width");
        bad(|s| s.width = f64::NAN, "width");
        bad(|s| s.dt_ms = -1.0, "dt_ms");
        bad(|s| s.peak_rate_hz = -5.0, "peak_rate_hz");
        bad(|s| s.peak_rate_hz = 2000.0, "peak_rate_hz");
        bad(|s| s.steps_per_pair = 0, "steps_per_pair");
        // Encoding with invalid settings is an error, not a panic.
        let s = PopulationSettings { width: -1.0, ..d };
        let ep = constant_episode([0.0, 0.0], 0.5, 2);
        let mut rngs = [episode_rng(0, 0, RngPurpose::EncodingNoise)];
        assert!(encode_batch(&[ep], TaskFamily::TARGET_NETWORKS, &s, &mut rngs).is_err());
        // Settings from a config, unknown fields refused.
        let s: PopulationSettings = serde_json::from_str(r#"{"width": 0.05}"#).unwrap();
        assert_eq!(s.width, 0.05);
        assert_eq!(s.neurons_per_value, 100);
        assert!(serde_json::from_str::<PopulationSettings>(r#"{"widht": 0.05}"#).is_err());
    }

    #[test]
    fn centres_tile_the_range_and_peak_at_the_centre() {
        let s = PopulationSettings::default();
        let r = (-1.0, 1.0);
        assert_eq!(s.centre(r, 0), -1.0);
        assert!((s.centre(r, 99) - 1.0).abs() < 1e-15);
        assert!((s.centre(r, 1) - s.centre(r, 0) - 2.0 / 99.0).abs() < 1e-15);
        let c = s.centre(r, 40);
        assert!((tuning_rate_hz(&s, r, 40, c) - 100.0).abs() < 1e-12);
        // One σ = 0.1 · 2 = 0.2 away: peak · e^(−1/2).
        let want = 100.0 * (-0.5f64).exp();
        assert!((tuning_rate_hz(&s, r, 40, c + 0.2) - want).abs() < 1e-12);
        // The expected-rate vector has the three populations in order.
        let rates = pair_rates_hz(TaskFamily::TARGET_NETWORKS, &s, [c, -1.0], 1.0);
        assert_eq!(rates.len(), 300);
        assert!((rates[40] - 100.0).abs() < 1e-12);
        assert!((rates[s.channel(X2, 0)] - 100.0).abs() < 1e-12);
        assert!((rates[s.channel(PREV_TARGET, 99)] - 100.0).abs() < 1e-12);
    }

    #[test]
    fn spike_rates_follow_the_tuning_curves() {
        // x1 at the centre of neuron 40 on every pair; 10 episodes × 200 pairs × 20 steps =
        // 40,000 Bernoulli(0.1) draws for neuron 40: 4000 spikes expected, SD √(40000·0.1·0.9)
        // = 60; we allow 5 SD (±7.5 % of the rate).
        let s = PopulationSettings::default();
        let fam = TaskFamily::TARGET_NETWORKS;
        let c = s.centre(fam.input_range(), 40);
        let eps: Vec<Episode> = (0..10)
            .map(|_| constant_episode([c, -1.0], 0.3, 200))
            .collect();
        let mut rngs: Vec<_> = (0..10)
            .map(|i| episode_rng(5, i, RngPurpose::EncodingNoise))
            .collect();
        let batch = encode_batch(&eps, fam, &s, &mut rngs).unwrap();
        let n_steps = (10 * 200 * 20) as f64;
        let count = |ch: usize| {
            batch
                .x
                .slice(s![.., .., ch])
                .iter()
                .filter(|&&v| v > 0.0)
                .count() as f64
        };
        let rates = pair_rates_hz(fam, &s, [c, -1.0], 0.3);
        for ch in [
            s.channel(X1, 40),
            s.channel(X1, 30),
            s.channel(X1, 99),
            s.channel(PREV_TARGET, 10),
        ] {
            let p = rates[ch] * s.dt_ms / 1000.0;
            let mean = p * n_steps;
            let sd = (n_steps * p * (1.0 - p)).sqrt();
            let got = count(ch);
            assert!(
                (got - mean).abs() <= 5.0 * sd + 1.0,
                "channel {ch}: {got} spikes, expected {mean:.1} ± {sd:.1}"
            );
        }
        // The neuron at the value fires at the peak rate: 4000 ± 300 spikes.
        assert!((count(s.channel(X1, 40)) - 4000.0).abs() < 300.0);
        // Neuron 99 (centre 1, 6σ away): expected rate 100·e^(−18) ≈ 1.5e-6 Hz, no spike.
        assert!(rates[s.channel(X1, 99)] < 1e-5);
        assert_eq!(count(s.channel(X1, 99)), 0.0);
    }

    #[test]
    fn previous_target_channel_codes_the_last_target() {
        // Narrow, saturating tuning curves (σ = one centre spacing, p = 1 at the centre) make
        // the most active neuron of a 20-step window one of the two centres nearest to the
        // value: the nearest fires with p ≥ e^(−1/8) ≈ 0.88, any neuron 1.5 spacings or more
        // away with p ≤ e^(−9/8) ≈ 0.32.
        let s = PopulationSettings {
            width: 1.0 / 99.0,
            peak_rate_hz: 1000.0,
            ..PopulationSettings::default()
        };
        for fam in [TaskFamily::TARGET_NETWORKS, TaskFamily::SINES] {
            let (_, ep) = sample_episode(fam, 11, 0, 30);
            let mut rngs = [episode_rng(11, 0, RngPurpose::EncodingNoise)];
            let batch = encode_batch(std::slice::from_ref(&ep), fam, &s, &mut rngs).unwrap();
            let counts = pair_counts(&batch.x, 0, &s);
            let spacing = |range: (f64, f64)| (range.1 - range.0) / 99.0;
            for t in 0..30 {
                let prev = if t == 0 { 0.0 } else { ep.targets[t - 1] };
                let shown = [
                    (X1, ep.inputs[t][0], fam.input_range()),
                    (X2, ep.inputs[t][1], fam.input_range()),
                    (PREV_TARGET, prev, fam.target_range()),
                ];
                for (pop, value, range) in shown {
                    let row = counts.row(t);
                    let j = argmax((0..100).map(|j| row[s.channel(pop, j)]));
                    assert!(
                        (s.centre(range, j) - value).abs() <= spacing(range) + 1e-12,
                        "{fam:?} pair {t} population {pop}: neuron {j} (centre {}) for {value}",
                        s.centre(range, j)
                    );
                }
            }
            // At pair 0 the previous-target population codes 0: the bottom neuron for TN
            // ([0, 1]), the middle for sines ([−5, 5], centres 49 and 50 are ±0.05 from 0).
            let row = counts.row(0);
            let j = argmax((0..100).map(|j| row[s.channel(PREV_TARGET, j)]));
            match fam.kind {
                FamilyKind::TargetNetworks => assert_eq!(j, 0),
                FamilyKind::Sines => assert!(j == 49 || j == 50, "{j}"),
            }
            // The target of pair t is never shown during pair t: it appears at pair t + 1.
            let exp = expected_rates_hz(&ep, fam, &s);
            for t in 1..30 {
                let want: Vec<f64> = pair_rates_hz(fam, &s, ep.inputs[t], ep.targets[t - 1]);
                assert_eq!(exp.row(t), Array1::from(want));
            }
        }
    }

    #[test]
    fn batch_shape_spike_values_and_targets() {
        let s = PopulationSettings {
            dt_ms: 0.5,
            steps_per_pair: 6,
            neurons_per_value: 20,
            ..PopulationSettings::default()
        };
        let fam = TaskFamily::SINES;
        let (tasks, eps, batch) = encode_episodes(fam, &s, 3, &[0, 1, 2], 7).unwrap();
        assert_eq!(batch.x.dim(), (42, 3, 60));
        assert_eq!(batch.targets.dim(), (7, 3));
        // Spikes are exactly 0 or 1/dt = 2.
        assert!(batch.x.iter().all(|&v| v == 0.0 || v == 2.0));
        assert!(batch.x.iter().any(|&v| v == 2.0));
        for b in 0..3 {
            for t in 0..7 {
                assert_eq!(
                    batch.targets[[t, b]],
                    tasks[b].eval(eps[b].inputs[t]) as f32
                );
            }
        }
        // Default settings: [T, B, 300].
        let (_, _, big) = encode_episodes(
            TaskFamily::TARGET_NETWORKS,
            &PopulationSettings::default(),
            0,
            &[5, 6],
            4,
        )
        .unwrap();
        assert_eq!(big.x.dim(), (80, 2, 300));
        assert!(big.x.iter().all(|&v| v == 0.0 || v == 1.0));
    }

    #[test]
    fn an_episode_encodes_the_same_in_any_batch() {
        let s = PopulationSettings::default();
        let fam = TaskFamily::TARGET_NETWORKS;
        let (_, _, a) = encode_episodes(fam, &s, 9, &[4, 7], 10).unwrap();
        let (_, _, b) = encode_episodes(fam, &s, 9, &[7], 10).unwrap();
        let (_, _, c) = encode_episodes(fam, &s, 9, &[4, 7], 10).unwrap();
        let (_, _, d) = encode_episodes(fam, &s, 10, &[4, 7], 10).unwrap();
        assert_eq!(a, c);
        assert_eq!(a.x.index_axis(Axis(1), 1), b.x.index_axis(Axis(1), 0));
        assert_ne!(a.x, d.x);
        // encode_batch_into a dirty buffer equals a fresh encoding.
        let (_, eps, _) = encode_episodes(fam, &s, 9, &[4, 7], 10).unwrap();
        let mut rngs: Vec<_> = [4u64, 7]
            .iter()
            .map(|&i| episode_rng(9, i, RngPurpose::EncodingNoise))
            .collect();
        let mut buf = Array3::from_elem((200, 2, 300), 5.0f32);
        encode_batch_into(&eps, fam, &s, &mut rngs, buf.view_mut()).unwrap();
        assert_eq!(buf, a.x);
    }

    #[test]
    fn mismatched_batches_are_errors() {
        let s = PopulationSettings::default();
        let fam = TaskFamily::SINES;
        let task = Task::Sine(Sine {
            amplitude: 1.0,
            phase: 0.0,
        });
        let mut rng = episode_rng(0, 0, RngPurpose::Task);
        let eps = vec![
            episode(fam, &task, 3, &mut rng),
            episode(fam, &task, 4, &mut rng),
        ];
        let mut rngs: Vec<_> = (0..2)
            .map(|i| episode_rng(0, i, RngPurpose::EncodingNoise))
            .collect();
        assert!(encode_batch(&eps, fam, &s, &mut rngs).is_err());
        assert!(targets_array(&eps).is_err());
        let eps = vec![eps[0].clone()];
        assert!(
            encode_batch(&eps, fam, &s, &mut rngs).is_err(),
            "two RNGs for one episode"
        );
        let mut wrong = Array2::<f32>::zeros((10, 300));
        assert!(encode_episode_into(&eps[0], fam, &s, &mut rngs[0], wrong.view_mut()).is_err());
    }

    /// Not a benchmark: the time to encode a full-size batch (10 episodes × 500 pairs, 10,000
    /// steps × 300 channels); run with `--nocapture` to see it.
    #[test]
    fn encode_time_of_a_full_batch() {
        let s = PopulationSettings::default();
        let indices: Vec<u64> = (0..10).collect();
        let t0 = std::time::Instant::now();
        let (_, eps, batch) =
            encode_episodes(TaskFamily::TARGET_NETWORKS, &s, 0, &indices, 500).unwrap();
        let fresh = t0.elapsed().as_secs_f64() * 1e3;
        let n = batch.x.iter().filter(|&&v| v != 0.0).count();
        // Into a reused buffer (what a trainer would do), from the same noise streams.
        let mut rngs: Vec<_> = indices
            .iter()
            .map(|&i| episode_rng(0, i, RngPurpose::EncodingNoise))
            .collect();
        let mut buf = batch.x.clone();
        let t0 = std::time::Instant::now();
        encode_batch_into(
            &eps,
            TaskFamily::TARGET_NETWORKS,
            &s,
            &mut rngs,
            buf.view_mut(),
        )
        .unwrap();
        let reused = t0.elapsed().as_secs_f64() * 1e3;
        assert_eq!(buf, batch.x);
        println!(
            "l2l_encoding: 10 episodes × 500 pairs = {:?}: {fresh:.1} ms fresh, {reused:.1} ms \
             into a reused buffer; {:.1} spikes per step",
            batch.x.dim(),
            n as f64 / (10.0 * 10_000.0)
        );
    }
}
