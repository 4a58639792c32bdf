//! `lsnn-gpu bench`: one training iteration (forward, BPTT, Adam) timed on the GPU adapter,
//! the native engine and the CPU reference in the same run; on the GPU, also each kernel's
//! time from timestamp queries where the adapter has them (`gpu::timing`).

use std::time::Instant;

use serde_json::json;

use crate::config::{AdamConfig, Config};
use crate::device::{build_engine, Selected};
use crate::engine::{Engine, StepSettings};
use crate::gpu::timing::KernelTimingReport;
use crate::gpu::GpuEngine;
use crate::model::init::initialise;
use crate::tasks::synthetic::SyntheticTask;

/// One measured configuration.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BenchResult {
    pub device: String,
    pub adapter: String,
    pub backend: String,
    pub batch: usize,
    pub steps: usize,
    pub neurons: usize,
    pub ms_per_iter: f64,
    pub neuron_steps_per_s: f64,
    pub iterations_timed: usize,
    pub workgroup_size: Option<u32>,
    /// DEEP R connectivity p (None: dense, no rewiring).
    pub connectivity: Option<f32>,
    /// Mean firing rate of the network over the timed iterations (Hz): the event-driven
    /// kernels' work grows with it, so sparse and dense lines compare only beside it.
    pub rate_hz: f64,
    /// GPU engine only: each kernel's time per iteration from timestamp queries
    /// (`kernel_ms`, `gpu_iteration_ms`, …), or why there is none (`kernel_timing`).
    #[serde(flatten)]
    pub kernel_timing: Option<KernelTimingReport>,
}

fn time_engine(
    engine: &mut dyn Engine,
    task: &SyntheticTask,
    batch: usize,
    warmup: usize,
    iters: usize,
) -> anyhow::Result<(f64, f64)> {
    let mut step = 0u32;
    let mut run = |engine: &mut dyn Engine, i: u64| -> anyhow::Result<f64> {
        step += 1;
        let b = task.batch(i, batch);
        let s = StepSettings::adam(&AdamConfig::default(), 1e-3, step, step);
        let stats = engine.train_step(&b, &s)?;
        anyhow::ensure!(
            stats.loss.is_finite(),
            "non-finite loss during the benchmark"
        );
        Ok(stats.mean_rate_hz())
    };
    for i in 0..warmup {
        run(engine, i as u64)?;
    }
    let start = Instant::now();
    let mut rate_sum = 0.0;
    for i in 0..iters {
        rate_sum += run(engine, (warmup + i) as u64)?;
    }
    let n = iters.max(1) as f64;
    Ok((start.elapsed().as_secs_f64() * 1000.0 / n, rate_sum / n))
}

/// Times each kernel of `iters` (at least one) more training iterations on the GPU engine with
/// timestamp queries, after the iterations timed without them; prints a table to stderr. Where
/// the device has no `TIMESTAMP_QUERY` the report says so.
fn kernel_timing(
    engine: &mut GpuEngine,
    task: &SyntheticTask,
    batch: usize,
    iters: usize,
) -> anyhow::Result<KernelTimingReport> {
    if let Err(why) = engine.enable_kernel_timing() {
        crate::stderr::line!("  kernel timing: {why}");
        return Ok(KernelTimingReport::unsupported(why));
    }
    let period = f64::from(engine.context().queue.get_timestamp_period());
    let (wall_ms, _) = time_engine(engine, task, batch, 0, iters.max(1))?;
    let times = engine.disable_kernel_timing().unwrap_or_default();
    crate::stderr::line!(
        "  kernel timing (timestamp queries; {wall_ms:.1} ms/iteration on the host clock while timed):\n{}",
        times.table()
    );
    Ok(KernelTimingReport::measured(&times, wall_ms, period))
}

