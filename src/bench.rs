//! `lsnn-gpu bench`: one training iteration (forward, BPTT, Adam) timed on the GPU adapter
//! and on the CPU reference in the same run.

use std::time::Instant;

use serde_json::json;

use crate::config::Config;
use crate::cpu::CpuEngine;
use crate::device::Selected;
use crate::engine::{Engine, StepSettings};
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
}

fn time_engine(
    engine: &mut dyn Engine,
    task: &SyntheticTask,
    batch: usize,
    warmup: usize,
    iters: usize,
) -> anyhow::Result<f64> {
    let mut step = 0u32;
    let mut run = |engine: &mut dyn Engine, i: u64| -> anyhow::Result<()> {
        step += 1;
        let b = task.batch(i, batch);
        let s = StepSettings {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            step,
            noise_seed: step,
        };
        let stats = engine.train_step(&b, &s)?;
        anyhow::ensure!(
            stats.loss.is_finite(),
            "non-finite loss during the benchmark"
        );
        Ok(())
    };
    for i in 0..warmup {
        run(engine, i as u64)?;
    }
    let start = Instant::now();
    for i in 0..iters {
        run(engine, (warmup + i) as u64)?;
    }
    Ok(start.elapsed().as_secs_f64() * 1000.0 / iters.max(1) as f64)
}

/// Measures every batch size on the selected GPU (if any) and on the CPU reference
/// (`cpu_iters` = 0 skips it). Prints a table to stderr and returns the results.
pub fn run_bench(
    cfg: &Config,
    selected: &Selected,
    batches: &[usize],
    iters: usize,
    cpu_iters: usize,
) -> anyhow::Result<Vec<BenchResult>> {
    let mut results = Vec::new();
    for &batch in batches {
        let mut cfg = cfg.clone();
        cfg.train.batch_size = batch;
        let task = SyntheticTask::from_config(&cfg);
        let init = initialise(&cfg, task.n_in, task.n_out);
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
            eprintln!("bench: {device} ({adapter}), batch {batch}, {steps} steps, {n} neurons, {iters} iterations...");
            let ms = time_engine(engine, &task, batch, warmup, iters)?;
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
            };
            eprintln!(
                "  {:.1} ms/iteration, {:.3e} neuron-steps/s",
                r.ms_per_iter, r.neuron_steps_per_s
            );
            results.push(r);
            Ok(())
        };
        if let Selected::Gpu(ctx) = selected {
            let mut engine = GpuEngine::new(
                (**ctx).clone(),
                init.network.clone(),
                &init.constraints,
                cfg.device.workgroup_size,
                cfg.device.chunk_steps,
            )?;
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
        }
        if cpu_iters > 0 {
            let mut engine = CpuEngine::new(init.network.clone(), init.constraints.clone());
            measure(
                "cpu",
                "cpu reference".into(),
                "cpu".into(),
                &mut engine,
                0,
                cpu_iters,
                None,
            )?;
        }
    }
    // Ratios within this run.
    for g in results.iter().filter(|r| r.device == "gpu") {
        if let Some(c) = results
            .iter()
            .find(|r| r.device == "cpu" && r.batch == g.batch)
        {
            eprintln!(
                "batch {}: GPU ({}) is {:.1}x the CPU reference",
                g.batch,
                g.adapter,
                c.ms_per_iter / g.ms_per_iter
            );
        }
    }
    Ok(results)
}

pub fn to_json(r: &BenchResult) -> serde_json::Value {
    json!(r)
}
