//! The observation of the meta-RL agent (`docs/experiments.md` §4): the position
//! through place cells with Gaussian tuning, and the rewards through dedicated input spikes.
//!
//! Channels, in order (ours):
//!
//! | channels                         | what                                                  |
//! |----------------------------------|-------------------------------------------------------|
//! | `0 .. G²`                        | place cells on a G×G grid (G = `grid_side`, 8)        |
//! | `G² .. G² + reward_neurons`      | goal-reward neurons                                   |
//! | `… .. … + wall_neurons`          | wall-penalty neurons                                  |
//!
//! - **Place cells** (paper: Gaussian tuning; ours: 8×8, σ = 0.25 radius). Cell k = row · G +
//!   col has its centre on a square grid covering [−R, R]² with both ends included,
//!   c = (−R + col · 2R/(G − 1), −R + row · 2R/(G − 1)), R = `arena_radius`; corner cells lie
//!   outside the disc and see only its rim, which is harmless. Its rate is
//!   r_k(p) = `peak_rate_hz` · exp(−|p − c_k|² / (2σ²)), σ = `sigma_fraction` · R. With the
//!   defaults the grid spacing (2/7 ≈ 0.29 R) is about σ, so every position excites a few cells
//!   strongly and the code is smooth in the position.
//! - **Reward signal** (paper: "dedicated input spikes"; ours): after a goal reward the
//!   `reward_neurons` fire at `reward_rate_hz` for `reward_signal_steps` network steps; after a
//!   wall penalty the `wall_neurons` do the same. Two groups, because the two events call for
//!   opposite responses (remember this place and come back vs. turn away) and the network
//!   should not have to tell them apart from spike counts. [`RewardSignal`] holds the steps
//!   left of each.
//! - **Spikes.** On each network step of `dt_ms` every channel spikes independently with
//!   probability p = r · dt / 1000 (the Bernoulli approximation of a Poisson process), drawn as
//!   u < ⌈p · 2³²⌉ for one uniform u32 u per channel, and a spike has the value 1/dt: the
//!   conventions of `tasks::l2l_encoding`, so the network sees inputs on the same scale in
//!   every experiment. Every channel draws its number on every step, silent or not, so the
//!   stream's position depends only on the step count (what a counter-based GPU generator
//!   mirrors).

use rand::Rng;

use crate::tasks::l2l_encoding::spike_threshold;

/// Parameters of the observation code (config section `rl.place_cells`).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlaceCellSettings {
    /// Place cells per side of the square grid (ours: 8, 64 cells).
    pub grid_side: usize,
    /// Standard deviation of the tuning as a fraction of the arena radius (ours: 0.25).
    pub sigma_fraction: f64,
    /// Rate of a place cell at its centre, Hz (ours: 100, as the other population codes of this
    /// crate: ~1 spike per 10 ms action for the best-tuned cell).
    pub peak_rate_hz: f64,
    /// Neurons that signal a goal reward (ours: 10).
    pub reward_neurons: usize,
    /// Neurons that signal a wall penalty (ours: 10).
    pub wall_neurons: usize,
    /// Rate of the signalling neurons while a signal is on, Hz (ours: 200, twice the place
    /// cells' peak, so that the rare event stands out: 10 neurons × 10 ms × 0.2 = ~20 spikes).
    pub reward_rate_hz: f64,
    /// Network steps a signal lasts after the event (ours: 10, one 10 ms action at dt = 1 ms).
    pub reward_signal_steps: usize,
}

impl Default for PlaceCellSettings {
    fn default() -> Self {
        PlaceCellSettings {
            grid_side: 8,
            sigma_fraction: 0.25,
            peak_rate_hz: 100.0,
            reward_neurons: 10,
            wall_neurons: 10,
            reward_rate_hz: 200.0,
            reward_signal_steps: 10,
        }
    }
}

fn rate_field(field: &str, v: f64) -> Result<(), String> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(format!(
            "rl.place_cells.{field} must be >= 0 and finite (got {v})"
        ))
    }
}

