//! `lsnn-gpu run configs/l2l_tn.yaml`, scaled down: the outer loop of learning-to-learn trains
//! through the regression readout, its validation MSE on unseen target networks falls, and the
//! final evaluation writes the error curves against the baselines, the internal model and
//! their figures, with the numbers in the summary line.

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
        "eval.l2l.test_episodes=12",
        "eval.l2l.backprop_at_pairs=[0, 5, 39, 60]",
        "eval.l2l.backprop_episodes=3",
        "eval.l2l.probe_after_pairs=[0, 5, 20]",
        "eval.l2l.probe_grid=4",
        "eval.l2l.probe_episodes=2",
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
    let best = json["summary"]["best_validation_loss"].as_f64().unwrap();
    assert!(json["summary"]["best_validation_accuracy"].is_null());
    let lowest = validation.iter().cloned().fold(f64::INFINITY, f64::min);
    assert!(
        (best - lowest).abs() < 1e-6,
        "best {best} vs lowest MSE {lowest}"
    );
    assert!(out.join("best.safetensors").exists());

    // The final evaluation on unseen tasks: every number under a key naming its learner.
    let report = &json["summary"]["task_report"];
    eprintln!("{report}");
    for key in [
        "lsnn_mse",
        "lsnn_mse_late",
        "baseline_optimal_linear_mse",
        "baseline_online_linear_mse",
        "baseline_online_linear_mse_late",
        "baseline_family_mean_mse",
        "baseline_online_mean_mse",
        "baseline_online_mean_mse_late",
    ] {
        let v = report[key].as_f64().unwrap_or(f64::NAN);
        assert!(v.is_finite() && v >= 0.0, "{key}: {report}");
    }
    assert_eq!(report["test_episodes"], 12);
    assert_eq!(report["late_pairs_from"], 32);
    // Pair 60 lies beyond the episode of 40 pairs: left out.
    let bp = report["baseline_backprop_fresh_net_mse_at_pair"]
        .as_object()
        .unwrap();
    assert_eq!(bp.keys().collect::<Vec<_>>(), ["0", "39", "5"]);
    // The evaluation's LSNN error is the validation loss's measure: the mean squared error of
    // the trained network, far below the error of its first evaluation.
    assert!(
        report["lsnn_mse"].as_f64().unwrap() < 0.6 * first,
        "{report}"
    );
    for file in [
        "l2l_eval.json",
        "l2l_error_curves.csv",
        "l2l_error_curves.png",
        "l2l_internal_model.json",
        "l2l_internal_model.png",
        "learning_curves.png",
    ] {
        assert!(out.join(file).exists(), "{file} missing");
    }
    let csv = std::fs::read_to_string(out.join("l2l_error_curves.csv")).unwrap();
    assert_eq!(csv.lines().count(), 41, "{csv}");
    // `plot` redraws both figures from their JSON alone, pixel for pixel the run's.
    let mut plot = Command::new(env!("CARGO_BIN_EXE_lsnn-gpu"));
    plot.args(["plot", out.to_str().unwrap()]);
    common::cli::assert_plot_redraws(
        &mut plot,
        &out,
        &["l2l_error_curves.png", "l2l_internal_model.png"],
    );
    let model: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("l2l_internal_model.json")).unwrap(),
    )
    .unwrap();
    let episodes = model["episodes"].as_array().unwrap();
    assert_eq!(episodes.len(), 2);
    for ep in episodes {
        // Three probe times, a 4 × 4 grid each; every prediction a finite number.
        let preds = ep["predictions"].as_array().unwrap();
        assert_eq!(preds.len(), 3);
        for p in preds {
            let p = p.as_array().unwrap();
            assert_eq!(p.len(), 16);
            assert!(p.iter().all(|v| v.as_f64().is_some_and(f64::is_finite)));
        }
        assert_eq!(ep["truth"].as_array().unwrap().len(), 16);
        assert_eq!(ep["shown"].as_array().unwrap().len(), 20);
    }
}
