//! Shared helpers of the integration tests: small random networks and batches.
#![allow(dead_code)]

use ndarray::{Array1, Array2, Array3};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use lsnn_gpu::model::{Batch, Network, NeuronConstants, Params, Readout, SimConstants, Targets};

/// Shape and options of a random test case.
#[derive(Clone, Debug)]
pub struct Case {
    pub n_in: usize,
    pub n_regular: usize,
    pub n_adaptive: usize,
    pub n_out: usize,
    pub steps: usize,
    pub batch: usize,
    pub n_delay: u32,
    pub n_ref: u32,
    pub readout: Readout,
    pub dt: f32,
    pub noise_std: f32,
    /// Fraction of input entries that are non-zero.
    pub input_density: f64,
    /// Analog inputs (uniform in [0, 1]) rather than spikes.
    pub analog: bool,
    pub seed: u64,
}

impl Default for Case {
    fn default() -> Self {
        Case {
            n_in: 5,
            n_regular: 4,
            n_adaptive: 3,
            n_out: 3,
            steps: 40,
            batch: 2,
            n_delay: 3,
            n_ref: 2,
            readout: Readout::Window(8),
            dt: 1.0,
            noise_std: 0.0,
            input_density: 0.3,
            analog: false,
            seed: 1,
        }
    }
}

fn normal(rng: &mut ChaCha8Rng) -> f32 {
    StandardNormal.sample(rng)
}

/// Adam step `step` (1-based) at learning rate `lr` with the reference moments (docs/model.md §6);
/// the noise seed follows the step.
#[allow(dead_code)] // not every test binary trains
pub fn adam_settings(step: u32, lr: f32) -> lsnn_gpu::engine::StepSettings {
    let adam = lsnn_gpu::config::AdamConfig::default();
    lsnn_gpu::engine::StepSettings::adam(&adam, lr, step, step)
}

/// A random network whose neurons spike now and then: thresholds, time constants and
/// weights are spread so that voltages cross thresholds at various margins.
pub fn random_network(c: &Case) -> Network {
    let mut rng = ChaCha8Rng::seed_from_u64(c.seed);
    let n = c.n_regular + c.n_adaptive;
    let neurons = NeuronConstants {
        tau_m: Array1::from_shape_fn(n, |_| rng.random_range(5.0..30.0)),
        tau_a: Array1::from_shape_fn(n, |_| rng.random_range(20.0..300.0)),
        beta: Array1::from_shape_fn(n, |j| {
            if j >= c.n_regular {
                rng.random_range(0.5..2.0)
            } else {
                0.0
            }
        }),
        thr: Array1::from_shape_fn(n, |_| rng.random_range(0.02..0.08)),
    };
    let sim = SimConstants {
        dt: c.dt,
        dampening: 0.3,
        n_ref: c.n_ref,
        n_delay: c.n_delay,
        tau_out: 20.0,
        readout: c.readout,
        reg_coeff: 0.1,
        reg_rate_hz: 10.0,
        noise_std: c.noise_std,
    };
    let mut params = Params::zeros(c.n_in, n, c.n_out);
    params.w_in = Array2::from_shape_fn((c.n_in, n), |_| normal(&mut rng) * 1.5);
    params.w_rec = Array2::from_shape_fn(
        (n, n),
        |(k, j)| if k == j { 0.0 } else { normal(&mut rng) * 0.8 },
    );
    params.w_out = Array2::from_shape_fn((n, c.n_out), |_| normal(&mut rng));
    params.b_out = Array1::from_shape_fn(c.n_out, |_| normal(&mut rng) * 0.1);
    let nd = c.n_delay;
    Network {
        sim,
        neurons,
        n_regular: c.n_regular,
        delay_in: Array2::from_shape_fn((c.n_in, n), |_| rng.random_range(0..nd)),
        delay_rec: Array2::from_shape_fn((n, n), |_| rng.random_range(0..nd)),
        params,
    }
}

pub fn random_batch(c: &Case) -> Batch {
    let mut rng = ChaCha8Rng::seed_from_u64(c.seed.wrapping_add(1000));
    let x = Array3::from_shape_fn((c.steps, c.batch, c.n_in), |_| {
        if rng.random_bool(c.input_density) {
            if c.analog {
                rng.random_range(0.0..1.0)
            } else {
                1.0 / c.dt
            }
        } else {
            0.0
        }
    });
    let targets = match c.readout {
        Readout::Window(_) => Targets::Labels(Array1::from_shape_fn(c.batch, |_| {
            rng.random_range(0..c.n_out as i32)
        })),
        Readout::Framewise(_) => {
            Targets::FrameLabels(Array2::from_shape_fn((c.steps, c.batch), |_| {
                if rng.random_bool(0.7) {
                    rng.random_range(0..c.n_out as i32)
                } else {
                    -1
                }
            }))
        }
        Readout::Regression(_) => {
            // Targets in [0, 1]; about a third of the steps not scored (NaN).
            let mut values = Array3::from_elem((c.steps, c.batch, c.n_out), f32::NAN);
            for t in 0..c.steps {
                for b in 0..c.batch {
                    if rng.random_bool(0.7) {
                        for o in 0..c.n_out {
                            values[[t, b, o]] = rng.random_range(0.0..1.0);
                        }
                    }
                }
            }
            Targets::FrameValues(values)
        }
    };
    Batch { x, targets }
}
pub mod cases;
pub mod cli;
pub mod gpu;
pub mod timit_corpus;