impl PlaceCellSettings {
    /// Checks every field; the message names the field at fault.
    pub fn validate(&self) -> Result<(), String> {
        if self.grid_side < 2 {
            return Err(format!(
                "rl.place_cells.grid_side must be at least 2, so that the grid spans the arena \
                 (got {})",
                self.grid_side
            ));
        }
        if !(self.sigma_fraction.is_finite() && self.sigma_fraction > 0.0) {
            return Err(format!(
                "rl.place_cells.sigma_fraction must be > 0 and finite (got {})",
                self.sigma_fraction
            ));
        }
        rate_field("peak_rate_hz", self.peak_rate_hz)?;
        rate_field("reward_rate_hz", self.reward_rate_hz)?;
        if self.reward_signal_steps == 0 {
            return Err("rl.place_cells.reward_signal_steps must be at least 1 (got 0)".into());
        }
        Ok(())
    }

    /// Checks that every rate gives a spike probability of at most 1 per step of `dt_ms`.
    pub fn validate_for_dt(&self, dt_ms: f64) -> Result<(), String> {
        self.validate()?;
        if !(dt_ms.is_finite() && dt_ms > 0.0) {
            return Err(format!("dt_ms must be > 0 and finite (got {dt_ms})"));
        }
        for (field, rate) in [
            ("peak_rate_hz", self.peak_rate_hz),
            ("reward_rate_hz", self.reward_rate_hz),
        ] {
            if rate * dt_ms / 1000.0 > 1.0 {
                return Err(format!(
                    "rl.place_cells.{field} × dt_ms / 1000 is a spike probability per step and \
                     must be at most 1 (got {rate} Hz at dt_ms {dt_ms})"
                ));
            }
        }
        Ok(())
    }

    /// Place cells: `grid_side`².
    pub fn n_place_cells(&self) -> usize {
        self.grid_side * self.grid_side
    }

    /// All input channels: place cells, then goal-reward, then wall-penalty neurons.
    pub fn n_channels(&self) -> usize {
        self.n_place_cells() + self.reward_neurons + self.wall_neurons
    }

    /// The channels of the goal-reward neurons.
    pub fn reward_channels(&self) -> std::ops::Range<usize> {
        let start = self.n_place_cells();
        start..start + self.reward_neurons
    }

    /// The channels of the wall-penalty neurons.
    pub fn wall_channels(&self) -> std::ops::Range<usize> {
        let start = self.n_place_cells() + self.reward_neurons;
        start..start + self.wall_neurons
    }

    /// Standard deviation of the tuning in length units: `sigma_fraction · arena_radius`.
    pub fn sigma(&self, arena_radius: f64) -> f64 {
        self.sigma_fraction * arena_radius
    }

    /// Centre of place cell `k` = row · G + col.
    pub fn centre(&self, arena_radius: f64, k: usize) -> [f64; 2] {
        let (row, col) = (k / self.grid_side, k % self.grid_side);
        let spacing = 2.0 * arena_radius / (self.grid_side - 1) as f64;
        [
            -arena_radius + col as f64 * spacing,
            -arena_radius + row as f64 * spacing,
        ]
    }
}

/// Steps left of each reward signal; one per episode, carried across network steps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RewardSignal {
    /// Network steps the goal-reward neurons still fire for.
    pub goal_steps_left: usize,
    /// Network steps the wall-penalty neurons still fire for.
    pub wall_steps_left: usize,
}

impl RewardSignal {
    /// Starts the signals of the events of an environment step (a signal already on restarts).
    pub fn trigger(&mut self, settings: &PlaceCellSettings, goal_reached: bool, hit_wall: bool) {
        if goal_reached {
            self.goal_steps_left = settings.reward_signal_steps;
        }
        if hit_wall {
            self.wall_steps_left = settings.reward_signal_steps;
        }
    }

    /// Counts one network step off both signals.
    pub fn advance(&mut self) {
        self.goal_steps_left = self.goal_steps_left.saturating_sub(1);
        self.wall_steps_left = self.wall_steps_left.saturating_sub(1);
    }
}

