//! The command line says what is true on bad input (issue 16): an empty config, a top-level
//! list, a size no machine has, an OS error (once), a wrongly shaped `w_in`, a backend or
//! adapter that does not exist; clap errors and panics still end stdout with the JSON error
//! line; the example configs work from any working directory; a headless Vulkan run prints
//! no windowing-probe noise.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lsnn-gpu"))
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// (success, stdout, stderr, last stdout line as JSON).
fn run(cmd: &mut Command) -> (bool, String, String, serde_json::Value) {
    common::cli::run_command(cmd)
}

fn error_of(json: &serde_json::Value) -> String {
    json["error"].as_str().expect("an error line").to_string()
}

#[test]
fn empty_config_is_refused_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("empty.yaml");
    std::fs::write(&cfg, "# nothing but a comment\n").unwrap();
    let out = dir.path().join("p.safetensors");
    let (ok, _, _, json) = run(bin().args([
        "init",
        cfg.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    assert!(!ok);
    let e = error_of(&json);
    assert!(
        e.contains("empty.yaml") && e.contains("holds no YAML document"),
        "{e}"
    );
    assert_eq!(json["command"], "init");
    assert!(!out.exists());
}

#[test]
fn top_level_list_blames_the_file_not_the_set() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("list.yaml");
    std::fs::write(&cfg, "- a\n- b\n").unwrap();
    let (ok, _, _, json) =
        run(bin().args(["run", cfg.to_str().unwrap(), "--set", "train.iterations=1"]));
    assert!(!ok);
    let e = error_of(&json);
    assert!(e.contains("list.yaml: the top level is a list"), "{e}");
    assert!(!e.contains("--set"), "{e}");
}

#[test]
fn absurd_sizes_are_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("never-written.safetensors");
    for (set, field) in [
        ("model.n_out=999999999999", "model.n_out"),
        ("task.steps=1000000000000", "task.steps"),
        ("train.batch_size=100000000", "train.batch_size"),
    ] {
        let (ok, _, _, json) = run(bin().args([
            "init",
            repo("configs/synthetic.yaml").to_str().unwrap(),
            "--set",
            set,
            "--out",
            out.to_str().unwrap(),
        ]));
        assert!(!ok, "{set}");
        assert!(!out.exists(), "{set}");
        let e = error_of(&json);
        assert!(
            e.contains(field) && e.contains(&format!("--set {set}")),
            "{set}: {e}"
        );
    }
}

#[test]
fn os_errors_are_printed_once() {
    let (ok, _, stderr, json) = run(bin().args(["run", "no-such-config.yaml"]));
    assert!(!ok);
    let e = error_of(&json);
    assert_eq!(e.matches("os error 2").count(), 1, "{e}");
    assert!(
        e.starts_with("no-such-config.yaml: cannot read config file"),
        "{e}"
    );
    assert_eq!(stderr.matches("os error 2").count(), 1, "{stderr}");
}

#[test]
fn example_configs_work_from_the_repository_and_from_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    // From the repository root, the config named relatively.
    let out = dir.path().join("a.safetensors");
    let (ok, _, stderr, json) = run(bin().current_dir(repo("")).args([
        "init",
        "configs/smnist_quick.yaml",
        "--out",
        out.to_str().unwrap(),
    ]));
    assert!(ok, "{json} {stderr}");
    // From another directory.
    let out = dir.path().join("b.safetensors");
    let (ok, _, stderr, json) = run(bin().current_dir(dir.path()).args([
        "init",
        repo("configs/smnist_quick.yaml").to_str().unwrap(),
        "--out",
        "b.safetensors",
    ]));
    assert!(ok, "{json} {stderr}");
    assert!(out.exists());
    // A data path that is not there says where it looked and how it was resolved.
    let cfg = dir.path().join("moved.yaml");
    let text = std::fs::read_to_string(repo("configs/smnist_quick.yaml")).unwrap();
    std::fs::write(&cfg, text).unwrap();
    let (ok, _, _, json) = run(bin().args([
        "init",
        cfg.to_str().unwrap(),
        "--out",
        dir.path().join("c.safetensors").to_str().unwrap(),
    ]));
    assert!(!ok);
    let e = error_of(&json);
    let looked = std::path::absolute(dir.path())
        .unwrap()
        .join("../assets/mnist-10k");
    assert!(
        e.contains(looked.to_str().unwrap()) && e.contains("relative to the file's directory"),
        "{e}"
    );
}

