//! The random cases every engine is held to the reference on (tests/gpu_matches_reference.rs,
//! tests/native_matches_reference.rs), and the margins and tolerances of the comparison.
#![allow(dead_code)]

use super::{random_batch, random_network, Case};
use lsnn_gpu::cpu::alif_forward::{alif_forward, ParamsOf};
use lsnn_gpu::cpu::apply_constraints;
use lsnn_gpu::cpu::readout_loss::{predictions, readout_loss};
use lsnn_gpu::cpu::{alif_backward, CpuEngine};
use lsnn_gpu::engine::Engine;
use lsnn_gpu::model::init::{constraints, Constraint, DaleSigns};
use lsnn_gpu::model::{Batch, Network, Params, Readout};

use super::adam_settings;

/// Smallest |u| = |v_{t−1} − A_t|/A_t the reference may meet for spikes to be comparable
/// exactly: f32 voltages carry relative rounding of ~1e-7 per operation, accumulated over a
/// few dozen operations; a case closer than this to a threshold is ill-conditioned.
pub const MIN_MARGIN: f64 = 1e-4;

/// Gradient tolerance: |engine − ref| ≤ RTOL·|ref| + ATOL·max|ref|. The engines work in f32 and
/// sums in a different order than the f64 reference; BPTT over T steps amplifies rounding
/// by at most the recurrences' gain, so 1e-4 relative (with a floor of 1e-5 of the largest
/// component for entries that cancel to ~0) is ~100× above what we measure and far below
/// the size of any real mistake (a missing term changes gradients by >1e-2).
pub const RTOL: f64 = 1e-4;
pub const ATOL: f64 = 1e-5;

/// (name, case, chunk_steps, workgroup size; None = the engine's choice).
pub fn cases() -> Vec<(&'static str, Case, usize, Option<u32>)> {
    let base = Case {
        n_in: 21,
        n_regular: 23,
        n_adaptive: 14,
        n_out: 5,
        steps: 70,
        batch: 3,
        ..Case::default()
    };
    vec![
        (
            "delays 10, refractory 5, B 3, 5 chunks",
            Case {
                n_delay: 10,
                n_ref: 5,
                ..base.clone()
            },
            16,
            None,
        ),
        (
            "delays 1, refractory 0, B 1, 1 chunk",
            Case {
                n_delay: 1,
                n_ref: 0,
                batch: 1,
                seed: 11,
                ..base.clone()
            },
            128,
            None,
        ),
        (
            "delays 10, refractory 0, B 4, 3 chunks",
            Case {
                n_delay: 10,
                n_ref: 0,
                batch: 4,
                seed: 12,
                ..base.clone()
            },
            30,
            None,
        ),
        (
            "delays 1, refractory 5, B 2, 7 chunks",
            Case {
                n_delay: 1,
                n_ref: 5,
                batch: 2,
                seed: 13,
                ..base.clone()
            },
            11,
            None,
        ),
        (
            "framewise, analog input, noise, 40 inputs, 70 neurons",
            Case {
                readout: Readout::Framewise(1),
                analog: true,
                input_density: 0.5,
                noise_std: 0.02,
                n_in: 40,
                n_regular: 40,
                n_adaptive: 30,
                seed: 14,
                ..base.clone()
            },
            25,
            None,
        ),
        (
            "framewise, 5 steps per frame, frames split across chunks of 7 steps",
            Case {
                readout: Readout::Framewise(5),
                analog: true,
                input_density: 0.5,
                n_out: 7,
                seed: 17,
                ..base.clone()
            },
            7,
            None,
        ),
        (
            "regression, 2 outputs, frames of 5 steps split across chunks of 7 steps",
            Case {
                readout: Readout::Regression(5),
                analog: true,
                input_density: 0.5,
                n_out: 2,
                seed: 18,
                ..base.clone()
            },
            7,
            None,
        ),
        (
            "dt 0.5",
            Case {
                dt: 0.5,
                seed: 15,
                ..base.clone()
            },
            32,
            None,
        ),
        // Big enough that one dispatch over all steps would exceed llvmpipe's cap of 65535
        // loop iterations per invocation (budget.rs): the engine must split it.
        (
            "300 neurons, 80 inputs, 8 invocations, one requested chunk",
            Case {
                n_in: 80,
                n_regular: 200,
                n_adaptive: 100,
                n_out: 10,
                steps: 150,
                batch: 2,
                n_delay: 10,
                n_ref: 5,
                input_density: 0.05,
                seed: 16,
                ..base.clone()
            },
            1000,
            Some(8),
        ),
    ]
}

