//! `lsnn-gpu run configs/l2l_tn.yaml`, scaled down: the outer loop of learning-to-learn trains
//! through the regression readout, and its validation MSE on unseen target networks falls.
//! (The comparison with the baselines and the probing of issue 6 are not there yet.)

mod common;

use std::process::Command;

#[test]
fn l2l_outer_loop_lowers_the_mse_on_unseen_tasks() {
    let device = common::cli::run_device("learning-to-learn run");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lsnn-gpu"));
    cmd.args(["run", "configs/l2l_tn.yaml", "--device", device]);
    for set in [
        "task.pairs_per_episode=40",
        "task.neurons_per_value=20",
        "model.n_regular=30",
        "model.n_adaptive=20",
        "data.validation_size=10",
        "eval.every=10",
        "train.iterations=40",
        "train.learning_rate=0.005",
    ] {
        cmd.args(["--set", set]);
    }
    cmd.args(["--out", out.to_str().unwrap()]);
    let (ok, _, stderr, json) = common::cli::run_command(&mut cmd);
    assert!(ok, "{json}\n{stderr}");
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let validation: Vec<f64> = metrics
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["validation_loss"].as_f64())
        .collect();
    assert_eq!(validation.len(), 4, "{metrics}");
    let (first, last) = (validation[0], *validation.last().unwrap());
    eprintln!("validation MSE {validation:?}");
    assert!(
        last.is_finite() && last < 0.6 * first,
        "validation MSE did not fall: {validation:?}"
    );
    // The best checkpoint is the one with the lowest validation MSE.
    let best = json["summary"]["best_validation_accuracy"]
        .as_f64()
        .unwrap();
    let lowest = validation.iter().cloned().fold(f64::INFINITY, f64::min);
    assert!(
        (best + lowest).abs() < 1e-6,
        "best {best} vs lowest MSE {lowest}"
    );
    assert!(out.join("best.safetensors").exists());
}
