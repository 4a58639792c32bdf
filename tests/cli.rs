//! The command line end to end: every command ends with a JSON line; bad input gives an
//! error naming the file and field; `grads` writes the format of docs/formats.md on both
//! devices, and the two agree.

mod common;

use std::path::Path;
use std::process::Command;

use lsnn_gpu::model::checkpoint::{load_checkpoint, load_gradients};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lsnn-gpu"))
}

/// Runs the binary; returns (success, stdout, stderr, the last stdout line parsed as JSON).
fn run(args: &[&str]) -> (bool, String, String, serde_json::Value) {
    common::cli::run_command(bin().args(args))
}

/// "cpu", "native", and "gpu" unless the run opted out of GPU tests.
fn devices_under_test() -> Vec<&'static str> {
    if gpu_tests_enabled() {
        vec!["cpu", "native", "gpu"]
    } else {
        vec!["cpu", "native"]
    }
}

fn gpu_tests_enabled() -> bool {
    if common::gpu::opted_out() {
        eprintln!("LSNN_SKIP_GPU_TESTS=1: skipping the GPU part");
        return false;
    }
    true
}

#[test]
fn bad_config_is_an_error_naming_file_field_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.yaml");
    std::fs::write(&cfg, "task:\n  kind: synthetic\nmodel:\n  tau_m: -5\n").unwrap();
    let (ok, _, stderr, json) = run(&["run", cfg.to_str().unwrap(), "--device", "cpu"]);
    assert!(!ok);
    let msg = json["error"].as_str().unwrap();
    assert!(
        msg.contains("bad.yaml") && msg.contains("model.tau_m") && msg.contains(":4"),
        "{msg}"
    );
    assert!(stderr.contains("model.tau_m"));

    let (ok, _, _, json) = run(&[
        "run",
        "configs/synthetic.yaml",
        "--set",
        "model.n_regular=0",
        "--set",
        "model.n_adaptive=0",
    ]);
    assert!(!ok);
    assert!(
        json["error"].as_str().unwrap().contains("model.n_regular"),
        "{json}"
    );
}

#[test]
fn gpu_device_without_adapter_explains_how_to_get_one() {
    // No DX12 adapter exists off Windows. The message says so, and then either lists the
    // adapters of the other backends or, on a machine with none, how to get one.
    if cfg!(windows) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (p, b) = init_synthetic(dir.path());
    let g = dir.path().join("g.safetensors");
    let (ok, _, json) = grads_on("gpu", &p, &b, &g, &["--backend", "dx12"]);
    assert!(!ok);
    let msg = json["error"].as_str().unwrap();
    assert!(
        msg.contains("--backend dx12: no adapter") && msg.contains("DX12 exists only on Windows"),
        "{msg}"
    );
    assert!(
        msg.contains("the other backends have:")
            || (msg.contains("mesa-vulkan-drivers") && msg.contains("--device cpu")),
        "{msg}"
    );
}