/// Rewrites `w_in` of a checkpoint transposed ([n_rec, n_in] instead of [n_in, n_rec]).
fn transpose_w_in(path: &Path) {
    use safetensors::tensor::TensorView;
    let bytes = std::fs::read(path).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut tensors: Vec<(String, TensorView)> = Vec::new();
    for (name, view) in st.tensors() {
        let view = if name == "w_in" {
            let s = view.shape();
            TensorView::new(view.dtype(), vec![s[1], s[0]], view.data()).unwrap()
        } else {
            view
        };
        tensors.push((name, view));
    }
    let out = safetensors::serialize(tensors, meta.metadata().clone()).unwrap();
    std::fs::write(path, out).unwrap();
}

#[test]
fn grads_blames_a_transposed_w_in() {
    let dir = tempfile::tempdir().unwrap();
    let params = dir.path().join("p.safetensors");
    let batch = dir.path().join("b.safetensors");
    let (ok, _, stderr, json) = run(bin().args([
        "init",
        repo("configs/synthetic.yaml").to_str().unwrap(),
        "--out",
        params.to_str().unwrap(),
        "--batch-out",
        batch.to_str().unwrap(),
    ]));
    assert!(ok, "{json} {stderr}");
    transpose_w_in(&params);
    let (ok, _, _, json) = run(bin().args([
        "grads",
        "--params",
        params.to_str().unwrap(),
        "--batch",
        batch.to_str().unwrap(),
        "--out",
        dir.path().join("g.safetensors").to_str().unwrap(),
        "--device",
        "cpu",
    ]));
    assert!(!ok);
    let e = error_of(&json);
    // synthetic.yaml: 20 inputs, 40 neurons.
    assert!(
        e.contains("tensor `w_in`: expected shape [n_in, 40], found [40, 20] (n_rec = 40"),
        "{e}"
    );
}

#[test]
fn clap_errors_end_with_the_json_line() {
    let (ok, stdout, stderr, json) = run(bin().args(["run", "--frob", "x"]));
    assert!(!ok);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert_eq!(json["command"], "run");
    assert!(error_of(&json).contains("'--frob'"), "{json}");
    assert!(stderr.contains("Usage: lsnn-gpu run"), "{stderr}");

    let (ok, _, _, json) = run(bin().args(["grads", "--params", "p.safetensors"]));
    assert!(!ok);
    assert_eq!(json["command"], "grads");
    let e = error_of(&json);
    assert!(e.contains("--batch") && e.contains("--out"), "{e}");

    let (ok, _, _, json) = run(&mut bin());
    assert!(!ok);
    assert!(json["command"].is_null());
    assert!(error_of(&json).contains("no command given"), "{json}");

    // --help and --version stay clap's, on stdout, successful.
    let out = bin().args(["run", "--help"]).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Usage: lsnn-gpu run"));
}

#[test]
fn a_panic_ends_with_the_json_line() {
    let (ok, _, stderr, json) = run(bin().env("LSNN_GPU_TEST_PANIC", "1").arg("devices"));
    assert!(!ok);
    assert_eq!(json["command"], "devices");
    let e = error_of(&json);
    assert!(
        e.contains("panicked") && e.contains("LSNN_GPU_TEST_PANIC"),
        "{e}"
    );
    assert!(stderr.contains("panicked"), "{stderr}");
}

/// The adapters `devices` lists with the environment of this test process.
fn adapters() -> Vec<serde_json::Value> {
    let (ok, _, _, json) = run(bin().arg("devices"));
    assert!(ok);
    json["adapters"].as_array().unwrap().clone()
}

