//! Validation of a deserialised [`Config`]: rejects impossible or unsupported values with the
//! dotted path of the offending field and a message saying what is wrong.

use super::{Config, ReadoutKind, TaskKind, MAX_DELAY, MAX_NEURONS};

/// Most readout outputs (classes or regression values). The largest task has 61 (TIMIT's
/// phones); the readout weights are n_rec × n_out, so an absurd n_out (a typo adding zeros)
/// is refused here rather than by a failed allocation of terabytes.
pub const MAX_OUTPUTS: usize = 2048;
/// Most simulation steps per sequence: 10^6 steps are 1000 s at dt = 1 ms; the longest
/// example (TIMIT at 5 steps per frame) needs about 4,000.
pub const MAX_STEPS: usize = 1_000_000;
/// Most sequences per batch (training or validation); the examples use at most 256.
pub const MAX_BATCH: usize = 1 << 16;
/// Most memory, in bytes, that a config may need by [`Config::estimated_bytes`]: 64 GiB, above
/// what any example needs (< 2 GiB) and beyond the memory of the machines this runs on, so
/// that a size no machine has is refused with its fields named instead of aborting on an
/// allocation.
pub const MAX_ESTIMATED_BYTES: f64 = 64.0 * (1u64 << 30) as f64;

/// The nominal length of the longest TIMIT utterance in 10 ms frames (≈ 7.8 s), for the
/// memory estimate of a task whose sequence length comes from its data.
const TIMIT_MAX_FRAMES: usize = 800;

type Check = Result<(), (String, String)>;

fn fail(field: &str, message: String) -> Check {
    Err((field.to_string(), message))
}

/// A section's own validation message, which starts with the field's path ("rl.epochs must
/// be at least 1"), as (field, rest); `section` when it names none.
fn fail_named(message: &str, section: &str) -> Check {
    let (field, rest) = message.split_once(' ').unwrap_or((section, message));
    fail(field, rest.to_string())
}

fn finite(field: &str, v: f32) -> Check {
    if v.is_finite() {
        Ok(())
    } else {
        fail(field, format!("must be a finite number (got {v})"))
    }
}

fn positive(field: &str, v: f32) -> Check {
    finite(field, v)?;
    if v > 0.0 {
        Ok(())
    } else {
        fail(field, format!("must be > 0 (got {v})"))
    }
}

fn non_negative(field: &str, v: f32) -> Check {
    finite(field, v)?;
    if v >= 0.0 {
        Ok(())
    } else {
        fail(field, format!("must be >= 0 (got {v})"))
    }
}

/// `lo < v <= hi` (`lo_open`) or `lo <= v < hi` (`!lo_open`).
fn in_range(field: &str, v: f32, lo: f32, hi: f32, lo_open: bool) -> Check {
    finite(field, v)?;
    let ok = if lo_open {
        v > lo && v <= hi
    } else {
        v >= lo && v < hi
    };
    if ok {
        Ok(())
    } else if lo_open {
        fail(field, format!("must be in ({lo}, {hi}] (got {v})"))
    } else {
        fail(field, format!("must be in [{lo}, {hi}) (got {v})"))
    }
}

fn nonzero(field: &str, v: usize) -> Check {
    if v == 0 {
        fail(field, "must be >= 1 (got 0)".to_string())
    } else {
        Ok(())
    }
}

