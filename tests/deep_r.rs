//! DEEP R (docs/model.md §7) on the GPU and the native engine against the CPU reference: the same masks and magnitudes
//! after every iteration, the invariants of the rewiring, and the W_rec row lists of the
//! sparse backward sweep.

mod common;

use common::adam_settings;
use lsnn_gpu::config::{Config, DaleConfig, RewiringConfig, TaskKind};
use lsnn_gpu::cpu::deep_r::rewired_sign;
use lsnn_gpu::cpu::sparse_rows::sparse_rows;
use lsnn_gpu::cpu::CpuEngine;
use lsnn_gpu::engine::Engine;
use lsnn_gpu::gpu::GpuEngine;
use lsnn_gpu::model::deep_r::DeepR;
use lsnn_gpu::model::init::{initialise, Constraint, Initialised};
use lsnn_gpu::native::NativeEngine;
use lsnn_gpu::tasks::synthetic::SyntheticTask;

const BATCH: usize = 3;

fn config(dale: bool, connectivity: f32, l1: f32, temperature: f32) -> Config {
    config_with(dale, connectivity, l1, temperature, true)
}

fn config_with(
    dale: bool,
    connectivity: f32,
    l1: f32,
    temperature: f32,
    dense_gradients: bool,
) -> Config {
    let mut c = Config::default();
    c.task.kind = TaskKind::Synthetic;
    c.task.steps = 40;
    c.task.input_rate = 0.1;
    c.model.n_in = Some(12);
    c.model.n_out = Some(3);
    c.model.n_regular = 20;
    c.model.n_adaptive = 10;
    c.model.n_delay = 3;
    c.model.dale = dale.then(DaleConfig::default);
    c.rewiring = Some(RewiringConfig {
        connectivity,
        l1,
        temperature,
        dense_gradients,
        ..Default::default()
    });
    c.train.batch_size = BATCH;
    c.train.seed = 3;
    c
}

/// The invariants of docs/model.md §7 after an iteration: exactly K active connections (w ≠ 0)
/// among the rewired parameters, each with its fixed sign, and none on the diagonal.
fn check_invariants(flat: &[f32], constraints: &[u32], d: &DeepR, what: &str) {
    let mut active = 0;
    for (e, (&w, &c)) in flat.iter().zip(constraints).enumerate() {
        if c == Constraint::Zero as u32 {
            assert_eq!(w, 0.0, "{what}: autapse {e} is active");
        }
        if let Some(s) = rewired_sign(c) {
            if w != 0.0 {
                active += 1;
                assert!(
                    s * w > 0.0,
                    "{what}: weight {e} = {w} has lost its sign {s}"
                );
            }
        }
    }
    assert_eq!(active, d.budget, "{what}: active connections");
}

fn engines(
    ctx: &lsnn_gpu::gpu::GpuContext,
    cfg: &Config,
) -> (Initialised, CpuEngine, GpuEngine, SyntheticTask) {
    let task = SyntheticTask::from_config(&cfg.task_run());
    let init = initialise(&cfg.init_settings(), task.n_in, task.n_out);
    let d = init.rewiring.clone().expect("rewiring config");
    let mut cpu = CpuEngine::new(init.network.clone(), init.constraints.clone());
    let mut gpu = GpuEngine::new(
        ctx.clone(),
        init.network.clone(),
        &init.constraints,
        None,
        16,
    )
    .expect("GPU engine");
    cpu.set_rewiring(d.clone()).unwrap();
    gpu.set_rewiring(d).unwrap();
    (init, cpu, gpu, task)
}

#[test]
fn gpu_rewiring_matches_reference_and_keeps_the_budget() {
    let Some((ctx, _guard)) = require_gpu!() else {
        return;
    };
    rewiring_matches_reference(&|init: &Initialised| {
        Box::new(
            GpuEngine::new(
                ctx.clone(),
                init.network.clone(),
                &init.constraints,
                None,
                16,
            )
            .expect("GPU engine"),
        )
    });
}

#[test]
fn native_rewiring_matches_reference_and_keeps_the_budget() {
    rewiring_matches_reference(&|init: &Initialised| {
        Box::new(NativeEngine::new(
            init.network.clone(),
            init.constraints.clone(),
        ))
    });
}