/// Rate (Hz) of place cell `k` at `position`: `peak_rate_hz` · exp(−|p − c_k|² / (2σ²)).
pub fn place_cell_rate_hz(
    settings: &PlaceCellSettings,
    arena_radius: f64,
    k: usize,
    position: [f64; 2],
) -> f64 {
    let c = settings.centre(arena_radius, k);
    let sigma = settings.sigma(arena_radius);
    let (dx, dy) = (position[0] - c[0], position[1] - c[1]);
    settings.peak_rate_hz * (-(dx * dx + dy * dy) / (2.0 * sigma * sigma)).exp()
}

/// Writes the rate (Hz) of every channel into `out` (`n_channels` long): the place cells at
/// `position`, and the signalling neurons at `reward_rate_hz` while their signal is on, else 0.
pub fn input_rates_hz_into(
    settings: &PlaceCellSettings,
    arena_radius: f64,
    position: [f64; 2],
    signal: &RewardSignal,
    out: &mut [f64],
) -> Result<(), String> {
    if out.len() != settings.n_channels() {
        return Err(format!(
            "rates buffer must have {} channels (got {})",
            settings.n_channels(),
            out.len()
        ));
    }
    for (k, rate) in out[..settings.n_place_cells()].iter_mut().enumerate() {
        *rate = place_cell_rate_hz(settings, arena_radius, k, position);
    }
    signal_rates_into(settings, signal, out);
    Ok(())
}

/// Sets the goal-reward and wall-penalty channels of `rates` (all channels, as
/// [`input_rates_hz_into`]) from `signal`, leaving the place cells as they are: within an
/// action window the position is fixed and only the signals change from step to step.
pub fn signal_rates_into(settings: &PlaceCellSettings, signal: &RewardSignal, out: &mut [f64]) {
    let on = |steps_left: usize| {
        if steps_left > 0 {
            settings.reward_rate_hz
        } else {
            0.0
        }
    };
    out[settings.reward_channels()].fill(on(signal.goal_steps_left));
    out[settings.wall_channels()].fill(on(signal.wall_steps_left));
}

/// The rates (Hz) of every channel, as [`input_rates_hz_into`].
pub fn input_rates_hz(
    settings: &PlaceCellSettings,
    arena_radius: f64,
    position: [f64; 2],
    signal: &RewardSignal,
) -> Vec<f64> {
    let mut out = vec![0.0; settings.n_channels()];
    // The buffer has the right length by construction.
    input_rates_hz_into(settings, arena_radius, position, signal, &mut out)
        .expect("buffer sized to n_channels");
    out
}

/// The value of an input spike at a step of `dt_ms`: 1/dt, as every spike input of this crate
/// (`tasks::l2l_encoding::PopulationSettings::spike_value`).
pub fn spike_value(dt_ms: f64) -> f32 {
    (1.0 / dt_ms) as f32
}

/// One network step of Bernoulli spikes: channel c spikes (`out[c]` = 1/dt, else 0) with
/// probability `rates_hz[c]` · dt / 1000, drawn as one u32 per channel, u < ⌈p · 2³²⌉.
pub fn bernoulli_spikes(
    rates_hz: &[f64],
    dt_ms: f64,
    rng: &mut impl Rng,
    out: &mut [f32],
) -> Result<(), String> {
    if out.len() != rates_hz.len() {
        return Err(format!(
            "spike buffer has {} channels but there are {} rates",
            out.len(),
            rates_hz.len()
        ));
    }
    if !(dt_ms.is_finite() && dt_ms > 0.0) {
        return Err(format!("dt_ms must be > 0 and finite (got {dt_ms})"));
    }
    let spike = spike_value(dt_ms);
    for (c, (&rate, o)) in rates_hz.iter().zip(out.iter_mut()).enumerate() {
        let p = rate * dt_ms / 1000.0;
        if !(0.0..=1.0).contains(&p) {
            return Err(format!(
                "channel {c}: rate {rate} Hz at dt_ms {dt_ms} is not a probability per step"
            ));
        }
        *o = if u64::from(rng.next_u32()) < spike_threshold(p) {
            spike
        } else {
            0.0
        };
    }
    Ok(())
}