impl Config {
    /// Check every value for consistency. On failure returns `(field path, message)`, e.g.
    /// `("model.tau_m", "must be > 0 (got -3)")`.
    pub fn validate(&self) -> Result<(), (String, String)> {
        // ---- task
        let t = &self.task;
        nonzero("task.steps", t.steps)?;
        if !(1..=2).contains(&t.ms_per_pixel) {
            return fail(
                "task.ms_per_pixel",
                format!("must be 1 or 2 (got {})", t.ms_per_pixel),
            );
        }
        if ![28, 14, 7].contains(&t.image_side) {
            return fail(
                "task.image_side",
                format!(
                    "must be 28 (the MNIST image), 14 or 7 (pooled by 2 or 4) (got {})",
                    t.image_side
                ),
            );
        }
        if t.steps_per_frame == 0 {
            return fail(
                "task.steps_per_frame",
                "must be at least 1 (simulation steps per labelled frame)".to_string(),
            );
        }
        positive("task.population_peak_rate_hz", t.population_peak_rate_hz)?;
        positive("task.feature_spike_rate_hz", t.feature_spike_rate_hz)?;
        positive("task.feature_saturation", t.feature_saturation)?;
        positive("task.population_width", t.population_width)?;
        if let Some([lo, hi]) = t.input_range {
            if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                return fail(
                    "task.input_range",
                    format!("must be [lo, hi] with finite lo < hi (got [{lo}, {hi}])"),
                );
            }
        }
        finite("task.input_rate", t.input_rate)?;
        if !(0.0..=1.0).contains(&t.input_rate) {
            return fail(
                "task.input_rate",
                format!(
                    "is a per-step firing probability, must be in [0, 1] (got {})",
                    t.input_rate
                ),
            );
        }

        // ---- model
        let m = &self.model;
        if m.n_rec() == 0 {
            return fail(
                "model.n_regular",
                "n_regular + n_adaptive must be >= 1 (the network has no neurons)".to_string(),
            );
        }
        if m.n_rec() > MAX_NEURONS {
            return fail(
                "model.n_regular",
                format!(
                    "n_regular + n_adaptive = {} exceeds {MAX_NEURONS}, the most recurrent neurons \
                     the GPU kernels support",
                    m.n_rec()
                ),
            );
        }
        if let Some(n_in) = m.n_in {
            nonzero("model.n_in", n_in)?;
            if n_in > MAX_NEURONS {
                return fail(
                    "model.n_in",
                    format!(
                        "{n_in} input channels exceeds {MAX_NEURONS}, the most the GPU kernels support"
                    ),
                );
            }
        }
        if let Some(n_out) = m.n_out {
            nonzero("model.n_out", n_out)?;
            if n_out > MAX_OUTPUTS {
                return fail(
                    "model.n_out",
                    format!(
                        "{n_out} outputs exceeds {MAX_OUTPUTS}, the most lsnn-gpu accepts (the \
                         largest task, TIMIT, has 61 classes)"
                    ),
                );
            }
        }
        positive("model.tau_m", m.tau_m)?;
        positive("model.tau_a", m.tau_a)?;
        if let Some([lo, hi]) = m.tau_a_range {
            finite("model.tau_a_range", lo)?;
            finite("model.tau_a_range", hi)?;
            if lo <= 0.0 {
                return fail(
                    "model.tau_a_range",
                    format!("lower bound must be > 0 (got {lo})"),
                );
            }
            if lo > hi {
                return fail(
                    "model.tau_a_range",
                    format!("lower bound {lo} is above the upper bound {hi}"),
                );
            }
        }
        non_negative("model.beta", m.beta)?;
        positive("model.thr", m.thr)?;
        if m.n_delay == 0 {
            return fail(
                "model.n_delay",
                "must be >= 1 (delays are drawn from 0..n_delay; 1 means no delay)".to_string(),
            );
        }
        if m.n_delay > MAX_DELAY {
            return fail(
                "model.n_delay",
                format!(
                    "{} exceeds {MAX_DELAY}, the most delay steps the GPU kernels support",
                    m.n_delay
                ),
            );
        }
        positive("model.dt", m.dt)?;
        non_negative("model.dampening", m.dampening)?;
        non_negative("model.noise_std", m.noise_std)?;
        let r = &m.readout;
        positive("model.readout.tau_out", r.tau_out)?;
        nonzero("model.readout.window", r.window)?;
        if t.kind == TaskKind::Timit {
            if r.kind != ReadoutKind::Framewise {
                return fail(
                    "model.readout.kind",
                    "TIMIT is classified frame by frame: use `framewise`".to_string(),
                );
            }
            if let Err(e) = self.data.mfcc.validate() {
                return fail("data.mfcc", e);
            }
        }
        if t.kind == TaskKind::MetaRl {
            self.rl
                .validate(t.steps_per_frame, m.dt as f64)
                .or_else(|e| fail_named(&e, "rl"))?;
            if m.noise_std != 0.0 {
                return fail(
                    "model.noise_std",
                    "must be 0 for meta_rl: PPO recomputes the rollout's forward pass and \
                     needs the same outputs"
                        .to_string(),
                );
            }
            if !self.train.batch_size.is_multiple_of(self.rl.minibatches) {
                return fail(
                    "rl.minibatches",
                    format!(
                        "must divide train.batch_size ({} episodes; got {})",
                        self.train.batch_size, self.rl.minibatches
                    ),
                );
            }
        }
        let regression_task = matches!(
            t.kind,
            TaskKind::L2lTn | TaskKind::L2lSine | TaskKind::MetaRl
        );
        if matches!(t.kind, TaskKind::L2lTn | TaskKind::L2lSine) {
            self.eval
                .l2l
                .validate()
                .or_else(|e| fail_named(&e, "eval.l2l"))?;
        }
        if (r.kind == ReadoutKind::Regression) != regression_task {
            return fail(
                "model.readout.kind",
                if regression_task {
                    "learning-to-learn and meta-RL read values out: use `regression`".to_string()
                } else {
                    "`regression` is the readout of the learning-to-learn and meta-RL tasks (task.kind l2l_tn, l2l_sine, meta_rl)".to_string()
                },
            );
        }
        let has_fixed_length = matches!(t.kind, TaskKind::Synthetic | TaskKind::Smnist);
        if r.kind == ReadoutKind::Window && has_fixed_length && r.window > t.sequence_steps() {
            return fail(
                "model.readout.window",
                format!(
                    "readout window K = {} is longer than the sequence ({} steps)",
                    r.window,
                    t.sequence_steps()
                ),
            );
        }
        if let Some(d) = &m.dale {
            in_range(
                "model.dale.proportion_excitatory",
                d.proportion_excitatory,
                0.0,
                1.0,
                true,
            )?;
        }

