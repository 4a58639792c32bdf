//! Holds a freshly built engine to a persistent engine's training trajectory, one Adam step at
//! a time: at every iteration a new engine (`--device`, default gpu) starts from the
//! persistent engine's weights and Adam moments (`--persistent`, default native) and both take
//! the same step on the same batch of an sMNIST config; the two updates are compared. The
//! tests compare engines on small random cases; this compares them on a real run's trajectory,
//! where a difference that grows with training (or a bias in one direction) would show. With
//! the same device on both sides it finds state that an engine carries from one call to the
//! next (the updates must then be bit-identical); `--eval-every N` adds the trainer's
//! validation pass on the persistent engine every N iterations; `--from N` compares only from
//! iteration N on (the persistent engine trains alone before).
//!
//! `cargo run --release --example lockstep_training -- CONFIG ITERATIONS [--device gpu|cpu|native] [--persistent gpu|cpu|native] [--eval-every N] [--from N] [--every N] [--set KEY=VALUE ...]`
//!
//! Per iteration (on stderr, every `--every` iterations): the relative size of the
//! difference of the updates ‖Δother − Δnative‖ / ‖Δnative‖, the relative component of the
//! difference along the native update (Δother − Δnative)·Δnative / ‖Δnative‖² (a systematic
//! lengthening or shortening of the steps shows here), the fraction of parameters whose update
//! has the opposite sign, and the two losses. Ends with one JSON line of the means.
use anyhow::{bail, Context};
use lsnn_gpu::config::{Config, DeviceKind};
use lsnn_gpu::device::{build_engine, select};
use lsnn_gpu::engine::StepSettings;
use lsnn_gpu::model::init::initialise;
use lsnn_gpu::tasks::smnist::SmnistTask;
use lsnn_gpu::tasks::BatchSource;
use lsnn_gpu::train::trainer::noise_seed;
use serde_json::json;

struct Args {
    config: String,
    iterations: usize,
    device: DeviceKind,
    persistent: DeviceKind,
    eval_every: usize,
    from: usize,
    every: usize,
    sets: Vec<String>,
}

fn device_kind(name: Option<String>) -> anyhow::Result<DeviceKind> {
    Ok(match name.as_deref() {
        Some("gpu") => DeviceKind::Gpu,
        Some("cpu") => DeviceKind::Cpu,
        Some("native") => DeviceKind::Native,
        other => bail!("--device/--persistent gpu|cpu|native, not {other:?}"),
    })
}