/// The input spikes of one network step of one episode: rates at `position` with `signal`,
/// then Bernoulli spikes into `out` (`n_channels` long).
pub fn encode_step(
    settings: &PlaceCellSettings,
    arena_radius: f64,
    position: [f64; 2],
    signal: &RewardSignal,
    dt_ms: f64,
    rng: &mut impl Rng,
    out: &mut [f32],
) -> Result<(), String> {
    let rates = input_rates_hz(settings, arena_radius, position, signal);
    bernoulli_spikes(&rates, dt_ms, rng, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rl::arena::uniform_in_disc;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    const RADIUS: f64 = 1.0;

    fn quiet() -> RewardSignal {
        RewardSignal::default()
    }

    #[test]
    fn defaults_validate_and_round_trip_through_serde() {
        let s = PlaceCellSettings::default();
        s.validate_for_dt(1.0).unwrap();
        assert_eq!(s.n_place_cells(), 64);
        assert_eq!(s.n_channels(), 84);
        assert_eq!(s.reward_channels(), 64..74);
        assert_eq!(s.wall_channels(), 74..84);
        let back: PlaceCellSettings =
            serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        assert!(serde_json::from_str::<PlaceCellSettings>(r#"{"grid": 8}"#).is_err());
    }

    #[test]
    fn validate_names_the_field_at_fault() {
        let d = PlaceCellSettings::default();
        let cases = [
            (
                PlaceCellSettings { grid_side: 1, ..d },
                "rl.place_cells.grid_side",
            ),
            (
                PlaceCellSettings {
                    sigma_fraction: 0.0,
                    ..d
                },
                "rl.place_cells.sigma_fraction",
            ),
            (
                PlaceCellSettings {
                    peak_rate_hz: -1.0,
                    ..d
                },
                "rl.place_cells.peak_rate_hz",
            ),
            (
                PlaceCellSettings {
                    reward_rate_hz: f64::NAN,
                    ..d
                },
                "rl.place_cells.reward_rate_hz",
            ),
            (
                PlaceCellSettings {
                    reward_signal_steps: 0,
                    ..d
                },
                "rl.place_cells.reward_signal_steps",
            ),
        ];
        for (s, want) in cases {
            let err = s.validate().unwrap_err();
            assert!(err.starts_with(want), "{err:?} should start with {want:?}");
        }
        // 200 Hz at 10 ms steps would be a probability of 2.
        let err = d.validate_for_dt(10.0).unwrap_err();
        assert!(err.starts_with("rl.place_cells.reward_rate_hz"), "{err}");
    }

    #[test]
    fn centres_tile_the_square_row_by_row() {
        let s = PlaceCellSettings::default();
        assert_eq!(s.centre(RADIUS, 0), [-1.0, -1.0]);
        assert_eq!(s.centre(RADIUS, 7), [1.0, -1.0]);
        assert_eq!(s.centre(RADIUS, 56), [-1.0, 1.0]);
        assert_eq!(s.centre(RADIUS, 63), [1.0, 1.0]);
        let c = s.centre(RADIUS, 8 + 3);
        assert!((c[0] - (-1.0 + 3.0 * 2.0 / 7.0)).abs() < 1e-15);
        assert!((c[1] - (-1.0 + 2.0 / 7.0)).abs() < 1e-15);
    }

    #[test]
    fn rates_peak_at_the_nearest_centre() {
        let s = PlaceCellSettings::default();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..500 {
            let p = uniform_in_disc(&mut rng, RADIUS);
            let rates = input_rates_hz(&s, RADIUS, p, &quiet());
            let argmax = (0..s.n_place_cells())
                .max_by(|&a, &b| rates[a].total_cmp(&rates[b]))
                .unwrap();
            let dist2 = |k: usize| {
                let c = s.centre(RADIUS, k);
                (p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2)
            };
            let nearest = (0..s.n_place_cells())
                .min_by(|&a, &b| dist2(a).total_cmp(&dist2(b)))
                .unwrap();
            assert_eq!(argmax, nearest, "position {p:?}");
        }
        // A cell exactly at its centre fires at the peak rate.
        let c = s.centre(RADIUS, 27);
        assert_eq!(place_cell_rate_hz(&s, RADIUS, 27, c), s.peak_rate_hz);
    }

    #[test]
    fn fall_off_is_gaussian_with_sigma_scaled_by_the_radius() {
        let s = PlaceCellSettings::default();
        let radius = 2.0;
        let sigma = 0.25 * radius;
        let k = 20;
        let c = s.centre(radius, k);
        for (dx, dy) in [(0.1, 0.0), (0.0, -0.5), (0.3, 0.4), (1.0, 1.0)] {
            let d2: f64 = dx * dx + dy * dy;
            let want = 100.0 * (-d2 / (2.0 * sigma * sigma)).exp();
            let got = place_cell_rate_hz(&s, radius, k, [c[0] + dx, c[1] + dy]);
            assert!(
                (got - want).abs() <= 1e-12 * want.max(1.0),
                "{got} vs {want}"
            );
        }
        // One σ away the rate is peak · e^(−1/2).
        let got = place_cell_rate_hz(&s, radius, k, [c[0] + sigma, c[1]]);
        assert!((got - 100.0 * (-0.5f64).exp()).abs() < 1e-12);
    }

    /// Rate-weighted centroid of the place-cell centres.
    fn centroid(s: &PlaceCellSettings, rates: &[f64]) -> [f64; 2] {
        let (mut x, mut y, mut w) = (0.0, 0.0, 0.0);
        for (k, &r) in rates[..s.n_place_cells()].iter().enumerate() {
            let c = s.centre(RADIUS, k);
            x += r * c[0];
            y += r * c[1];
            w += r;
        }
        [x / w, y / w]
    }

    #[test]
    fn position_is_decodable_from_the_rates() {
        let s = PlaceCellSettings::default();
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        // Centroid decoding: exact but for the grid's edge, which pulls estimates of positions
        // near the border inwards (the Gaussians are cut at ±R); within 0.5 R that bias is below
        // 0.02 R, and the grid's discreteness adds ~e^(−2π²σ²/h²) ≈ 3e-7.
        for _ in 0..500 {
            let p = uniform_in_disc(&mut rng, 0.5 * RADIUS);
            let e = centroid(&s, &input_rates_hz(&s, RADIUS, p, &quiet()));
            let err = (e[0] - p[0]).hypot(e[1] - p[1]);
            assert!(err < 0.02, "centroid error {err} at {p:?}");
        }
        // Template matching over the whole disc: the code is one-to-one, so the nearest
        // template on a 0.01-spaced grid is within a grid cell of the truth.
        let step = 0.01;
        let n = (2.0 * RADIUS / step) as i32;
        let templates: Vec<([f64; 2], Vec<f64>)> = (0..=n)
            .flat_map(|i| (0..=n).map(move |j| (i, j)))
            .map(|(i, j)| [-RADIUS + i as f64 * step, -RADIUS + j as f64 * step])
            .filter(|q| q[0].hypot(q[1]) <= RADIUS)
            .map(|q| (q, input_rates_hz(&s, RADIUS, q, &quiet())))
            .collect();
        for _ in 0..40 {
            let p = uniform_in_disc(&mut rng, RADIUS);
            let rates = input_rates_hz(&s, RADIUS, p, &quiet());
            let sq =
                |t: &[f64]| -> f64 { t.iter().zip(&rates).map(|(a, b)| (a - b).powi(2)).sum() };
            let best = templates
                .iter()
                .min_by(|a, b| sq(&a.1).total_cmp(&sq(&b.1)))
                .unwrap()
                .0;
            let err = (best[0] - p[0]).hypot(best[1] - p[1]);
            assert!(err <= step, "template error {err} at {p:?}");
        }
    }

    #[test]
    fn reward_signal_lasts_reward_signal_steps() {
        let s = PlaceCellSettings::default();
        let mut sig = RewardSignal::default();
        sig.trigger(&s, true, false);
        for k in 0..s.reward_signal_steps {
            let rates = input_rates_hz(&s, RADIUS, [0.0, 0.0], &sig);
            assert!(
                rates[s.reward_channels()].iter().all(|&r| r == 200.0),
                "step {k}"
            );
            assert!(rates[s.wall_channels()].iter().all(|&r| r == 0.0));
            sig.advance();
        }
        let rates = input_rates_hz(&s, RADIUS, [0.0, 0.0], &sig);
        assert!(rates[s.n_place_cells()..].iter().all(|&r| r == 0.0));
        sig.trigger(&s, false, true);
        let rates = input_rates_hz(&s, RADIUS, [0.0, 0.0], &sig);
        assert!(rates[s.reward_channels()].iter().all(|&r| r == 0.0));
        assert!(rates[s.wall_channels()].iter().all(|&r| r == 200.0));
        // The place cells do not depend on the signal.
        let plain = input_rates_hz(&s, RADIUS, [0.3, -0.2], &quiet());
        let signalled = input_rates_hz(&s, RADIUS, [0.3, -0.2], &sig);
        assert_eq!(plain[..64], signalled[..64]);
    }

    #[test]
    fn spike_counts_match_the_rates_and_spikes_are_one_over_dt() {
        let s = PlaceCellSettings::default();
        let dt_ms = 0.5;
        let mut sig = RewardSignal::default();
        sig.trigger(&s, true, false);
        let rates = input_rates_hz(&s, RADIUS, [0.2, 0.6], &sig);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let n = 40_000;
        let mut counts = vec![0usize; s.n_channels()];
        let mut out = vec![0.0f32; s.n_channels()];
        for _ in 0..n {
            bernoulli_spikes(&rates, dt_ms, &mut rng, &mut out).unwrap();
            for (c, &v) in out.iter().enumerate() {
                assert!(v == 0.0 || v == 2.0, "spike value {v}");
                counts[c] += usize::from(v != 0.0);
            }
        }
        for (c, (&count, &r)) in counts.iter().zip(&rates).enumerate() {
            let p = r * dt_ms / 1000.0;
            let expected = p * n as f64;
            let sd = (n as f64 * p * (1.0 - p)).sqrt();
            // 5 sd, plus one count for the channels whose p is almost 0.
            assert!(
                (count as f64 - expected).abs() <= 5.0 * sd + 1.0,
                "channel {c}: {count} spikes vs {expected}"
            );
        }
        // Silent channels never spike; the reward group fires at 200 Hz · 0.5 ms = 0.1.
        assert!(s.wall_channels().all(|c| counts[c] == 0));
        assert!(s.reward_channels().all(|c| counts[c] > 3000));
    }

    #[test]
    fn encode_step_is_reproducible_and_checks_its_buffer() {
        let s = PlaceCellSettings::default();
        let mut a = vec![0.0f32; s.n_channels()];
        let mut b = vec![0.0f32; s.n_channels()];
        let sig = quiet();
        encode_step(
            &s,
            RADIUS,
            [0.1, 0.1],
            &sig,
            1.0,
            &mut ChaCha8Rng::seed_from_u64(9),
            &mut a,
        )
        .unwrap();
        encode_step(
            &s,
            RADIUS,
            [0.1, 0.1],
            &sig,
            1.0,
            &mut ChaCha8Rng::seed_from_u64(9),
            &mut b,
        )
        .unwrap();
        assert_eq!(a, b);
        let mut short = vec![0.0f32; 3];
        let rng = &mut ChaCha8Rng::seed_from_u64(9);
        assert!(encode_step(&s, RADIUS, [0.1, 0.1], &sig, 1.0, rng, &mut short).is_err());
        let rates = vec![3000.0; 2];
        let mut out = vec![0.0f32; 2];
        assert!(bernoulli_spikes(&rates, 1.0, rng, &mut out).is_err());
    }
}