        // ---- rewiring
        if let Some(rw) = &self.rewiring {
            in_range("rewiring.connectivity", rw.connectivity, 0.0, 1.0, true)?;
            non_negative("rewiring.l1", rw.l1)?;
            non_negative("rewiring.temperature", rw.temperature)?;
        }

        // ---- train
        let tr = &self.train;
        nonzero("train.batch_size", tr.batch_size)?;
        positive("train.learning_rate", tr.learning_rate)?;
        in_range("train.lr_decay", tr.lr_decay, 0.0, 1.0, true)?;
        in_range("train.adam.beta1", tr.adam.beta1, 0.0, 1.0, false)?;
        in_range("train.adam.beta2", tr.adam.beta2, 0.0, 1.0, false)?;
        positive("train.adam.eps", tr.adam.eps)?;
        non_negative("train.reg_coeff", tr.reg_coeff)?;
        non_negative("train.reg_rate_hz", tr.reg_rate_hz)?;

        // ---- eval
        nonzero("eval.batch_size", self.eval.batch_size)?;

        // ---- sizes: each count, then the memory they need together.
        let (steps, steps_field) = self.sequence_steps_estimate();
        if steps > MAX_STEPS {
            return fail(
                steps_field,
                format!(
                    "gives sequences of {steps} steps, more than {MAX_STEPS} (1000 s at dt = 1 \
                     ms), the most lsnn-gpu accepts"
                ),
            );
        }
        for (field, b) in [
            ("train.batch_size", self.train.batch_size),
            ("eval.batch_size", self.eval.batch_size),
        ] {
            if b > MAX_BATCH {
                return fail(
                    field,
                    format!("{b} sequences exceeds {MAX_BATCH}, the most lsnn-gpu accepts"),
                );
            }
        }
        let n_in = self.n_in_estimate();
        if n_in > MAX_NEURONS {
            return fail(
                if matches!(t.kind, TaskKind::L2lTn | TaskKind::L2lSine) {
                    "task.neurons_per_value"
                } else {
                    "model.n_in"
                },
                format!(
                    "gives {n_in} input channels, more than {MAX_NEURONS}, the most the GPU \
                     kernels support"
                ),
            );
        }
        let bytes = self.estimated_bytes();
        if bytes > MAX_ESTIMATED_BYTES {
            let b = self.train.batch_size.max(self.eval.batch_size);
            let field = if self.train.batch_size >= self.eval.batch_size {
                "train.batch_size"
            } else {
                "eval.batch_size"
            };
            return fail(
                field,
                format!(
                    "the config needs about {:.0} GiB (batches of {b} sequences × {steps} steps \
                     ({steps_field}) × {} neurons, {n_in} inputs and {} outputs), more than the \
                     {:.0} GiB lsnn-gpu accepts: use smaller batches, shorter sequences or fewer \
                     neurons",
                    bytes / (1u64 << 30) as f64,
                    m.n_rec(),
                    self.n_out_estimate(),
                    MAX_ESTIMATED_BYTES / (1u64 << 30) as f64
                ),
            );
        }