/// Six DEEP R iterations on the reference and on the engine `make` builds: the same masks
/// exactly, magnitudes within the rounding of the gradients, the same rewiring statistics,
/// and the invariants on both.
fn rewiring_matches_reference(make: &dyn Fn(&Initialised) -> Box<dyn Engine>) {
    // Dale's law without noise (the paper's sMNIST setting), and random signs with Langevin
    // noise. A large learning rate and L1 make many connections disconnect and be replaced.
    // (and, last, Dale's law with gradients of active connections only: the sparse BPTT
    // accumulation).
    for (dale, temperature, dense) in [(true, 0.0, true), (false, 1e-4, true), (true, 0.0, false)] {
        let cfg = config_with(dale, 0.15, 0.05, temperature, dense);
        let task = SyntheticTask::from_config(&cfg.task_run());
        let init = initialise(&cfg.init_settings(), task.n_in, task.n_out);
        let mut cpu = CpuEngine::new(init.network.clone(), init.constraints.clone());
        let mut gpu = make(&init);
        let name = gpu.describe();
        cpu.set_rewiring(init.rewiring.clone().unwrap()).unwrap();
        gpu.set_rewiring(init.rewiring.clone().unwrap()).unwrap();
        let d = init.rewiring.clone().unwrap();
        let what = format!("dale {dale}, T {temperature}, dense gradients {dense}");
        check_invariants(&init.network.params.to_flat(), &init.constraints, &d, &what);
        let lr = 0.05;
        let mut rewired = 0;
        for step in 1..=6u32 {
            let batch = task.batch(step as u64, BATCH);
            cpu.train_step(&batch, &adam_settings(step, lr)).unwrap();
            gpu.train_step(&batch, &adam_settings(step, lr)).unwrap();
            let wc = cpu.network().unwrap().params.to_flat();
            let wg = gpu.network().unwrap().params.to_flat();
            let what = format!("{what}, iteration {step}");
            check_invariants(&wc, &init.constraints, &d, &format!("CPU {what}"));
            check_invariants(&wg, &init.constraints, &d, &format!("{name} {what}"));
            // Same masks exactly (the refill's Philox draws are integer-exact on both), same
            // magnitudes up to the rounding of the gradients: Adam moves a weight by at most
            // lr per step, the two engines agree to 1e-3 of that.
            for (e, (a, b)) in wc.iter().zip(&wg).enumerate() {
                assert_eq!(
                    *a != 0.0,
                    *b != 0.0,
                    "{what}: mask differs at {e}: CPU {a} {name} {b}"
                );
                assert!(
                    (a - b).abs() <= 1e-3 * lr * step as f32,
                    "{what}: weight {e}: CPU {a} {name} {b}"
                );
            }
            let (sc, sg) = (cpu.rewire_stats().unwrap(), gpu.rewire_stats().unwrap());
            assert_eq!(sc, sg, "{what}: rewiring statistics");
            rewired += sc.rewired;
        }
        assert!(rewired > 0, "{what}: no connection was rewired");
        eprintln!("{what}: {rewired} connections rewired in 6 iterations");
    }
}

#[test]
fn without_shrinkage_noise_or_sign_flips_rewiring_changes_nothing() {
    let Some((ctx, _guard)) = require_gpu!() else {
        return;
    };
    let cfg = config(true, 0.2, 0.0, 0.0);
    let (init, mut cpu, mut gpu, task) = engines(&ctx, &cfg);
    // The same network trained without DEEP R (the rewired codes then only clamp signs).
    let mut plain = GpuEngine::new(
        ctx.clone(),
        init.network.clone(),
        &init.constraints,
        None,
        16,
    )
    .unwrap();
    // A learning rate far below every |θ|: no active weight can cross zero in one step.
    let lr = 1e-7;
    let batch = task.batch(1, BATCH);
    for engine in [&mut gpu as &mut dyn Engine, &mut cpu, &mut plain] {
        engine.train_step(&batch, &adam_settings(1, lr)).unwrap();
    }
    assert_eq!(gpu.rewire_stats().unwrap().rewired, 0);
    assert_eq!(cpu.rewire_stats().unwrap().rewired, 0);
    let (wr, wp) = (
        gpu.network().unwrap().params.to_flat(),
        plain.network().unwrap().params.to_flat(),
    );
    assert_eq!(
        wr, wp,
        "rewiring with l1 = 0, T = 0 and no flips changed weights"
    );
}

#[test]
fn gpu_row_lists_match_reference() {
    let Some((ctx, _guard)) = require_gpu!() else {
        return;
    };
    let cfg = config(true, 0.15, 0.05, 0.0);
    let (_, _, mut gpu, task) = engines(&ctx, &cfg);
    // The lists are built before each backward sweep: after two steps they describe the
    // weights of step 1 (the sweep of step 2 ran on them).
    gpu.train_step(&task.batch(1, BATCH), &adam_settings(1, 0.05))
        .unwrap();
    let net = gpu.network().unwrap();
    gpu.train_step(&task.batch(2, BATCH), &adam_settings(2, 0.05))
        .unwrap();
    let (rec, input) = gpu.row_lists().unwrap();
    let n = net.n_rec();
    for (what, (lists, counts), (w, delay)) in [
        ("W_rec", rec, (&net.params.w_rec, &net.delay_rec)),
        ("W_in", input, (&net.params.w_in, &net.delay_in)),
    ] {
        let (ref_lists, ref_counts) = sparse_rows(w, delay);
        assert_eq!(counts, ref_counts, "{what}");
        for (k, &c) in counts.iter().enumerate() {
            let c = c as usize;
            assert_eq!(
                lists[k * n..k * n + c],
                ref_lists[k * n..k * n + c],
                "{what} row {k}"
            );
        }
        let listed: u32 = counts.iter().sum();
        assert!(
            listed > 0 && (listed as usize) < w.len() / 2,
            "{what}: {listed} entries listed"
        );
    }
}
