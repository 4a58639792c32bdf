//! Runs you can trust: a run killed at any moment (`kill -9`, in or between checkpoint
//! writes), or stopped by SIGINT, and then resumed ends with the uninterrupted run's weights,
//! Adam moments and metrics, bit for bit; and `resume` refuses a run directory that does not
//! hold what its `config.yaml` describes, naming the field, without touching a file.
//!
//! Small networks on the native engine (a few ms per iteration in the debug profile), so the
//! whole file runs in seconds.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use lsnn_gpu::files::FAULT_WRITE_DELAY_ENV;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lsnn-gpu"))
}

/// The tiny synthetic run of these tests: 30 steps, 10 neurons, batches of 4.
const TINY: [&str; 12] = [
    "--set",
    "task.steps=30",
    "--set",
    "model.n_regular=6",
    "--set",
    "model.n_adaptive=4",
    "--set",
    "train.batch_size=4",
    "--set",
    "eval.batch_size=8",
    "--set",
    "model.readout.window=5",
];

fn run_args(out: &Path, iterations: usize, every: usize, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = ["run", "configs/synthetic.yaml", "--device", "native"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    a.extend(TINY.iter().map(|s| s.to_string()));
    a.extend([
        "--set".into(),
        format!("train.iterations={iterations}"),
        "--set".into(),
        format!("eval.every={every}"),
        "--out".into(),
        out.display().to_string(),
    ]);
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn run(args: &[String]) -> (bool, String, serde_json::Value) {
    let (ok, _, stderr, json) = common::cli::run_command(bin().args(args));
    (ok, stderr, json)
}

fn resume(dir: &Path) -> (bool, String, serde_json::Value) {
    let (ok, _, stderr, json) = common::cli::run_command(bin().args([
        "resume",
        dir.to_str().unwrap(),
        "--device",
        "native",
    ]));
    (ok, stderr, json)
}

/// The metrics of a run without their wall-clock times (the only numbers that may differ).
fn metrics(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("wall_s");
            v
        })
        .collect()
}

/// Every tensor (bytes) and metadata entry of a checkpoint. The file's bytes themselves may
/// differ in the order of the metadata map, never in a value.
fn checkpoint(path: &Path) -> (BTreeMap<String, Vec<u8>>, BTreeMap<String, String>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let tensors = st
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.data().to_vec()))
        .collect();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta = meta
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    (tensors, meta)
}

/// The run `dir` ended exactly as the uninterrupted `whole`.
fn assert_same_run(whole: &Path, dir: &Path, what: &str) {
    assert_eq!(metrics(whole), metrics(dir), "{what}: metrics differ");
    for f in ["last.safetensors", "best.safetensors"] {
        assert!(
            checkpoint(&whole.join(f)) == checkpoint(&dir.join(f)),
            "{what}: {f} differs"
        );
    }
}

/// Every file of a directory and its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

/// Resumes `dir`, which must be refused without changing any file of it; returns the error.
fn refused_resume(dir: &Path) -> String {
    let before = snapshot(dir);
    let (ok, _, json) = resume(dir);
    assert!(!ok, "resume of {} was not refused", dir.display());
    assert!(before == snapshot(dir), "a refused resume changed a file");
    json["error"].as_str().unwrap().to_string()
}

#[test]
#[cfg(unix)]
fn kill_9_at_random_moments_then_resume_gives_the_uninterrupted_run() {
    // Checkpoints every 3 iterations; each atomic write sleeps 4 ms half-way and 4 ms before
    // its rename, so that about half of the moments fall inside a write. Under DEEP R, whose
    // settings and signs travel in the checkpoint and whose draws are keyed by iteration.
    const DEEP_R: [&str; 2] = ["--set", "rewiring.connectivity=0.3"];
    const DELAY_MS: &str = "4";
    const KILLS: usize = 20;
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole");
    let started = Instant::now();
    let (ok, stderr, _) = {
        let (ok, _, stderr, json) = common::cli::run_command(
            bin()
                .args(run_args(&whole, 18, 3, &DEEP_R))
                .env(FAULT_WRITE_DELAY_ENV, DELAY_MS),
        );
        (ok, stderr, json)
    };
    assert!(ok, "{stderr}");
    let span = started.elapsed();
    let (_, meta) = checkpoint(&whole.join("last.safetensors"));
    assert!(meta.contains_key("train.deep_r.budget"), "{meta:?}");
    let mut rng = ChaCha8Rng::seed_from_u64(16);
    let (mut before_first_checkpoint, mut inside_a_write) = (0, 0);
    for k in 0..KILLS {
        let dir = tmp.path().join(format!("killed-{k}"));
        let args = run_args(&dir, 18, 3, &DEEP_R);
        let at = span.mul_f64(rng.random_range(0.05..1.0));
        let mut child = bin()
            .args(&args)
            .env(FAULT_WRITE_DELAY_ENV, DELAY_MS)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(at);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // A temporary file left behind: the kill landed inside an atomic write.
        if std::fs::read_dir(&dir).is_ok_and(|mut d| {
            d.any(|e| e.is_ok_and(|e| e.path().extension().is_some_and(|x| x == "tmp")))
        }) {
            inside_a_write += 1;
        }
        let (ok, stderr, json) = resume(&dir);
        if !ok {
            // Killed before its first checkpoint: said plainly, and a new run replaces it.
            let e = json["error"].as_str().unwrap_or_default();
            assert!(
                (e.contains("no checkpoint yet") || e.contains("no run to resume"))
                    && e.contains("--overwrite"),
                "kill {k} at {at:?}: {stderr}"
            );
            before_first_checkpoint += 1;
            let mut again = args.clone();
            again.push("--overwrite".into());
            let (ok, stderr, _) = run(&again);
            assert!(ok, "{stderr}");
        }
        assert_same_run(&whole, &dir, &format!("kill {k} at {at:?}"));
    }
    eprintln!(
        "{KILLS} kills over {span:?}: {inside_a_write} inside a write, {before_first_checkpoint} before the first checkpoint"
    );
    assert!(
        inside_a_write > 0,
        "no kill landed inside a write: raise the write delay"
    );
    assert!(
        before_first_checkpoint < KILLS / 2,
        "{before_first_checkpoint} of {KILLS} kills came before the first checkpoint: the moments miss the writes"
    );
}