        // ---- device
        let d = &self.device;
        nonzero("device.chunk_steps", d.chunk_steps)?;
        if let Some(w) = d.workgroup_size {
            if !(1..=256).contains(&w) {
                return fail(
                    "device.workgroup_size",
                    format!(
                        "must be in 1..=256 (got {w}; 256 is WebGPU's default invocation limit)"
                    ),
                );
            }
        }
        Ok(())
    }
}

impl Config {
    /// Sequence length T in steps and the field it comes from: the task's own length, or for
    /// TIMIT (whose length comes from the data) the nominal longest utterance.
    pub fn sequence_steps_estimate(&self) -> (usize, &'static str) {
        let t = &self.task;
        match t.kind {
            TaskKind::Synthetic => (t.steps, "task.steps"),
            TaskKind::Smnist => (t.sequence_steps(), "task.image_side"),
            TaskKind::Timit => (
                TIMIT_MAX_FRAMES.saturating_mul(t.steps_per_frame),
                "task.steps_per_frame",
            ),
            TaskKind::L2lTn | TaskKind::L2lSine => (
                t.pairs_per_episode.saturating_mul(t.steps_per_frame),
                "task.pairs_per_episode",
            ),
            TaskKind::MetaRl => (
                self.rl
                    .arena
                    .actions_per_episode()
                    .saturating_mul(t.steps_per_frame),
                "rl.arena",
            ),
        }
    }

    /// Input channels: `model.n_in`, else what the task gives (80 at most for sMNIST and
    /// TIMIT).
    fn n_in_estimate(&self) -> usize {
        match self.task.kind {
            TaskKind::L2lTn | TaskKind::L2lSine => crate::tasks::l2l_encoding::N_POPULATIONS
                .saturating_mul(self.task.neurons_per_value),
            TaskKind::MetaRl => self.rl.place_cells.n_channels(),
            _ => self.model.n_in.unwrap_or(80),
        }
    }

    fn n_out_estimate(&self) -> usize {
        self.model.n_out.unwrap_or(61)
    }