pub fn min_margin(net: &Network, case: &Case) -> f64 {
    let batch = random_batch(case);
    let p = ParamsOf::<f32>::from_params(&net.params);
    let tr = alif_forward(net, &p, &batch.x, 9);
    let mut m = f64::INFINITY;
    for ((&v, &a), &r) in tr
        .v_prev
        .iter()
        .zip(tr.thr_adaptive.iter())
        .zip(tr.refractory.iter())
    {
        if !r {
            m = m.min(((v - a) / a).abs() as f64);
        }
    }
    m
}

/// Holds `engine` (built on `net`) to the f64 reference on `batch`: spikes exactly, losses
/// within f32 rounding, predictions exactly, gradients within RTOL/ATOL.
pub fn check_against_reference(name: &str, net: &Network, batch: &Batch, engine: &mut dyn Engine) {
    let net = net.clone();
    // Reference in f64 (the truth) and its spikes.
    let p64 = ParamsOf::<f64>::from_params(&net.params);
    let tr = alif_forward(&net, &p64, &batch.x, 9);
    let loss = readout_loss(&net, &p64, &tr, &batch.targets);
    let g = alif_backward(&net, &p64, &batch.x, &tr, &loss, &batch.targets);
    let reference: Vec<f64> = g.to_flat();

    let report = engine.gradients(batch, 9).expect("gradients");

    // Spikes: exactly.
    let mut flips = 0;
    let mut total = 0;
    for (gz, cz) in report.spikes.iter().zip(tr.z.iter()) {
        let c = if *cz != 0.0 { 1.0 } else { 0.0 };
        flips += usize::from(*gz != c);
        total += usize::from(c != 0.0);
    }
    assert!(
        total > 20,
        "{name}: too few spikes ({total}) to test anything"
    );
    assert_eq!(
        flips,
        0,
        "{name}: {flips} spikes differ between {} and reference (of {total})",
        engine.describe()
    );

    // Loss: f32 sums of a few hundred terms.
    let rel = |a: f64, b: f64| (a - b).abs() / b.abs().max(1e-6);
    assert!(
        rel(report.stats.loss as f64, loss.loss) < 1e-5,
        "{name}: loss {} vs {}",
        report.stats.loss,
        loss.loss
    );
    assert!(
        rel(report.stats.loss_reg as f64, loss.loss_reg) < 1e-5,
        "{name}: loss_reg"
    );
    assert_eq!(
        report.stats.correct, loss.correct,
        "{name}: correct predictions"
    );
    // Predicted classes of every decision (window: one per sequence; framewise: every
    // frame, labelled or not): exactly, as `correct` above.
    let (_, predicted) = engine.predict(batch, 9).expect("predictions");
    assert_eq!(
        predicted,
        predictions(&loss.probs),
        "{name}: predicted classes"
    );
    // Regression: every frame's outputs (f32 sums of n_rec products against f64).
    if matches!(net.sim.readout, Readout::Regression(_)) {
        let outputs = engine.frame_outputs(batch, 9).expect("frame outputs");
        assert_eq!(outputs.dim(), loss.probs.dim());
        for (&g, &r) in outputs.iter().zip(loss.probs.iter()) {
            assert!(
                (g as f64 - r).abs() <= 1e-4 * r.abs() + 1e-5,
                "{name}: frame output {g} vs {r}"
            );
        }
    }
    for (j, (&a, &b)) in report.stats.rates.iter().zip(loss.rates.iter()).enumerate() {
        assert!(
            (a as f64 - b).abs() < 1e-6,
            "{name}: rate of neuron {j}: {a} vs {b}"
        );
    }

    // Gradients.
    let scale = reference.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    assert!(scale > 0.0, "{name}: all gradients zero");
    let mut worst = 0.0f64;
    for (e, (&gg, &r)) in report.grads.iter().zip(&reference).enumerate() {
        let err = (gg as f64 - r).abs();
        let tol = RTOL * r.abs() + ATOL * scale;
        worst = worst.max(err / (r.abs() + scale * ATOL / RTOL));
        assert!(
            err <= tol,
            "{name}: gradient {e}: engine {gg:e}, reference {r:e}, |diff| {err:e} > {tol:e}"
        );
    }
    // The recurrent diagonal is not a parameter.
    let n = net.n_rec();
    for j in 0..n {
        assert_eq!(report.grads[net.params.layout().w_rec().index(j, j)], 0.0);
    }
    eprintln!("{name}: {total} spikes, 0 flips, worst gradient error {worst:e} (relative)");
}