/// `init` of the synthetic config into `dir`: (params, batch) files.
fn init_synthetic(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (p, b) = (
        dir.join("params.safetensors"),
        dir.join("batch.safetensors"),
    );
    let (ok, _, stderr, _) = run(&[
        "init",
        "configs/synthetic.yaml",
        "--out",
        p.to_str().unwrap(),
        "--batch-out",
        b.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    (p, b)
}

/// `grads` on `device` with `extra` arguments: (success, stderr, JSON line).
fn grads_on(
    device: &str,
    p: &Path,
    b: &Path,
    g: &Path,
    extra: &[&str],
) -> (bool, String, serde_json::Value) {
    let mut args = vec![
        "grads",
        "--params",
        p.to_str().unwrap(),
        "--batch",
        b.to_str().unwrap(),
        "--out",
        g.to_str().unwrap(),
        "--device",
        device,
    ];
    args.extend_from_slice(extra);
    let (ok, _, stderr, json) = run(&args);
    (ok, stderr, json)
}

#[test]
fn grads_end_to_end_on_cpu_and_gpu_agree() {
    let dir = tempfile::tempdir().unwrap();
    let (p, b) = init_synthetic(dir.path());
    let (net, _) = load_checkpoint(&p).unwrap();

    let g_cpu = dir.path().join("g_cpu.safetensors");
    let (ok, stderr, json) = grads_on("cpu", &p, &b, &g_cpu, &[]);
    assert!(ok, "grads on cpu failed: {stderr}");
    assert_eq!(json["device"], "cpu");
    let cpu = load_gradients(&g_cpu).unwrap();
    assert_eq!(cpu.grads.len(), net.params.len());
    assert!(cpu.loss.is_finite() && (cpu.loss - cpu.loss_task - cpu.loss_reg).abs() < 1e-5);
    let n = net.n_rec();
    for j in 0..n {
        assert_eq!(
            cpu.grads[net.params.layout().w_rec().index(j, j)],
            0.0,
            "diagonal gradient must be zero"
        );
    }
    assert!(cpu.spikes.iter().any(|&z| z == 1.0));

    if !gpu_tests_enabled() {
        return;
    }
    let _guard = common::gpu::exclusive();
    let g_gpu = dir.path().join("g_gpu.safetensors");
    let (ok, stderr, json) = grads_on("gpu", &p, &b, &g_gpu, &[]);
    assert!(ok, "grads on gpu failed: {stderr}");
    assert_eq!(json["device"], "gpu");
    let gpu = load_gradients(&g_gpu).unwrap();
    assert_eq!(gpu.spikes, cpu.spikes, "spikes differ between devices");
    assert!((gpu.loss - cpu.loss).abs() <= 1e-5 * cpu.loss.abs());
    // Both f32: the CPU reference and the kernels sum in different orders (tolerance as in
    // tests/gpu_matches_reference.rs, doubled for two f32 computations).
    let scale = cpu.grads.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    for (e, (a, c)) in gpu.grads.iter().zip(&cpu.grads).enumerate() {
        assert!(
            (a - c).abs() <= 2e-4 * c.abs() + 2e-5 * scale,
            "gradient {e}: gpu {a} cpu {c}"
        );
    }
}

#[test]
fn run_writes_metrics_checkpoint_and_summary() {
    for device in devices_under_test() {
        let _guard = (device == "gpu").then(common::gpu::exclusive);
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let json = run_synthetic(&out, device, 4, 2);
        assert_eq!(json["command"], "run");
        assert_eq!(json["summary"]["iterations"], 4);
        let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
        let lines: Vec<serde_json::Value> = metrics
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        // Four training iterations, then the test evaluation.
        assert_eq!(lines.len(), 5);
        assert!(
            lines[1]["validation_accuracy"].is_number()
                && lines[0]["validation_accuracy"].is_null()
        );
        assert_eq!(lines[4]["test_accuracy"], json["summary"]["test_accuracy"]);
        assert!(out.join("best.safetensors").exists());
        // Figures, written by the run with their data beside them, and redrawn by `plot`.
        assert!(out.join("connectivity.json").exists());
        let raster: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("raster.json")).unwrap())
                .unwrap();
        assert_eq!(raster["spike_steps"].as_array().unwrap().len(), 40);
        let raster_png = std::fs::read(out.join("raster.png")).unwrap();
        for fig in ["learning_curves.png", "raster.png", "connectivity.png"] {
            assert!(out.join(fig).exists(), "{device}: {fig} missing");
            std::fs::remove_file(out.join(fig)).unwrap();
        }
        let (ok, _, stderr, json) = run(&["plot", out.to_str().unwrap()]);
        assert!(ok, "{stderr}");
        assert_eq!(json["command"], "plot");
        for fig in ["learning_curves.png", "raster.png", "connectivity.png"] {
            let img = image::open(out.join(fig)).unwrap();
            assert!(img.width() >= 800 && img.height() >= 600, "{fig}");
        }
        // Redrawn from raster.json alone, the raster is the run's, pixel for pixel.
        assert!(
            std::fs::read(out.join("raster.png")).unwrap() == raster_png,
            "{device}: raster.png redrawn from raster.json differs from the run's"
        );
        let (net, state) = load_checkpoint(&out.join("last.safetensors")).unwrap();
        assert_eq!(state.unwrap().iteration, 4);
        assert_eq!(net.n_rec(), 40);
        assert!(out.join("config.yaml").exists());
    }
}

