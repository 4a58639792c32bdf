//! Splits one GPU training iteration at the benchmark size into its parts by timing
//! evaluate (forward + readout + loss), gradients (+ BPTT) and train_step (+ Adam), then
//! each kernel on its own (profiling mode).
//! `cargo run --release --example sweep_times -- [batch] [workgroup_size|auto] [connectivity] [sparse]`
//! (connectivity < 1: DEEP R at that p; `sparse`: with `dense_gradients: false`). Prints the
//! mean firing rate too: the event-driven kernels' work grows with the number of spikes, so
//! two networks are only comparable at similar rates.
use std::time::Instant;

use lsnn_gpu::config::{AdamConfig, Config};
use lsnn_gpu::engine::{Engine, StepSettings};
use lsnn_gpu::gpu::{DeviceRequest, GpuContext, GpuEngine};
use lsnn_gpu::model::init::initialise;
use lsnn_gpu::tasks::synthetic::SyntheticTask;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let batch: usize = args.get(1).map_or(Ok(16), |s| s.parse())?;
    let wg: Option<u32> = args
        .get(2)
        .filter(|s| *s != "auto")
        .map(|s| s.parse())
        .transpose()?;
    let connectivity: Option<f32> = args.get(3).map(|s| s.parse()).transpose()?;
    let sparse_gradients = args.get(4).is_some_and(|s| s == "sparse");
    let mut cfg = Config::load(std::path::Path::new("configs/bench_smnist_size.yaml"), &[])?;
    cfg.train.batch_size = batch;
    cfg.rewiring = connectivity
        .filter(|&p| p < 1.0)
        .map(|p| lsnn_gpu::config::RewiringConfig {
            connectivity: p,
            dense_gradients: !sparse_gradients,
            ..Default::default()
        });
    let task = SyntheticTask::from_config(&cfg.task_run());
    let init = initialise(&cfg.init_settings(), task.n_in, task.n_out);
    let ctx = GpuContext::open(&DeviceRequest::default())?;
    // Pipeline creation plus the first step: on llvmpipe's GL path this is dominated by
    // shader compilation (set MESA_SHADER_CACHE_DISABLE=true to measure it cold).
    let setup = Instant::now();
    let mut e = GpuEngine::new(
        ctx,
        init.network,
        &init.constraints,
        wg,
        cfg.device.chunk_steps,
    )?;
    if let Some(d) = init.rewiring.clone() {
        e.set_rewiring(d)?;
    }
    let b = task.batch(0, batch);
    let s = StepSettings::adam(&AdamConfig::default(), 1e-3, 1, 1);
    e.train_step(&b, &s)?; // warm-up: pipelines, buffers
    let setup_ms = setup.elapsed().as_secs_f64() * 1e3;
    eprintln!("setup (compile + first step) {setup_ms:.0} ms");
    let time = |f: &mut dyn FnMut() -> anyhow::Result<()>| -> anyhow::Result<f64> {
        let t = Instant::now();
        f()?;
        Ok(t.elapsed().as_secs_f64() * 1e3)
    };
    let mut rate_hz = 0.0;
    let fwd = time(&mut || {
        let stats = e.evaluate(&b, 1)?;
        rate_hz = stats.rates.iter().sum::<f32>() / stats.rates.len() as f32 * 1000.0;
        Ok(())
    })?;
    let grad = time(&mut || e.gradients(&b, 1).map(|_| ()))?;
    let step = time(&mut || e.train_step(&b, &s).map(|_| ()))?;
    e.enable_profiling();
    e.train_step(&b, &s)?;
    let profile = e.profile().cloned().unwrap_or_default();
    for (k, ms) in &profile {
        eprintln!("  {k:14} {ms:8.1} ms");
    }
    eprintln!(
        "{}: batch {batch}, workgroup {}",
        e.describe(),
        e.workgroup_size()
    );
    eprintln!("mean firing rate {rate_hz:.1} Hz");
    eprintln!("forward+loss {fwd:.0} ms, +BPTT {grad:.0} ms (incl. read-back of spikes), full step {step:.0} ms");
    println!(
        "{}",
        serde_json::json!({"batch": batch, "connectivity": connectivity, "sparse_gradients": sparse_gradients, "rate_hz": rate_hz, "setup_ms": setup_ms, "forward_ms": fwd, "gradients_ms": grad, "step_ms": step, "kernels_ms": profile})
    );
    Ok(())
}