/// Builds an engine for a network and its constraint codes.
pub type MakeEngine<'a> = dyn Fn(&Network, &[u32]) -> Box<dyn Engine> + 'a;

/// Three Adam steps on the reference and on the engine `make` builds: losses, weights and moments agree; every weight obeys
/// its constraint (no autapses; with Dale's law, the presynaptic sign).
pub fn check_training_steps(dale: bool, make: &MakeEngine) {
    let case = Case {
        n_in: 13,
        n_regular: 19,
        n_adaptive: 12,
        n_out: 4,
        steps: 45,
        batch: 3,
        n_delay: 4,
        n_ref: 2,
        seed: 21,
        ..Case::default()
    };
    let mut net = random_network(&case);
    let signs = dale.then(|| {
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(5);
        DaleSigns::reference(net.n_in(), net.n_rec(), 0.75, &mut rng)
    });
    let c = constraints(net.n_in(), net.n_rec(), net.n_out(), signs.as_ref());
    let mut flat = net.params.to_flat();
    apply_constraints(&mut flat, &c);
    net.params = Params::from_flat(&flat, net.n_in(), net.n_rec(), net.n_out());
    assert!(min_margin(&net, &case) >= MIN_MARGIN);
    // With Dale's law, a large learning rate pushes some weights across zero: they must be
    // clamped identically on both engines.
    let lr = if dale { 0.05 } else { 1e-3 };
    let mut cpu = CpuEngine::new(net.clone(), c.clone());
    let mut gpu = make(&net, &c);
    let engine_name = gpu.describe();
    for step in 1..=3u32 {
        let batch = random_batch(&Case {
            seed: 100 + step as u64,
            ..case.clone()
        });
        let s = adam_settings(step, lr);
        let a = cpu.train_step(&batch, &s).unwrap();
        let b = gpu.train_step(&batch, &s).unwrap();
        assert!(
            (a.loss - b.loss).abs() <= 1e-5 * a.loss.abs(),
            "step {step}: loss CPU {} {engine_name} {}",
            a.loss,
            b.loss
        );
    }
    let wc = cpu.network().unwrap().params.to_flat();
    let wg = gpu.network().unwrap().params.to_flat();
    // Adam moves each weight by at most lr per step; after 3 steps the two engines differ by
    // rounding in the moments: 1e-3 of the learning rate is 1/3000 of the total movement.
    let worst = wc
        .iter()
        .zip(&wg)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-3 * lr, "weights after 3 steps differ by {worst}");
    for (e, (&w, &k)) in wg.iter().zip(&c).enumerate() {
        assert_eq!(
            w,
            Constraint::clamp(w, k),
            "weight {e} = {w} violates its constraint {k}"
        );
    }
    if dale {
        let clamped = wg
            .iter()
            .zip(&c)
            .filter(|(w, k)| **w == 0.0 && (**k == 1 || **k == 2))
            .count();
        assert!(clamped > 0, "the test pushed no weight across zero");
        eprintln!("Dale's law: {clamped} weights clamped at zero");
    }
    let (mc, vc) = cpu.adam_moments().unwrap();
    let (mg, vg) = gpu.adam_moments().unwrap();
    for (a, b) in mc.iter().zip(&mg).chain(vc.iter().zip(&vg)) {
        assert!(
            (a - b).abs() <= 1e-4 * a.abs() + 1e-9,
            "Adam moments differ: {a} vs {b}"
        );
    }
}