#[test]
#[cfg(unix)]
fn sigint_stops_with_a_checkpoint_and_resume_continues_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole");
    // Long enough to be stopped mid-way, between its checkpoints (every 1000 iterations).
    let (ok, stderr, _) = run(&run_args(&whole, 4000, 1000, &[]));
    assert!(ok, "{stderr}");
    let dir = tmp.path().join("stopped");
    let child = bin()
        .args(run_args(&dir, 4000, 1000, &[]))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for training to be under way, then Ctrl-C.
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_to_string(dir.join("metrics.jsonl"))
        .map(|t| t.lines().count() < 20)
        .unwrap_or(true)
    {
        assert!(Instant::now() < deadline, "the run never started");
        std::thread::sleep(Duration::from_millis(2));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert_eq!(json["stopped"], true, "{json}");
    let at = json["stopped_at"].as_u64().unwrap();
    assert!(at > 0 && at < 4000, "{json}");
    assert!(json["resume"].as_str().unwrap().contains("lsnn-gpu resume"));
    // The checkpoint and the metrics stand at the iteration it stopped after.
    let (_, meta) = checkpoint(&dir.join("last.safetensors"));
    assert_eq!(meta["train.iteration"], at.to_string());
    assert_eq!(metrics(&dir).len() as u64, at);

    let (ok, stderr, json) = resume(&dir);
    assert!(ok, "{stderr}");
    assert_eq!(json["resumed_at"].as_u64(), Some(at));
    assert_same_run(&whole, &dir, "SIGINT then resume");
    // Provenance: the run, then the resume appended (not overwritten).
    let p: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("provenance.json")).unwrap())
            .unwrap();
    let sessions = p["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{p}");
    assert_eq!(sessions[0]["command"], "run");
    assert_eq!(sessions[1]["command"], "resume");
    assert_eq!(sessions[1]["resumed_at"].as_u64(), Some(at));
    assert_eq!(sessions[0]["lsnn_gpu_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(sessions[1]["device"]["device"], "native");
}

#[test]
fn a_checkpoint_of_another_size_is_refused_naming_the_field_and_nothing_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let (ok, stderr, _) = run(&run_args(&dir, 6, 3, &[]));
    assert!(ok, "{stderr}");
    let other = tmp.path().join("other");
    let (ok, stderr, _) = run(&run_args(&other, 6, 3, &["--set", "model.n_in=8"]));
    assert!(ok, "{stderr}");
    std::fs::copy(other.join("last.safetensors"), dir.join("last.safetensors")).unwrap();
    let e = refused_resume(&dir);
    assert!(
        e.contains("model.n_in: config.yaml says 20, last.safetensors has 8"),
        "{e}"
    );

    // A config.yaml edited to another size: refused the same way.
    let (ok, stderr, _) = run(&run_args(&dir, 6, 3, &["--overwrite"]));
    assert!(ok, "{stderr}");
    let yaml = std::fs::read_to_string(dir.join("config.yaml")).unwrap();
    assert!(yaml.contains("n_adaptive: 4"), "{yaml}");
    std::fs::write(
        dir.join("config.yaml"),
        yaml.replace("n_adaptive: 4", "n_adaptive: 5"),
    )
    .unwrap();
    let e = refused_resume(&dir);
    assert!(
        e.contains("model.n_adaptive: config.yaml says 5, last.safetensors has 4"),
        "{e}"
    );
}