    /// Bytes an engine needs for this config, roughly: the parameters four times (weights,
    /// gradients, Adam's two moments) and, per sequence of the larger batch and per step, the
    /// input, four values per neuron (the state the backward pass keeps: v, a, z and the
    /// pseudo-derivative, docs/model.md M1–M6, B1–B7) and two per output (M7–M8), all f32.
    /// Computed in f64 so that absurd sizes cannot overflow.
    pub fn estimated_bytes(&self) -> f64 {
        let n_rec = self.model.n_rec() as f64;
        let n_in = self.n_in_estimate() as f64;
        let n_out = self.n_out_estimate() as f64;
        let params = n_in * n_rec + n_rec * n_rec + n_rec * n_out + n_out;
        let b = self.train.batch_size.max(self.eval.batch_size) as f64;
        let t = self.sequence_steps_estimate().0 as f64;
        4.0 * (4.0 * params + b * t * (n_in + 4.0 * n_rec + 2.0 * n_out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Config {
        serde_yaml_ng::from_str("{}").unwrap()
    }

    fn err_field(c: &Config) -> String {
        c.validate().expect_err("should be invalid").0
    }

    #[test]
    fn defaults_are_valid() {
        base().validate().unwrap();
        let mut c = base();
        c.rewiring = Some(Default::default());
        c.model.dale = Some(Default::default());
        c.model.tau_a_range = Some([1.0, 1.0]);
        c.device.workgroup_size = Some(256);
        c.model.n_regular = 0; // all adaptive is fine
        c.validate().unwrap();
    }

    #[test]
    fn rejects_impossible_values() {
        type Edit = fn(&mut Config);
        let cases: &[(&str, Edit)] = &[
            ("task.steps", |c| c.task.steps = 0),
            ("task.input_rate", |c| c.task.input_rate = 1.5),
            ("task.input_rate", |c| c.task.input_rate = -0.1),
            ("task.input_rate", |c| c.task.input_rate = f32::NAN),
            ("task.input_range", |c| {
                c.task.input_range = Some([5.0, -5.0])
            }),
            ("task.input_range", |c| {
                c.task.input_range = Some([-1.0, -1.0])
            }),
            ("task.input_range", |c| {
                c.task.input_range = Some([f32::NEG_INFINITY, 1.0])
            }),
            ("model.tau_m", |c| c.model.tau_m = 0.0),
            ("model.tau_m", |c| c.model.tau_m = -1.0),
            ("model.tau_m", |c| c.model.tau_m = f32::INFINITY),
            ("model.tau_a", |c| c.model.tau_a = -700.0),
            ("model.readout.tau_out", |c| c.model.readout.tau_out = 0.0),
            ("model.dt", |c| c.model.dt = 0.0),
            ("model.tau_a_range", |c| {
                c.model.tau_a_range = Some([0.0, 10.0])
            }),
            ("model.tau_a_range", |c| {
                c.model.tau_a_range = Some([20.0, 10.0])
            }),
            ("model.tau_a_range", |c| {
                c.model.tau_a_range = Some([1.0, f32::NAN])
            }),
            ("model.n_regular", |c| {
                c.model.n_regular = 0;
                c.model.n_adaptive = 0
            }),
            ("model.n_regular", |c| c.model.n_regular = 2000),
            ("model.dampening", |c| c.model.dampening = -0.3),
            ("model.thr", |c| c.model.thr = 0.0),
            ("model.beta", |c| c.model.beta = -1.8),
            ("model.noise_std", |c| c.model.noise_std = -1.0),
            ("model.n_delay", |c| c.model.n_delay = 0),
            ("model.n_delay", |c| c.model.n_delay = 33),
            ("model.readout.window", |c| c.model.readout.window = 0),
            ("model.readout.window", |c| {
                c.task.steps = 20;
                c.model.readout.window = 21
            }),
            ("model.n_in", |c| c.model.n_in = Some(0)),
            ("model.n_in", |c| c.model.n_in = Some(2049)),
            ("model.n_out", |c| c.model.n_out = Some(0)),
            // The abort: a 160 TB allocation of readout weights.
            ("model.n_out", |c| c.model.n_out = Some(999_999_999_999)),
            ("task.steps", |c| c.task.steps = 1_000_000_000_000),
            ("train.batch_size", |c| c.train.batch_size = 1 << 40),
            ("eval.batch_size", |c| c.eval.batch_size = 1 << 40),
            // Each count allowed, together beyond the memory limit.
            ("train.batch_size", |c| {
                c.train.batch_size = 1 << 16;
                c.task.steps = 100_000;
            }),
            ("model.dale.proportion_excitatory", |c| {
                c.model.dale = Some(super::super::DaleConfig {
                    proportion_excitatory: 0.0,
                })
            }),
            ("model.dale.proportion_excitatory", |c| {
                c.model.dale = Some(super::super::DaleConfig {
                    proportion_excitatory: 1.01,
                })
            }),
            ("rewiring.connectivity", |c| {
                c.rewiring = Some(super::super::RewiringConfig {
                    connectivity: 0.0,
                    ..Default::default()
                })
            }),
            ("rewiring.connectivity", |c| {
                c.rewiring = Some(super::super::RewiringConfig {
                    connectivity: 1.5,
                    ..Default::default()
                })
            }),
            ("rewiring.l1", |c| {
                c.rewiring = Some(super::super::RewiringConfig {
                    l1: -1.0,
                    ..Default::default()
                })
            }),
            ("rewiring.temperature", |c| {
                c.rewiring = Some(super::super::RewiringConfig {
                    temperature: -1.0,
                    ..Default::default()
                })
            }),
            ("train.batch_size", |c| c.train.batch_size = 0),
            ("train.learning_rate", |c| c.train.learning_rate = 0.0),
            ("train.lr_decay", |c| c.train.lr_decay = 0.0),
            ("train.lr_decay", |c| c.train.lr_decay = 1.1),
            ("train.adam.beta1", |c| c.train.adam.beta1 = 1.0),
            ("train.adam.beta2", |c| c.train.adam.beta2 = -0.1),
            ("train.adam.eps", |c| c.train.adam.eps = 0.0),
            ("train.reg_coeff", |c| c.train.reg_coeff = -0.1),
            ("train.reg_rate_hz", |c| c.train.reg_rate_hz = -10.0),
            ("eval.batch_size", |c| c.eval.batch_size = 0),
            ("device.chunk_steps", |c| c.device.chunk_steps = 0),
            ("device.workgroup_size", |c| {
                c.device.workgroup_size = Some(0)
            }),
            ("device.workgroup_size", |c| {
                c.device.workgroup_size = Some(512)
            }),
        ];
        for (field, edit) in cases {
            let mut c = base();
            edit(&mut c);
            assert_eq!(&err_field(&c), field);
        }
    }

    #[test]
    fn meta_rl_checks_name_their_fields() {
        type Edit = fn(&mut Config);
        let cases: &[(&str, Edit)] = &[
            ("rl.minibatches", |c| c.rl.minibatches = 0),
            ("rl.minibatches", |c| {
                c.train.batch_size = 16;
                c.rl.minibatches = 3
            }),
            ("rl.epochs", |c| c.rl.epochs = 0),
            ("rl.arena.action_seconds", |c| c.task.steps_per_frame = 20),
            ("model.noise_std", |c| c.model.noise_std = 0.1),
        ];
        let path = std::path::Path::new("configs/meta_rl.yaml");
        for (field, edit) in cases {
            let mut c = Config::load(path, &[]).expect("configs/meta_rl.yaml");
            edit(&mut c);
            assert_eq!(&err_field(&c), field);
        }
    }

    #[test]
    fn example_configs_fit_the_memory_limit_by_far() {
        // The limit refuses absurd sizes, not the experiments: every example needs < 2 GiB.
        for entry in std::fs::read_dir("configs").unwrap() {
            let path = entry.unwrap().path();
            let c = Config::load(&path, &[]).unwrap();
            let gib = c.estimated_bytes() / (1u64 << 30) as f64;
            assert!(gib < 2.0, "{}: {gib} GiB", path.display());
        }
    }

    #[test]
    fn memory_refusal_names_the_sizes() {
        let mut c = base();
        c.train.batch_size = 1 << 16;
        c.task.steps = 100_000;
        let (f, m) = c.validate().unwrap_err();
        assert_eq!(f, "train.batch_size");
        assert!(
            m.contains("65536 sequences × 100000 steps (task.steps)"),
            "{m}"
        );
        assert!(m.contains("64 GiB"), "{m}");
    }

    #[test]
    fn n_rec_limit_message_mentions_gpu() {
        let mut c = base();
        c.model.n_adaptive = 3000;
        let (f, m) = c.validate().unwrap_err();
        assert_eq!(f, "model.n_regular");
        assert!(m.contains("2048") && m.contains("GPU"), "{m}");
    }

    #[test]
    fn window_limit_only_for_fixed_length_window_readout() {
        let mut c = base();
        c.task.steps = 10;
        c.model.readout.window = 28;
        assert!(c.validate().is_err());
        c.task.kind = TaskKind::Smnist; // T = 840 from the encoding, whatever task.steps says
        c.validate().unwrap();
        c.model.readout.window = 841;
        assert!(c.validate().is_err());
        c.model.readout.window = 28;
        c.task.kind = TaskKind::Synthetic;
        c.model.readout.kind = ReadoutKind::Framewise;
        c.validate().unwrap();
    }
}
