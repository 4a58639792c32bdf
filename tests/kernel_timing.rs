//! Per-kernel GPU timing (`GpuEngine::enable_kernel_timing`, `lsnn-gpu bench`): every kernel
//! of a training iteration gets a non-negative time that adds up to at most the iteration,
//! timing changes no result, and a device without `TIMESTAMP_QUERY` says so.

mod common;

use std::time::Instant;

use common::adam_settings;
use lsnn_gpu::bench::{run_bench, to_json};
use lsnn_gpu::config::{Config, RewiringConfig, TaskKind};
use lsnn_gpu::device::Selected;
use lsnn_gpu::engine::Engine;
use lsnn_gpu::gpu::{DeviceRequest, GpuContext, GpuEngine};
use lsnn_gpu::model::init::{initialise, Initialised};
use lsnn_gpu::tasks::synthetic::SyntheticTask;

const BATCH: usize = 3;

/// A small synthetic task with DEEP R at 30 % (so every kernel, the refill included, runs).
fn config() -> Config {
    let mut c = Config::default();
    c.task.kind = TaskKind::Synthetic;
    c.task.steps = 40;
    c.task.input_rate = 0.1;
    c.model.n_in = Some(12);
    c.model.n_out = Some(3);
    c.model.n_regular = 20;
    c.model.n_adaptive = 10;
    c.model.n_delay = 3;
    c.train.batch_size = BATCH;
    c.rewiring = Some(RewiringConfig {
        connectivity: 0.3,
        ..RewiringConfig::default()
    });
    c
}

fn engine(ctx: GpuContext, init: &Initialised) -> GpuEngine {
    let mut e = GpuEngine::new(ctx, init.network.clone(), &init.constraints, None, 16).unwrap();
    e.set_rewiring(init.rewiring.clone().unwrap()).unwrap();
    e
}

#[test]
fn every_kernel_gets_a_time_and_timing_changes_no_result() {
    let Some((ctx, _guard)) = require_gpu!() else {
        return;
    };
    let cfg = config();
    let task = SyntheticTask::from_config(&cfg.task_run());
    let init = initialise(&cfg.init_settings(), task.n_in, task.n_out);
    let mut timed = engine(ctx.clone(), &init);
    let mut plain = engine(ctx.clone(), &init);
    if let Err(why) = timed.enable_kernel_timing() {
        // The adapter offers no timestamps: the engine says so and trains as before.
        assert!(
            !ctx.device
                .features()
                .contains(wgpu::Features::TIMESTAMP_QUERY),
            "{why}"
        );
        assert_eq!(
            why,
            format!("TIMESTAMP_QUERY not supported by {}", ctx.info.name)
        );
        assert!(timed.kernel_times().is_none());
        eprintln!("skipped the timed part: {why}");
        return;
    }
    assert_eq!(timed.kernel_times().unwrap().iterations(), 0);
    let mut wall_ms = 0.0;
    for step in 1..=3u32 {
        let b = task.batch(u64::from(step), BATCH);
        let s = adam_settings(step, 1e-2);
        let start = Instant::now();
        let a = timed.train_step(&b, &s).unwrap();
        wall_ms += start.elapsed().as_secs_f64() * 1e3;
        let p = plain.train_step(&b, &s).unwrap();
        assert_eq!(a.loss.to_bits(), p.loss.to_bits(), "step {step}: loss");
        assert_eq!(timed.rewire_stats(), plain.rewire_stats(), "step {step}");
    }
    // Only training iterations are timed.
    let b = task.batch(9, BATCH);
    timed.evaluate(&b, 0).unwrap();
    timed.gradients(&b, 0).unwrap();
    let (a, p) = (timed.network().unwrap(), plain.network().unwrap());
    assert_eq!(
        a.params.to_flat(),
        p.params.to_flat(),
        "timing changed the trained parameters"
    );
    let times = timed.kernel_times().unwrap().clone();
    eprintln!("{}", times.table());
    assert_eq!(times.iterations(), 3);
    assert_eq!(times.invalid(), 0, "out-of-order timestamps");
    let kernels = times.mean_kernel_ms();
    let names: Vec<&str> = kernels.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        names,
        [
            "alif_forward",
            "readout_loss",
            "loss_reduce",
            "sparse_rows",
            "alif_backward",
            "batch_reduce",
            "adam",
            "deep_r_refill"
        ]
    );
    for (k, t) in &kernels {
        assert!(t.is_finite() && *t >= 0.0, "{k}: {t} ms");
    }
    let iteration = times.mean_iteration_ms();
    assert!(
        times.kernel_sum_ms() <= iteration * (1.0 + 1e-9),
        "kernels {} ms > iteration {iteration} ms",
        times.kernel_sum_ms()
    );
    // The GPU's iteration fits in the host's (the clocks may differ by rounding only).
    assert!(
        iteration > 0.0 && iteration <= wall_ms / 3.0 * 1.01 + 0.1,
        "GPU iteration {iteration} ms, wall {} ms",
        wall_ms / 3.0
    );
    let off = timed.disable_kernel_timing().unwrap();
    assert_eq!(off, times);
    assert!(timed.kernel_times().is_none());
}