#[test]
fn a_torn_last_metrics_line_is_dropped_with_a_warning_by_resume_and_plot() {
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole");
    let (ok, stderr, _) = run(&run_args(&whole, 6, 3, &[]));
    assert!(ok, "{stderr}");
    // A run with its checkpoint at 3 that crashed while appending the line of iteration 4.
    let dir = tmp.path().join("torn");
    let (ok, stderr, _) = run(&run_args(&dir, 3, 3, &[]));
    assert!(ok, "{stderr}");
    let yaml = std::fs::read_to_string(dir.join("config.yaml")).unwrap();
    std::fs::write(
        dir.join("config.yaml"),
        yaml.replace("iterations: 3", "iterations: 6"),
    )
    .unwrap();
    let mut text = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    text.push_str("{\"iteration\":4,\"loss\":0.3");
    std::fs::write(dir.join("metrics.jsonl"), text).unwrap();
    let (ok, _, stderr, _) = common::cli::run_command(bin().args(["plot", dir.to_str().unwrap()]));
    assert!(ok, "{stderr}");
    assert!(stderr.contains("torn"), "{stderr}");
    let (ok, stderr, _) = resume(&dir);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("torn"), "{stderr}");
    assert_same_run(&whole, &dir, "torn line then resume");
}

#[test]
fn resume_before_the_first_checkpoint_says_so_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let (ok, stderr, _) = run(&run_args(&dir, 3, 3, &[]));
    assert!(ok, "{stderr}");
    // As a run killed at iteration 2 leaves it: config, two metrics lines, no checkpoint.
    for f in ["last.safetensors", "best.safetensors"] {
        std::fs::remove_file(dir.join(f)).unwrap();
    }
    let text = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    let two: String = text.lines().take(2).map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.join("metrics.jsonl"), two).unwrap();
    let e = refused_resume(&dir);
    assert!(
        e.contains("no checkpoint yet") && e.contains("run") && e.contains("--overwrite"),
        "{e}"
    );
    // Killed before even its config was written: an empty directory.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let (ok, _, json) = resume(&empty);
    assert!(!ok);
    let e = json["error"].as_str().unwrap();
    assert!(
        e.contains("no run to resume") && e.contains("--overwrite"),
        "{e}"
    );
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
}

#[test]
fn a_deep_r_checkpoint_of_an_older_lsnn_gpu_resumes_exactly() {
    // Checkpoints written before `train.deep_r.*` existed: resume derives the DEEP R settings
    // from config.yaml, as it always did, and gets the same numbers.
    let deep_r = ["--set", "rewiring.connectivity=0.3"];
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole");
    let (ok, stderr, _) = run(&run_args(&whole, 6, 3, &deep_r));
    assert!(ok, "{stderr}");
    let dir = tmp.path().join("old");
    let (ok, stderr, _) = run(&run_args(&dir, 3, 3, &deep_r));
    assert!(ok, "{stderr}");
    let yaml = std::fs::read_to_string(dir.join("config.yaml")).unwrap();
    std::fs::write(
        dir.join("config.yaml"),
        yaml.replace("iterations: 3", "iterations: 6"),
    )
    .unwrap();
    let last = dir.join("last.safetensors");
    let bytes = std::fs::read(&last).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let mut meta = meta.metadata().clone().unwrap();
    let before = meta.len();
    meta.retain(|k, _| !k.starts_with("train.deep_r."));
    assert_eq!(before - meta.len(), 5, "the five train.deep_r.* keys");
    let old = safetensors::serialize(st.tensors(), Some(meta)).unwrap();
    std::fs::write(&last, old).unwrap();
    let (ok, stderr, _) = resume(&dir);
    assert!(ok, "{stderr}");
    assert_same_run(&whole, &dir, "older checkpoint then resume");
}

#[test]
fn deep_r_settings_edited_in_config_yaml_are_refused_naming_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let (ok, stderr, _) = run(&run_args(
        &dir,
        3,
        3,
        &[
            "--set",
            "rewiring.connectivity=0.3",
            "--set",
            "rewiring.l1=0.01",
        ],
    ));
    assert!(ok, "{stderr}");
    let yaml = std::fs::read_to_string(dir.join("config.yaml")).unwrap();
    let before = snapshot(&dir);
    for (edit, field) in [
        (
            yaml.replace("l1: 0.01", "l1: 0.02"),
            "rewiring.l1: config.yaml says 0.02",
        ),
        (
            yaml.replace("connectivity: 0.3", "connectivity: 0.5"),
            "rewiring.connectivity: config.yaml gives a budget of",
        ),
    ] {
        assert_ne!(edit, yaml, "the edit for {field} found nothing to replace");
        std::fs::write(dir.join("config.yaml"), &edit).unwrap();
        let e = refused_resume(&dir);
        assert!(e.contains(field), "{e}");
        std::fs::write(dir.join("config.yaml"), &yaml).unwrap();
        assert!(before == snapshot(&dir), "a refused resume changed a file");
    }
}
