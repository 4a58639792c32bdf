//! The CPU reference's BPTT (B1–B7) against forward-mode differentiation of its own forward
//! pass with dual numbers (docs/model.md §3), in f64: they must agree to rounding error.

mod common;

use common::{random_batch, random_network, Case};
use lsnn_gpu::cpu::alif_forward::ParamsOf;
use lsnn_gpu::cpu::readout_loss::readout_loss;
use lsnn_gpu::cpu::{alif_backward, alif_forward, Dual};
use lsnn_gpu::model::{Readout, Tensor};

/// Relative agreement required. Both sides evaluate the same f64 program; they differ only in
/// the order of additions, so the difference is a few ulps of the largest terms: 1e-9 of the
/// largest gradient component is far above that and far below any real error.
const TOLERANCE: f64 = 1e-9;

fn check(case: &Case) {
    let net = random_network(case);
    let batch = random_batch(case);
    let p64 = ParamsOf::<f64>::from_params(&net.params);
    let trace = alif_forward(&net, &p64, &batch.x, 7);
    let loss = readout_loss(&net, &p64, &trace, &batch.targets);
    let spikes: f64 = trace.z.iter().sum::<f64>() * case.dt as f64;
    assert!(
        spikes > 10.0,
        "test case too quiet to exercise BPTT: {spikes} spikes"
    );
    assert!(trace.refractory.iter().any(|&r| r) || case.n_ref == 0);
    let g = alif_backward(&net, &p64, &batch.x, &trace, &loss, &batch.targets);
    let bptt: Vec<f64> = g.to_flat();

    let base = ParamsOf::<Dual>::from_params(&net.params);
    let n_params = net.params.len();
    let layout = net.params.layout();
    let mut forward_mode = Vec::with_capacity(n_params);
    for e in 0..n_params {
        let mut p = base.clone();
        let seed = Dual::new(0.0, 1.0);
        // Seed the direction of parameter e, in the flat order of the layout.
        let block = layout
            .blocks()
            .into_iter()
            .find(|b| b.range().contains(&e))
            .expect("the blocks tile the flat vector");
        let i = e - block.offset;
        let slot = match block.tensor {
            Tensor::WIn => &mut p.w_in.as_slice_mut().unwrap()[i],
            Tensor::WRec => &mut p.w_rec.as_slice_mut().unwrap()[i],
            Tensor::WOut => &mut p.w_out.as_slice_mut().unwrap()[i],
            Tensor::BOut => &mut p.b_out.as_slice_mut().unwrap()[i],
        };
        *slot += seed;
        let tr = alif_forward(&net, &p, &batch.x, 7);
        let l = readout_loss(&net, &p, &tr, &batch.targets);
        assert_eq!(
            l.loss.v, loss.loss,
            "dual forward must reproduce the f64 loss exactly"
        );
        forward_mode.push(l.loss.d);
    }
    // The diagonal is not a parameter: BPTT reports 0 there, whatever the dual says.
    for j in 0..net.n_rec() {
        forward_mode[layout.w_rec().index(j, j)] = 0.0;
    }
    let scale = forward_mode.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    assert!(scale > 0.0);
    let mut worst = 0.0f64;
    for (e, (&f, &b)) in forward_mode.iter().zip(&bptt).enumerate() {
        let err = (f - b).abs() / scale;
        worst = worst.max(err);
        assert!(
            err <= TOLERANCE,
            "parameter {e}: forward mode {f:e}, BPTT {b:e}, relative error {err:e}"
        );
    }
    eprintln!("{case:?}: worst relative error {worst:e} over {n_params} parameters");
}

#[test]
fn bptt_matches_forward_mode_with_delays_and_refractoriness() {
    check(&Case::default());
}

#[test]
fn bptt_matches_forward_mode_without_delays_or_refractoriness() {
    check(&Case {
        n_delay: 1,
        n_ref: 0,
        seed: 2,
        ..Case::default()
    });
}

#[test]
fn bptt_matches_forward_mode_with_long_delays_and_long_refractoriness() {
    check(&Case {
        n_delay: 10,
        n_ref: 5,
        steps: 60,
        seed: 3,
        ..Case::default()
    });
}

#[test]
fn bptt_matches_forward_mode_framewise_with_noise_and_analog_input() {
    check(&Case {
        readout: Readout::Framewise(1),
        noise_std: 0.05,
        analog: true,
        input_density: 0.8,
        seed: 4,
        ..Case::default()
    });
}

#[test]
fn bptt_matches_forward_mode_with_half_ms_steps() {
    check(&Case {
        dt: 0.5,
        seed: 5,
        ..Case::default()
    });
}

/// TIMIT's readout: logits averaged over frames of several steps (docs/experiments.md §2).
#[test]
fn bptt_matches_forward_mode_framewise_with_frames_of_several_steps() {
    let case = Case {
        readout: Readout::Framewise(4),
        analog: true,
        input_density: 0.8,
        seed: 6,
        ..Case::default()
    };
    assert_eq!(case.steps % 4, 0, "whole frames");
    check(&case);
}

/// Learning-to-learn's readout: squared error of frame outputs (docs/model.md §4).
#[test]
fn bptt_matches_forward_mode_regression_over_frames() {
    let case = Case {
        readout: Readout::Regression(5),
        n_out: 2,
        analog: true,
        input_density: 0.8,
        seed: 7,
        ..Case::default()
    };
    assert_eq!(case.steps % 5, 0, "whole frames");
    check(&case);
}