/// A device opened without `TIMESTAMP_QUERY` (as on an adapter that lacks it): the engine
/// refuses timing with the reason, still trains, and `bench` reports null with the reason.
#[test]
fn without_timestamps_timing_says_why_and_bench_reports_null() {
    let Some((shared, _guard)) = require_gpu!() else {
        return;
    };
    let request = DeviceRequest {
        backend: None,
        adapter: Some(shared.info.name.clone()),
    };
    let ctx = GpuContext::open_with_features(&request, wgpu::Features::empty()).unwrap();
    assert!(!ctx
        .device
        .features()
        .contains(wgpu::Features::TIMESTAMP_QUERY));
    let cfg = config();
    let task = SyntheticTask::from_config(&cfg.task_run());
    let init = initialise(&cfg.init_settings(), task.n_in, task.n_out);
    let mut e = engine(ctx.clone(), &init);
    let why = e.enable_kernel_timing().unwrap_err();
    assert_eq!(
        why,
        format!("TIMESTAMP_QUERY not supported by {}", ctx.info.name)
    );
    assert!(e.kernel_times().is_none());
    let stats = e
        .train_step(&task.batch(0, BATCH), &adam_settings(1, 1e-2))
        .unwrap();
    assert!(stats.loss.is_finite());

    let bench = |ctx: GpuContext| {
        let results = run_bench(&cfg, &Selected::Gpu(Box::new(ctx)), &[2], &[], 1, 0, 0).unwrap();
        assert_eq!(results.len(), 1);
        to_json(&results[0])
    };
    let line = bench(ctx.clone());
    assert!(line["kernel_ms"].is_null(), "{line}");
    assert!(line["gpu_iteration_ms"].is_null(), "{line}");
    assert_eq!(
        line["kernel_timing"],
        format!("TIMESTAMP_QUERY not supported by {}", ctx.info.name)
    );
    // The shared device (opened as usual) reports times where the adapter offers them.
    let line = bench(shared.clone());
    if shared
        .device
        .features()
        .contains(wgpu::Features::TIMESTAMP_QUERY)
    {
        let kernels = line["kernel_ms"].as_object().expect("kernel_ms");
        assert!(kernels.contains_key("alif_forward") && kernels.contains_key("deep_r_refill"));
        let sum: f64 = kernels.values().map(|v| v.as_f64().unwrap()).sum();
        let iteration = line["gpu_iteration_ms"].as_f64().unwrap();
        let wall = line["kernel_timing_wall_ms"].as_f64().unwrap();
        assert!(
            sum <= iteration * (1.0 + 1e-9) && iteration <= wall * 1.01 + 0.1,
            "{line}"
        );
    } else {
        assert!(line["kernel_ms"].is_null(), "{line}");
    }
}
