//! The native engine held against the reference by the same checks as the GPU kernels
//! (tests/common/cases.rs): spikes exactly, losses and gradients within f32 rounding,
//! predictions exactly, whole training steps. Its forward pass is bit-identical to the f32
//! reference (same products summed in the same order), which is checked here too.

mod common;

use common::cases::{cases, check_against_reference, check_training_steps, min_margin, MIN_MARGIN};
use common::{random_batch, random_network, Case};
use lsnn_gpu::cpu::CpuEngine;
use lsnn_gpu::engine::Engine;
use lsnn_gpu::model::init::constraints;
use lsnn_gpu::model::{Network, Readout, PACKED_ORDER};
use lsnn_gpu::native::NativeEngine;

fn native(net: &Network) -> NativeEngine {
    let c = constraints(net.n_in(), net.n_rec(), net.n_out(), None);
    NativeEngine::new(net.clone(), c)
}

/// The native engine and the reference on `net`: the engines that share the host's checks.
fn host_engines(net: &Network) -> Vec<Box<dyn Engine>> {
    let c = constraints(net.n_in(), net.n_rec(), net.n_out(), None);
    vec![
        Box::new(native(net)),
        Box::new(CpuEngine::new(net.clone(), c)),
    ]
}

#[test]
fn forward_loss_and_gradients_match_reference() {
    for (name, case, _, _) in cases() {
        let net = random_network(&case);
        let batch = random_batch(&case);
        let margin = min_margin(&net, &case);
        assert!(margin >= MIN_MARGIN, "{name}: margin {margin:e}");
        check_against_reference(name, &net, &batch, &mut native(&net));
    }
}

#[test]
fn forward_pass_is_bit_identical_to_the_f32_reference() {
    for (name, case, _, _) in cases() {
        let net = random_network(&case);
        let batch = random_batch(&case);
        let c = constraints(net.n_in(), net.n_rec(), net.n_out(), None);
        let mut reference = CpuEngine::new(net.clone(), c);
        let mut fast = native(&net);
        let (a, pa) = reference.predict(&batch, 9).unwrap();
        let (b, pb) = fast.predict(&batch, 9).unwrap();
        assert_eq!(a.loss.to_bits(), b.loss.to_bits(), "{name}: loss");
        assert_eq!(
            a.loss_task.to_bits(),
            b.loss_task.to_bits(),
            "{name}: task loss"
        );
        assert_eq!(a.loss_reg.to_bits(), b.loss_reg.to_bits(), "{name}: L_reg");
        assert_eq!(a.rates, b.rates, "{name}: rates");
        assert_eq!(
            (a.correct, a.scored),
            (b.correct, b.scored),
            "{name}: scores"
        );
        assert_eq!(pa, pb, "{name}: predictions");
        let ra = reference.gradients(&batch, 9).unwrap();
        let rb = fast.gradients(&batch, 9).unwrap();
        assert_eq!(ra.spikes, rb.spikes, "{name}: spikes");
        if matches!(net.sim.readout, Readout::Regression(_)) {
            let oa = reference.frame_outputs(&batch, 9).unwrap();
            let ob = fast.frame_outputs(&batch, 9).unwrap();
            assert_eq!(
                oa.mapv(f32::to_bits),
                ob.mapv(f32::to_bits),
                "{name}: outputs"
            );
        }
    }
}

#[test]
fn training_steps_match_reference() {
    check_training_steps(false, &|net, c| {
        Box::new(NativeEngine::new(net.clone(), c.to_vec()))
    });
}

#[test]
fn training_steps_with_dale_signs_match_reference_and_keep_signs() {
    check_training_steps(true, &|net, c| {
        Box::new(NativeEngine::new(net.clone(), c.to_vec()))
    });
}

#[test]
fn a_bad_batch_is_an_error_not_a_panic() {
    // The native engine and the reference share one check of a batch against the network.
    let case = Case::default();
    let net = random_network(&case);
    let engines = host_engines(&net);
    for mut engine in engines {
        let name = engine.describe();
        let mut wide = random_batch(&case);
        wide.x = ndarray::Array3::zeros((case.steps, case.batch, case.n_in + 1));
        let e = engine.gradients(&wide, 0).unwrap_err().to_string();
        assert!(e.contains("input channels"), "{name}: {e}");
        let mut bad_label = random_batch(&case);
        if let lsnn_gpu::model::Targets::Labels(l) = &mut bad_label.targets {
            l[0] = case.n_out as i32;
        }
        let e = engine
            .train_step(&bad_label, &common::adam_settings(1, 1e-3))
            .unwrap_err()
            .to_string();
        assert!(e.contains("label"), "{name}: {e}");
        let mut frames = random_batch(&case);
        frames.targets = lsnn_gpu::model::Targets::FrameLabels(ndarray::Array2::zeros((1, 1)));
        let e = engine.evaluate(&frames, 0).unwrap_err().to_string();
        assert!(e.contains("do not match"), "{name}: {e}");
    }
}

#[test]
fn gradients_do_not_depend_on_the_number_of_threads() {
    let case = Case {
        batch: 11,
        n_delay: 4,
        seed: 31,
        ..Case::default()
    };
    let net = random_network(&case);
    let batch = random_batch(&case);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| native(&net).gradients(&batch, 3).unwrap().grads)
    };
    let one = run(1);
    for threads in [2, 3, 7] {
        let bits = |g: &[f32]| g.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&run(threads)), bits(&one), "{threads} threads");
    }
}

#[test]
fn a_step_that_would_make_weights_non_finite_is_refused() {
    let case = Case::default();
    let net = random_network(&case);
    let engines = host_engines(&net);
    for mut engine in engines {
        let batch = random_batch(&case);
        let mut refused = None;
        for step in 1..=5 {
            let before = engine.network().unwrap();
            match engine.train_step(&batch, &common::adam_settings(step, 3e38)) {
                Ok(_) => assert!(engine
                    .network()
                    .unwrap()
                    .params
                    .to_flat()
                    .iter()
                    .all(|w| w.is_finite())),
                Err(e) => {
                    assert_eq!(engine.network().unwrap(), before, "weights changed");
                    refused = Some(e.to_string());
                    break;
                }
            }
        }
        let e = refused.expect("lr 3e38 never refused");
        assert!(e.contains("non-finite") || e.contains("not finite"), "{e}");
        // It names the first non-finite entry, of whichever tensor the packed order puts
        // first.
        let names_an_entry = PACKED_ORDER
            .iter()
            .any(|t| e.contains(&format!("{}[", t.name())));
        assert!(e.contains("learning_rate") && names_an_entry, "{e}");
    }
}
