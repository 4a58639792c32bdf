//! Compares gradient files written by `lsnn-gpu grads` (docs/formats.md) with a reference
//! file, for benches/gpu_check.sh (no Python needed on the GPU machine).
//!
//! `cargo run --release --example compare_grads -- REFERENCE OTHER [OTHER ...]`
//!
//! Each OTHER passes when its spikes equal the reference's, its loss is within 1e-5 relative,
//! and every gradient entry is within 2e-4·|ref| + 2e-5·max|ref| (the tolerance of
//! tests/cli.rs for two f32 computations that sum in different orders). Prints one JSON line;
//! exits 1 when any file fails, 2 when a file cannot be read.
use std::process::ExitCode;

use lsnn_gpu::model::checkpoint::{load_gradients, Gradients};
use serde_json::json;

const RTOL: f64 = 2e-4;
const ATOL: f64 = 2e-5;
const LOSS_RTOL: f64 = 1e-5;

fn compare(reference: &Gradients, other: &Gradients) -> serde_json::Value {
    if (
        reference.n_in,
        reference.n_rec,
        reference.n_out,
        reference.spikes.dim(),
    ) != (other.n_in, other.n_rec, other.n_out, other.spikes.dim())
    {
        return json!({ "pass": false, "error": "shapes differ" });
    }
    let spike_mismatches = reference
        .spikes
        .iter()
        .zip(other.spikes.iter())
        .filter(|(a, b)| a != b)
        .count();
    let loss_rel = (f64::from(other.loss) - f64::from(reference.loss)).abs()
        / f64::from(reference.loss).abs().max(f64::MIN_POSITIVE);
    let scale = reference
        .grads
        .iter()
        .fold(0.0f64, |m, &x| m.max(f64::from(x).abs()));
    // Worst entry by error over its tolerance (≤ 1 passes).
    let (mut worst, mut worst_at, mut max_abs) = (0.0f64, 0usize, 0.0f64);
    let mut non_finite = 0usize;
    for (i, (&a, &r)) in other.grads.iter().zip(&reference.grads).enumerate() {
        if !a.is_finite() {
            non_finite += 1;
            continue;
        }
        let err = (f64::from(a) - f64::from(r)).abs();
        max_abs = max_abs.max(err);
        let ratio = err / (RTOL * f64::from(r).abs() + ATOL * scale).max(f64::MIN_POSITIVE);
        if ratio > worst {
            (worst, worst_at) = (ratio, i);
        }
    }
    let pass = spike_mismatches == 0 && loss_rel <= LOSS_RTOL && worst <= 1.0 && non_finite == 0;
    json!({
        "pass": pass,
        "loss": other.loss,
        "loss_rel_err": loss_rel,
        "spike_mismatches": spike_mismatches,
        "max_abs_grad_err": max_abs,
        "max_grad_err_over_tol": worst,
        "worst_grad_index": worst_at,
        "non_finite_grads": non_finite,
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: compare_grads REFERENCE OTHER [OTHER ...]");
        return ExitCode::from(2);
    }
    let load = |p: &String| load_gradients(std::path::Path::new(p));
    let reference = match load(&args[0]) {
        Ok(g) => g,
        Err(e) => {
            println!("{}", json!({ "pass": false, "error": e.to_string() }));
            return ExitCode::from(2);
        }
    };
    let mut all_pass = true;
    let mut files = serde_json::Map::new();
    for path in &args[1..] {
        let v = match load(path) {
            Ok(g) => compare(&reference, &g),
            Err(e) => json!({ "pass": false, "error": e.to_string() }),
        };
        all_pass &= v["pass"] == true;
        eprintln!("{path} vs {}: {v}", args[0]);
        files.insert(path.clone(), v);
    }
    println!(
        "{}",
        json!({
            "pass": all_pass,
            "reference": args[0],
            "reference_loss": reference.loss,
            "tolerance": format!("|g - ref| <= {RTOL}*|ref| + {ATOL}*max|ref|, loss within {LOSS_RTOL} relative, spikes equal"),
            "files": files,
        })
    );
    if all_pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