#[test]
fn deep_r_run_keeps_its_budget_and_reports_connectivity() {
    for device in devices_under_test() {
        let _guard = (device == "gpu").then(common::gpu::exclusive);
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        run_synthetic_with(&out, device, 3, 3, &["--set", "rewiring.connectivity=0.2"]);
        let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
        let first: serde_json::Value =
            serde_json::from_str(metrics.lines().next().unwrap()).unwrap();
        for key in [
            "connectivity_w_in",
            "connectivity_w_rec",
            "connectivity_w_out",
        ] {
            let p = first[key]
                .as_f64()
                .unwrap_or_else(|| panic!("{device}: no {key}"));
            assert!((p - 0.2).abs() < 0.02, "{device}: {key} = {p}");
        }
        assert!(first["rewired"].is_u64());
        // Fig. 1C from the trained network: the active connections of the three matrices add
        // up to the budget ⌊0.2 · positions⌋ (the diagonal is not a position).
        let c: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("connectivity.json")).unwrap())
                .unwrap();
        let matrices = c["matrices"].as_array().unwrap();
        assert_eq!(matrices.len(), 3);
        let active: u64 = matrices.iter().map(|m| m["active"].as_u64().unwrap()).sum();
        let possible: u64 = matrices
            .iter()
            .map(|m| m["possible"].as_u64().unwrap())
            .sum();
        assert_eq!(
            active,
            (possible as f64 * 0.2f32 as f64).floor() as u64,
            "{device}"
        );
        assert!(out.join("connectivity.png").exists());
    }
}

#[test]
fn devices_lists_adapters_as_json() {
    let (ok, _, _, json) = run(&["devices"]);
    assert!(ok);
    assert_eq!(json["command"], "devices");
    assert!(json["adapters"].is_array());
}

/// Runs `iterations` of the synthetic config (batch 8) into `dir` on `device`, validating and
/// checkpointing every `every` iterations; returns the JSON summary line.
fn run_synthetic(dir: &Path, device: &str, iterations: usize, every: usize) -> serde_json::Value {
    run_synthetic_with(dir, device, iterations, every, &[])
}

/// `run_synthetic` with further arguments (e.g. `--set rewiring.connectivity=0.2`).
fn run_synthetic_with(
    dir: &Path,
    device: &str,
    iterations: usize,
    every: usize,
    extra: &[&str],
) -> serde_json::Value {
    let (iterations, every) = (
        format!("train.iterations={iterations}"),
        format!("eval.every={every}"),
    );
    let mut args = vec![
        "run",
        "configs/synthetic.yaml",
        "--set",
        &iterations,
        "--set",
        &every,
        "--set",
        "train.batch_size=8",
        "--out",
        dir.to_str().unwrap(),
        "--device",
        device,
    ];
    args.extend_from_slice(extra);
    let (ok, _, stderr, json) = run(&args);
    assert!(ok, "{device}: {stderr}");
    json
}

fn losses(dir: &Path) -> Vec<(u64, f64)> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter_map(|v| Some((v["iteration"].as_u64()?, v["loss"].as_f64()?)))
        .collect()
}

