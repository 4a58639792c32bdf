//! `lsnn-gpu run configs/timit.yaml` end to end on a corpus the test generates in the TIMIT
//! layout (tests/common/timit_corpus.rs): feature extraction and caching, training with padded
//! and masked batches, the frame errors (61 and 39 phones) in the summary line, and the
//! figures. The synthetic phones differ in spectrum, so a small LSNN learns them in a few dozen
//! iterations: the frame error must end far below that of always answering the most common
//! phone.

mod common;

use std::path::Path;
use std::process::Command;

use common::timit_corpus::{write_synthetic_timit, SyntheticTimit};

fn corpus_spec() -> SyntheticTimit {
    SyntheticTimit {
        train_speakers: 8,
        utterances_per_speaker: 4,
        seconds: 0.8,
        seed: 3,
        ..SyntheticTimit::default()
    }
}

/// Writes the test corpus to $LSNN_TIMIT_CORPUS_OUT for runs by hand:
/// `LSNN_TIMIT_CORPUS_OUT=synthetic-timit cargo test --release --test timit_run -- --ignored`;
/// optionally $LSNN_TIMIT_SECONDS (utterance length, e.g. 3 for TIMIT's typical utterance)
/// and $LSNN_TIMIT_SPEAKERS (training speakers, 4 utterances each).
#[test]
#[ignore]
fn write_corpus_for_manual_runs() {
    let out = std::env::var("LSNN_TIMIT_CORPUS_OUT").expect("set LSNN_TIMIT_CORPUS_OUT");
    let mut spec = corpus_spec();
    if let Ok(s) = std::env::var("LSNN_TIMIT_SECONDS") {
        spec.seconds = s.parse().expect("LSNN_TIMIT_SECONDS: seconds");
    }
    if let Ok(s) = std::env::var("LSNN_TIMIT_SPEAKERS") {
        spec.train_speakers = s.parse().expect("LSNN_TIMIT_SPEAKERS: a count");
    }
    write_synthetic_timit(Path::new(&out), &spec).unwrap();
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lsnn-gpu"))
}

/// Runs the binary; returns (success, stderr, the last stdout line as JSON).
fn run(cmd: &mut Command) -> (bool, String, serde_json::Value) {
    let (ok, _, stderr, json) = common::cli::run_command(cmd);
    (ok, stderr, json)
}

/// The GPU adapter unless the run opted out of GPU tests (then the CPU reference).
fn device() -> &'static str {
    common::cli::run_device("TIMIT run")
}

/// The paper's config scaled to a test: 60 neurons, batches of 8, 60 iterations.
const SMALL: [&str; 12] = [
    "--set",
    "model.n_regular=45",
    "--set",
    "model.n_adaptive=15",
    "--set",
    "train.batch_size=8",
    "--set",
    "train.lr_decay_every=0",
    "--set",
    "eval.every=20",
    "--set",
    "eval.batch_size=8",
];

#[test]
fn missing_corpus_says_what_is_expected_and_where() {
    let (ok, _, json) = run(bin()
        .args(["run", "configs/timit.yaml", "--device", "cpu"])
        .env_remove("TIMIT_DIR"));
    assert!(!ok);
    let msg = json["error"].as_str().unwrap();
    assert!(
        msg.contains("data.path") && msg.contains("TIMIT_DIR") && msg.contains("TRAIN/"),
        "{msg}"
    );
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, json) = run(bin().args([
        "run",
        "configs/timit.yaml",
        "--device",
        "cpu",
        "--set",
        &format!("data.path={}", dir.path().join("nowhere").display()),
    ]));
    assert!(!ok);
    let msg = json["error"].as_str().unwrap();
    assert!(msg.contains("nowhere") && msg.contains("TRAIN"), "{msg}");
}

#[test]
fn timit_run_on_generated_corpus_learns_the_phones() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    write_synthetic_timit(&corpus, &corpus_spec()).unwrap();
    let cache = dir.path().join("cache");
    let out = dir.path().join("run");
    let (ok, stderr, json) = run(bin()
        .args(["run", "configs/timit.yaml", "--device", device()])
        .args(["--set", &format!("data.path={}", corpus.display())])
        .args(["--set", &format!("data.cache_dir={}", cache.display())])
        .args(["--set", "train.iterations=60"])
        .args(SMALL)
        .args(["--out", out.to_str().unwrap()]));
    assert!(ok, "{json}\n{stderr}");
    assert!(stderr.contains("features cached in"), "{stderr}");
    let report = &json["summary"]["task_report"];
    let err61 = report["test_frame_error_61"].as_f64().unwrap();
    let err39 = report["test_frame_error_39"].as_f64().unwrap();
    let val61 = report["validation_frame_error_61"].as_f64().unwrap();
    assert!(report["validation_frame_error_39"].as_f64().unwrap() <= val61 + 1e-9);
    assert!(err39 <= err61 + 1e-9, "folding can only merge classes");
    // Chance: always answering the most common phone of the test frames.
    let frames: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("frame_errors.json")).unwrap())
            .unwrap();
    let rows: Vec<u64> = frames["confusion_61"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_u64().unwrap())
                .sum()
        })
        .collect();
    let total: u64 = rows.iter().sum();
    let majority_error = 1.0 - *rows.iter().max().unwrap() as f64 / total as f64;
    eprintln!(
        "frame error 61: test {err61:.3}, validation {val61:.3}; 39: test {err39:.3}; majority-class error {majority_error:.3}"
    );
    assert!(
        err61 < 0.5 && err61 < majority_error - 0.25,
        "test frame error {err61} is not far below the majority-class error {majority_error}"
    );
    for f in [
        "confusion_61.png",
        "confusion_39.png",
        "per_phone_error.png",
        "per_phone_error.csv",
        "learning_curves.png",
        "raster.png",
        "metrics.jsonl",
        "best.safetensors",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let csv = std::fs::read_to_string(out.join("per_phone_error.csv")).unwrap();
    assert_eq!(csv.lines().count(), 62, "header + 61 phones");
    // `plot` redraws the confusion figures from frame_errors.json alone, pixel for pixel.
    let mut plot = bin();
    plot.args(["plot", out.to_str().unwrap()])
        .env("TIMIT_DIR", &corpus);
    common::cli::assert_plot_redraws(
        &mut plot,
        &out,
        &[
            "confusion_61.png",
            "confusion_39.png",
            "per_phone_error.png",
        ],
    );

    // Second run: the corpus named by TIMIT_DIR, the features loaded from the cache, and
    // spike-encoded input (78 channels) instead of analog.
    let (ok, stderr, json) = run(bin()
        .args(["run", "configs/timit.yaml", "--device", device()])
        .env("TIMIT_DIR", &corpus)
        .args(["--set", &format!("data.cache_dir={}", cache.display())])
        .args(["--set", "train.iterations=1"])
        .args(["--set", "task.frame_input=spikes"])
        .args(SMALL)
        .args(["--out", dir.path().join("run2").to_str().unwrap()]));
    assert!(ok, "{json}\n{stderr}");
    assert!(stderr.contains("features loaded from"), "{stderr}");
    let (net, _) =
        lsnn_gpu::model::checkpoint::load_checkpoint(&dir.path().join("run2/last.safetensors"))
            .unwrap();
    assert_eq!(net.n_in(), 78, "two spike channels per feature");
}