/// Measures every batch size and connectivity on the selected GPU (if any), on the native
/// engine (`native_iters` = 0 skips it) and on the CPU reference (`cpu_iters` = 0 skips it). A connectivity p < 1 trains with DEEP R at p (the
/// config's l1 and temperature, else the defaults); 1 is the dense network without
/// rewiring; an empty list measures the config as it is. Prints a table to stderr and
/// returns the results.
pub fn run_bench(
    cfg: &Config,
    selected: &Selected,
    batches: &[usize],
    connectivities: &[f32],
    iters: usize,
    native_iters: usize,
    cpu_iters: usize,
) -> anyhow::Result<Vec<BenchResult>> {
    let mut results = Vec::new();
    let variants: Vec<Option<f32>> = if connectivities.is_empty() {
        vec![cfg.rewiring.as_ref().map(|r| r.connectivity)]
    } else {
        connectivities
            .iter()
            .map(|&p| (p < 1.0).then_some(p))
            .collect()
    };
    for (&batch, &connectivity) in batches
        .iter()
        .flat_map(|b| variants.iter().map(move |c| (b, c)))
    {
        let mut cfg = cfg.clone();
        cfg.train.batch_size = batch;
        cfg.rewiring = connectivity.map(|p| crate::config::RewiringConfig {
            connectivity: p,
            ..cfg.rewiring.clone().unwrap_or_default()
        });
        cfg.validate()
            .map_err(|(field, msg)| anyhow::anyhow!("bench: {field} {msg}"))?;
        let task = SyntheticTask::from_config(&cfg.task_run());
        let init = initialise(&cfg.init_settings(), task.n_in, task.n_out);
        let n = init.network.n_rec();
        let steps = task.steps;
        let mut measure = |device: &str,
                           adapter: String,
                           backend: String,
                           engine: &mut dyn Engine,
                           warmup: usize,
                           iters: usize,
                           wg: Option<u32>|
         -> anyhow::Result<()> {
            let sparsity = connectivity.map_or("dense".to_string(), |p| format!("DEEP R p = {p}"));
            crate::stderr::line!("bench: {device} ({adapter}), batch {batch}, {steps} steps, {n} neurons, {sparsity}, {iters} iterations...");
            let (ms, rate_hz) = time_engine(engine, &task, batch, warmup, iters)?;
            let r = BenchResult {
                device: device.to_string(),
                adapter,
                backend,
                batch,
                steps,
                neurons: n,
                ms_per_iter: ms,
                neuron_steps_per_s: (batch * steps * n) as f64 / (ms / 1000.0),
                iterations_timed: iters,
                workgroup_size: wg,
                connectivity,
                rate_hz,
                kernel_timing: None,
            };
            crate::stderr::line!(
                "  {:.1} ms/iteration, {:.3e} neuron-steps/s, firing rate {:.1} Hz",
                r.ms_per_iter,
                r.neuron_steps_per_s,
                r.rate_hz
            );
            results.push(r);
            Ok(())
        };
        let mut gpu_timing = None;
        if let Selected::Gpu(ctx) = selected {
            let mut engine = GpuEngine::new(
                (**ctx).clone(),
                init.network.clone(),
                &init.constraints,
                cfg.device.workgroup_size,
                cfg.device.chunk_steps,
            )?;
            if let Some(d) = init.rewiring.clone() {
                engine.set_rewiring(d)?;
            }
            let wg = Some(engine.workgroup_size());
            measure(
                "gpu",
                ctx.info.name.clone(),
                ctx.backend_name(),
                &mut engine,
                1,
                iters,
                wg,
            )?;
            gpu_timing = Some(kernel_timing(&mut engine, &task, batch, iters)?);
        }
        // The host engines: the native engine (after a warm-up) and the reference.
        for (selected, warmup, iters) in [
            (Selected::Native, 1, native_iters),
            (Selected::Cpu, 0, cpu_iters),
        ] {
            if iters == 0 {
                continue;
            }
            let mut engine = build_engine(
                &selected,
                init.network.clone(),
                &init.constraints,
                &cfg.device,
            )?;
            if let Some(d) = init.rewiring.clone() {
                engine.set_rewiring(d)?;
            }
            measure(
                selected.device_label(),
                engine.describe(),
                selected.backend(),
                engine.as_mut(),
                warmup,
                iters,
                None,
            )?;
        }
        if let Some(t) = gpu_timing {
            if let Some(r) = results.iter_mut().rev().find(|r| r.device == "gpu") {
                r.kernel_timing = Some(t);
            }
        }
    }
    // Ratios within this run: each engine against the CPU reference, the GPU against the
    // native engine, and sparse vs dense on each device.
    let same =
        |a: &BenchResult, b: &BenchResult| a.batch == b.batch && a.connectivity == b.connectivity;
    for fast in results.iter().filter(|r| r.device != "cpu") {
        if let Some(c) = results.iter().find(|r| r.device == "cpu" && same(r, fast)) {
            crate::stderr::line!(
                "batch {}, {:?}: {} ({}) is {:.1}x the CPU reference",
                fast.batch,
                fast.connectivity,
                fast.device,
                fast.adapter,
                c.ms_per_iter / fast.ms_per_iter
            );
        }
    }
    for g in results.iter().filter(|r| r.device == "gpu") {
        if let Some(n) = results.iter().find(|r| r.device == "native" && same(r, g)) {
            crate::stderr::line!(
                "batch {}, {:?}: GPU ({}) is {:.2}x the native engine",
                g.batch,
                g.connectivity,
                g.adapter,
                n.ms_per_iter / g.ms_per_iter
            );
        }
    }
    for s in results.iter().filter(|r| r.connectivity.is_some()) {
        if let Some(d) = results
            .iter()
            .find(|r| r.device == s.device && r.batch == s.batch && r.connectivity.is_none())
        {
            crate::stderr::line!(
                "batch {}, {}: DEEP R at p = {} is {:.2}x faster than dense",
                s.batch,
                s.device,
                s.connectivity.unwrap_or(1.0),
                d.ms_per_iter / s.ms_per_iter
            );
        }
    }
    Ok(results)
}

pub fn to_json(r: &BenchResult) -> serde_json::Value {
    json!(r)
}