#[test]
fn missing_backend_or_adapter_is_not_called_no_gpu() {
    let cfg = repo("configs/synthetic.yaml");
    let have_adapters = !adapters().is_empty();
    if !have_adapters && !common::gpu::opted_out() {
        panic!("no wgpu adapter: install one (README) or set LSNN_SKIP_GPU_TESTS=1");
    }
    let gpu_run = |extra: &[&str]| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let mut args = vec![
            "run",
            cfg.to_str().unwrap(),
            "--device",
            "gpu",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend(extra);
        let (ok, _, _, json) = run(bin().args(&args));
        assert!(!ok);
        assert!(!out.exists());
        error_of(&json)
    };
    let e = gpu_run(&["--adapter", "no-such-adapter-xyz"]);
    assert!(
        e.contains("no adapter name contains \"no-such-adapter-xyz\""),
        "{e}"
    );
    let e = gpu_run(&["--backend", "metal"]);
    assert!(e.contains("--backend metal: no adapter"), "{e}");
    if cfg!(target_os = "linux") {
        assert!(e.contains("Metal exists only on macOS and iOS"), "{e}");
    }
    if have_adapters {
        // Adapters exist: neither error may say there is none and to install Mesa.
        for e in [
            gpu_run(&["--adapter", "no-such-adapter-xyz"]),
            gpu_run(&["--backend", "metal"]),
        ] {
            assert!(!e.contains("no GPU adapter found"), "{e}");
            assert!(
                e.contains("adapters found:") || e.contains("the other backends have:"),
                "{e}"
            );
        }
    }
    let (ok, _, stderr, json) = run(bin().args(["devices", "--backend", "metal"]));
    assert!(ok);
    assert_eq!(json["adapters"].as_array().unwrap().len(), 0);
    assert!(stderr.contains("--backend metal: no adapter"), "{stderr}");
}

#[test]
fn headless_vulkan_and_gl_print_no_windowing_probe_noise() {
    if common::gpu::opted_out() {
        eprintln!("LSNN_SKIP_GPU_TESTS=1: the adapter part is not checked");
    }
    let mut found_any = 0;
    for backend in ["vulkan", "gl"] {
        let (ok, _, stderr, json) = run(bin()
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("NODEVICE_SELECT")
            .env("WGPU_BACKEND", backend)
            .arg("devices"));
        assert!(ok);
        assert!(!stderr.contains("XDG_RUNTIME_DIR"), "{backend}: {stderr}");
        found_any += json["adapters"].as_array().unwrap().len();
    }
    // Switching the probe off must not lose the adapters (lavapipe and llvmpipe in CI).
    if !common::gpu::opted_out() {
        assert!(found_any > 0, "no adapter listed on vulkan or gl");
    }
}

#[test]
fn eval_of_a_checkpoint_from_another_task_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("smnist.safetensors");
    let (ok, _, _, _) = run(bin().args([
        "init",
        repo("configs/smnist_quick.yaml").to_str().unwrap(),
        "--out",
        ckpt.to_str().unwrap(),
    ]));
    assert!(ok);
    for device in ["cpu", "native"] {
        let (ok, _, _, json) = run(bin().args([
            "eval",
            repo("configs/synthetic.yaml").to_str().unwrap(),
            "--checkpoint",
            ckpt.to_str().unwrap(),
            "--device",
            device,
        ]));
        assert!(!ok);
        let e = error_of(&json);
        assert!(
            e.contains("smnist.safetensors has n_in = 80")
                && e.contains("synthetic.yaml gives 20 (model.n_in)"),
            "{device}: {e}"
        );
    }
}

/// A stdout that cannot be written (here /dev/full, as on a full disk) ends the command with
/// exit 1 and a message on stderr, not a panic inside the panic hook (an abort, exit 134).
#[cfg(target_os = "linux")]
#[test]
fn a_full_stdout_is_an_error_not_an_abort() {
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    let out = bin().arg("devices").stdout(full()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("could not write the JSON summary line"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    // A panic with nowhere to print its JSON line still exits as a panic (101), not an abort.
    let out = bin()
        .env("LSNN_GPU_TEST_PANIC", "1")
        .arg("devices")
        .stdout(full())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(101));
}

/// A stderr that cannot be written (here /dev/full, as a log file on a full disk) does not
/// stop a training run: progress and "wrote …" lines are dropped, the run directory and the
/// JSON summary on stdout are written as usual. (`eprintln!` would panic at the first line.)
#[cfg(target_os = "linux")]
#[test]
fn a_full_stderr_does_not_stop_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("run");
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = bin()
        .current_dir(repo("."))
        .args(["run", "configs/synthetic.yaml", "--device", "native"])
        .args(["--set", "train.iterations=3", "--set", "eval.every=2"])
        .args(["--set", "train.batch_size=4", "--out"])
        .arg(&out_dir)
        .stderr(full)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let json: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(json["command"], "run", "{stdout}");
    assert_eq!(json["summary"]["iterations"], 3, "{stdout}");
    let metrics = std::fs::read_to_string(out_dir.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 4, "3 iterations and the test line");
}