fn parse_args() -> anyhow::Result<Args> {
    let mut it = std::env::args().skip(1);
    let mut positional = Vec::new();
    let mut args = Args {
        config: String::new(),
        iterations: 0,
        device: DeviceKind::Gpu,
        persistent: DeviceKind::Native,
        eval_every: 0,
        from: 0,
        every: 10,
        sets: Vec::new(),
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--device" => args.device = device_kind(it.next())?,
            "--persistent" => args.persistent = device_kind(it.next())?,
            "--eval-every" => args.eval_every = it.next().context("--eval-every N")?.parse()?,
            "--from" => args.from = it.next().context("--from N")?.parse()?,
            "--every" => args.every = it.next().context("--every N")?.parse()?,
            "--set" => args.sets.push(it.next().context("--set KEY=VALUE")?),
            _ => positional.push(a),
        }
    }
    let [config, iterations] = positional.as_slice() else {
        bail!("usage: lockstep_training CONFIG ITERATIONS [--device gpu|cpu] [--every N] [--set KEY=VALUE ...]");
    };
    args.config = config.clone();
    args.iterations = iterations.parse().context("ITERATIONS")?;
    Ok(args)
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let cfg = Config::load(std::path::Path::new(&args.config), &args.sets)?;
    let mut source = SmnistTask::from_config(&cfg.task_run())?;
    let init = initialise(&cfg.init_settings(), source.n_in(), source.n_out());
    let persistent_device = select(
        args.persistent,
        cfg.device.backend,
        cfg.device.adapter.clone(),
    )?;
    let mut native = build_engine(
        &persistent_device,
        init.network.clone(),
        &init.constraints,
        &cfg.device,
    )?;
    let other_device = select(args.device, cfg.device.backend, cfg.device.adapter.clone())?;
    let (mut sum_rel, mut sum_along, mut sum_flip) = (0.0f64, 0.0f64, 0.0f64);
    let (mut max_block, mut max_moment) = ([0.0f64; 4], 0.0f64);
    for it in 0..args.iterations {
        let batch = source.train_batch(it)?;
        let t = &cfg.train;
        let settings = StepSettings::adam(
            &t.adam,
            t.learning_rate_at(it),
            it as u32 + 1,
            noise_seed(t.seed, it),
        );
        if args.eval_every > 0 && it > 0 && it % args.eval_every == 0 {
            // What the trainer does between steps: a validation pass on the persistent engine.
            let val = source.eval_batch(lsnn_gpu::tasks::Split::Validation, 0)?;
            native.evaluate(&val, 0)?;
        }
        if it < args.from {
            native.train_step(&batch, &settings)?;
            continue;
        }
        let before = native.network()?;
        let (m, v) = native.adam_moments()?;
        let stats_native = native.train_step(&batch, &settings)?;
        let after_native = native.network()?.params.to_flat();
        let mut other = build_engine(
            &other_device,
            before.clone(),
            &init.constraints,
            &cfg.device,
        )?;
        other.set_adam_moments(&m, &v)?;
        let stats_other = other.train_step(&batch, &settings)?;
        let after_other = other.network()?.params.to_flat();
        let w0 = before.params.to_flat();
        let (mut diff2, mut norm2, mut along, mut flips, mut moved) = (0.0, 0.0, 0.0, 0, 0);
        for ((w, a), b) in w0.iter().zip(&after_native).zip(&after_other) {
            let dn = f64::from(a - w);
            let dg = f64::from(b - w);
            diff2 += (dg - dn) * (dg - dn);
            norm2 += dn * dn;
            along += (dg - dn) * dn;
            if dn != 0.0 || dg != 0.0 {
                moved += 1;
                if dn * dg < 0.0 {
                    flips += 1;
                }
            }
        }
        let rel = (diff2 / norm2).sqrt();
        // Per block: the largest difference of one parameter's update relative to the size
        // of that block's largest native update (a small block that differs a lot would hide
        // in the global norm), and the Adam moments the two engines stored after the step
        // (the steps can agree while what is carried to the next step differs).
        let layout = before.params.layout();
        let block_max = layout.blocks().map(|block| {
            let r = block.range();
            let scale = r
                .clone()
                .map(|e| (after_native[e] - w0[e]).abs())
                .fold(0.0f32, f32::max);
            let worst = r
                .map(|e| ((after_other[e] - w0[e]) - (after_native[e] - w0[e])).abs())
                .fold(0.0f32, f32::max);
            worst / scale.max(f32::MIN_POSITIVE)
        });
        let (m_native, v_native) = native.adam_moments()?;
        let (m_other, v_other) = other.adam_moments()?;
        let moment_rel = |a: &[f32], b: &[f32]| {
            let (mut d, mut n) = (0.0f64, 0.0f64);
            for (x, y) in a.iter().zip(b) {
                d += f64::from(x - y).powi(2);
                n += f64::from(*x).powi(2);
            }
            (d / n.max(f64::MIN_POSITIVE)).sqrt()
        };
        let (m_rel, v_rel) = (
            moment_rel(&m_native, &m_other),
            moment_rel(&v_native, &v_other),
        );
        for (worst, b) in max_block.iter_mut().zip(block_max) {
            *worst = worst.max(f64::from(b));
        }
        max_moment = max_moment.max(m_rel).max(v_rel);
        let along = along / norm2;
        let flip = flips as f64 / moved.max(1) as f64;
        sum_rel += rel;
        sum_along += along;
        sum_flip += flip;
        if (it + 1) % args.every == 0 || it == 0 {
            eprintln!(
                "it {:5}  rel diff {rel:.3e}  along {along:+.3e}  sign flips {:.4} %  loss native {:.6} other {:.6}  per block max (w_in w_rec w_out b_out) {:.1e} {:.1e} {:.1e} {:.1e}  moments m {m_rel:.1e} v {v_rel:.1e}",
                it + 1,
                100.0 * flip,
                stats_native.loss,
                stats_other.loss,
                block_max[0],
                block_max[1],
                block_max[2],
                block_max[3],
            );
        }
    }
    let n = args.iterations.saturating_sub(args.from).max(1) as f64;
    println!(
        "{}",
        json!({
            "command": "lockstep_training",
            "config": args.config,
            "iterations": args.iterations,
            "persistent": persistent_device.name(),
            "fresh": other_device.name(),
            "mean_relative_difference": sum_rel / n,
            "mean_along": sum_along / n,
            "mean_sign_flip_fraction": sum_flip / n,
            "max_block_relative_difference": {"w_in": max_block[0], "w_rec": max_block[1], "w_out": max_block[2], "b_out": max_block[3]},
            "max_moment_relative_difference": max_moment,
        })
    );
    Ok(())
}