#[test]
fn resume_equals_uninterrupted_run() {
    // Dense, and with DEEP R (whose signs travel in the checkpoint and whose random numbers
    // are a pure function of the iteration).
    let variants: [&[&str]; 2] = [&[], &["--set", "rewiring.connectivity=0.2"]];
    for (device, extra) in devices_under_test()
        .into_iter()
        .flat_map(|d| variants.iter().map(move |e| (d, *e)))
    {
        let _guard = (device == "gpu").then(common::gpu::exclusive);
        let tmp = tempfile::tempdir().unwrap();
        let whole = tmp.path().join("whole");
        run_synthetic_with(&whole, device, 6, 3, extra);
        // An "interrupted" run: stopped after its checkpoint at iteration 3, then told to go
        // on to 6 and resumed.
        let part = tmp.path().join("part");
        run_synthetic_with(&part, device, 3, 3, extra);
        let cfg = std::fs::read_to_string(part.join("config.yaml")).unwrap();
        assert!(cfg.contains("iterations: 3"), "{cfg}");
        std::fs::write(
            part.join("config.yaml"),
            cfg.replace("iterations: 3", "iterations: 6"),
        )
        .unwrap();
        let (ok, _, stderr, json) = run(&["resume", part.to_str().unwrap(), "--device", device]);
        assert!(ok, "{stderr}");
        assert_eq!(json["resumed_at"], 3);
        let (a, b) = (losses(&whole), losses(&part));
        assert_eq!(a.len(), 6);
        assert_eq!(
            a, b,
            "{device} {extra:?}: resumed run differs from the uninterrupted one"
        );
        let (wa, _) = load_checkpoint(&whole.join("last.safetensors")).unwrap();
        let (wb, _) = load_checkpoint(&part.join("last.safetensors")).unwrap();
        assert_eq!(
            wa.params, wb.params,
            "{device} {extra:?}: final weights differ"
        );
        assert_eq!(json["summary"]["test_accuracy"], {
            let v: serde_json::Value = serde_json::from_str(
                std::fs::read_to_string(whole.join("metrics.jsonl"))
                    .unwrap()
                    .lines()
                    .last()
                    .unwrap(),
            )
            .unwrap();
            v["test_accuracy"].clone()
        });
    }
}

#[test]
fn eval_of_a_checkpoint_reproduces_the_logged_validation_accuracy() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    run_synthetic(&dir, "cpu", 3, 3);
    let logged = losses(&dir);
    assert_eq!(logged.len(), 3);
    let metrics = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    let at3: serde_json::Value = serde_json::from_str(metrics.lines().nth(2).unwrap()).unwrap();
    let (ok, _, stderr, json) = run(&[
        "eval",
        dir.join("config.yaml").to_str().unwrap(),
        "--checkpoint",
        dir.join("last.safetensors").to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    assert!(ok, "{stderr}");
    assert_eq!(json["validation_accuracy"], at3["validation_accuracy"]);
}

#[test]
fn run_never_reuses_a_run_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("R");
    let out_s = out.to_str().unwrap();
    let first = [
        "run",
        "configs/synthetic.yaml",
        "--device",
        "native",
        "--set",
        "train.iterations=6",
        "--set",
        "eval.every=3",
        "--out",
        out_s,
    ];
    let (ok, _, _, _) = run(&first);
    assert!(ok);
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let last = std::fs::read(out.join("last.safetensors")).unwrap();
    // A second run into the same directory, of another size: refused, nothing touched.
    let mut second = first.to_vec();
    second.extend(["--set", "model.n_regular=10"]);
    let (ok, _, _, json) = run(&second);
    assert!(!ok);
    let e = json["error"].as_str().unwrap();
    assert!(
        e.contains("already holds a run") && e.contains("resume"),
        "{e}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("metrics.jsonl")).unwrap(),
        metrics
    );
    assert_eq!(std::fs::read(out.join("last.safetensors")).unwrap(), last);
    // --overwrite replaces it explicitly.
    second.push("--overwrite");
    let (ok, _, _, _) = run(&second);
    assert!(ok);
    let lines = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    assert_eq!(
        lines.lines().count(),
        7,
        "6 iterations and the test line, nothing appended"
    );
}
