//! The meta-RL agent on the engines: a recomputed forward pass reproduces the rollout's
//! log-probabilities exactly; PPO's gradient reaches the network through the surrogate
//! regression targets exactly (checked on the output bias, where ∂y/∂b = 1) and the GPU's
//! BPTT of it matches the CPU reference; a minibatch of a rollout's episodes recomputes their
//! outputs exactly; `lsnn-gpu run configs/meta_rl.yaml` (scaled down)
//! trains, evaluates against the baselines, draws its figures, and resumes exactly.

mod common;

use std::process::Command;

use lsnn_gpu::config::Config;
use lsnn_gpu::cpu::CpuEngine;
use lsnn_gpu::engine::Engine;
use lsnn_gpu::gpu::GpuEngine;
use lsnn_gpu::model::init::initialise;
use lsnn_gpu::model::{Batch, Targets};
use lsnn_gpu::native::NativeEngine;
use lsnn_gpu::rl::agent::{
    recompute_outputs, rollout, samples, surrogate_targets, LogStd, RolloutPlan, N_OUTPUTS,
};
use lsnn_gpu::rl::gae::advantages_with;
use lsnn_gpu::rl::ppo_loss::{gaussian_log_prob, ppo_loss};
use ndarray::{s, Array2, Array3};

/// A small agent: 30 neurons, DEEP R off, episodes of 0.5 s (50 actions of 10 steps).
fn small_config() -> Config {
    let mut cfg = Config::load(
        std::path::Path::new("configs/meta_rl.yaml"),
        &[
            "model.n_regular=20".into(),
            "model.n_adaptive=10".into(),
            "rl.arena.episode_seconds=0.5".into(),
            "rewiring=".into(),
        ],
    )
    .expect("config");
    cfg.train.batch_size = 3;
    cfg
}

fn engines(cfg: &Config) -> (Vec<Box<dyn Engine>>, usize) {
    let n_in = cfg.rl.place_cells.n_channels();
    let init = initialise(&cfg.init_settings(), n_in, N_OUTPUTS);
    let mut out: Vec<Box<dyn Engine>> = vec![
        Box::new(CpuEngine::new(
            init.network.clone(),
            init.constraints.clone(),
        )),
        Box::new(NativeEngine::new(
            init.network.clone(),
            init.constraints.clone(),
        )),
    ];
    if let Some((ctx, _guard)) = require_gpu!() {
        out.push(Box::new(
            GpuEngine::new(ctx, init.network, &init.constraints, None, 64).expect("GPU engine"),
        ));
    }
    (out, n_in)
}

#[test]
fn recomputed_forward_pass_reproduces_the_rollouts_log_probabilities() {
    let cfg = small_config();
    let (mut engines, _) = engines(&cfg);
    let k = cfg.task.steps_per_frame;
    let log_std = LogStd::new(-0.5);
    for engine in engines.iter_mut() {
        let plan = RolloutPlan {
            steps_per_action: k,
            dt_ms: 1.0,
            seed: 3,
            stochastic: true,
            traced: 1,
        };
        let roll = rollout(engine.as_mut(), &cfg.rl, &log_std, &plan, &[0, 1, 2]).expect("rollout");
        assert_eq!(roll.x.dim().0, 500);
        assert!(roll.x.iter().any(|&v| v != 0.0), "no input spikes");
        let y = recompute_outputs(engine.as_mut(), &roll.x, k).expect("recompute");
        assert_eq!(
            y.mapv(f32::to_bits),
            roll.outputs.mapv(f32::to_bits),
            "{}: recomputed outputs differ from the rollout's",
            engine.describe()
        );
        for a in 0..y.dim().0 {
            for e in 0..3 {
                let mean = [y[[a, e, 0]] as f64, y[[a, e, 1]] as f64];
                let act = [roll.actions[[a, e, 0]], roll.actions[[a, e, 1]]];
                let lp = gaussian_log_prob(mean, log_std.value, act);
                assert_eq!(lp.to_bits(), roll.log_probs[[a, e]].to_bits());
            }
        }
        // The outputs move (else the check above would be empty).
        assert!(y.iter().any(|&v| v != y[[0, 0, 0]]));
        assert_eq!(roll.traces.len(), 1);
        // A PPO minibatch (episodes 1 and 2 alone) recomputes the same outputs: the episodes
        // of a batch do not interact.
        let part = roll.episodes(1..3);
        assert_eq!(part.rewards, roll.rewards.slice(s![.., 1..3]));
        assert_eq!(part.log_probs, roll.log_probs.slice(s![.., 1..3]));
        assert_eq!(part.goals, roll.goals[1..3]);
        let y_part = recompute_outputs(engine.as_mut(), &part.x, k).expect("recompute");
        assert_eq!(
            y_part.mapv(f32::to_bits),
            roll.outputs.slice(s![.., 1..3, ..]).mapv(f32::to_bits),
            "{}: a minibatch's outputs differ from the rollout's",
            engine.describe()
        );
    }
}

#[test]
fn ppo_gradient_reaches_the_network_exactly_and_the_engines_match_the_reference() {
    let cfg = small_config();
    let (mut engines, _) = engines(&cfg);
    let k = cfg.task.steps_per_frame;
    let log_std = LogStd::new(-0.5);
    let mut grads_of = Vec::new();
    // One rollout (on the CPU reference), used by every engine.
    let plan = RolloutPlan {
        steps_per_action: k,
        dt_ms: 1.0,
        seed: 4,
        stochastic: true,
        traced: 0,
    };
    let roll = rollout(engines[0].as_mut(), &cfg.rl, &log_std, &plan, &[0, 1, 2]).unwrap();
    let (actions_n, b) = roll.rewards.dim();
    let mut values = Array2::<f32>::zeros((actions_n + 1, b));
    values
        .slice_mut(s![..actions_n, ..])
        .assign(&roll.outputs.slice(s![.., .., 2]));
    let adv = advantages_with(&cfg.rl.gae, roll.rewards.view(), values.view()).unwrap();
    for engine in engines.iter_mut() {
        let y = recompute_outputs(engine.as_mut(), &roll.x, k).unwrap();
        // Other log-probabilities than the rollout's (as in a later epoch): ratios ≠ 1.
        let mut sm = samples(&roll, &y, &LogStd::new(-0.4), &adv.advantages, &adv.returns);
        for s in sm.iter_mut() {
            s.advantage = s.advantage.signum() * (1.0 + s.advantage.abs());
        }
        let out = ppo_loss(&cfg.rl.ppo, &sm).unwrap();
        let mut g = Array3::<f64>::zeros(y.dim());
        for (i, gr) in out.grads.iter().enumerate() {
            let (a, e) = (i / b, i % b);
            g[[a, e, 0]] = gr.d_mean[0];
            g[[a, e, 1]] = gr.d_mean[1];
            g[[a, e, 2]] = gr.d_value;
        }
        let targets = surrogate_targets(&y, &g);
        let steps = roll.x.dim().0;
        let mut values = Array3::from_elem((steps, b, N_OUTPUTS), f32::NAN);
        for a in 0..actions_n {
            values
                .slice_mut(s![(a + 1) * k - 1, .., ..])
                .assign(&targets.slice(s![a, .., ..]));
        }
        let batch = Batch {
            x: roll.x.clone(),
            targets: Targets::FrameValues(values),
        };
        let report = engine.gradients(&batch, 0).unwrap();
        // ∂L/∂b_out[o] = Σ over actions of ∂L/∂y_o: the surrogate targets carry PPO's
        // gradient exactly (f32 rounding of τ = y − g·n/2 and of the sums: 1e-4 relative).
        let net = engine.network().unwrap();
        let off = net.params.layout().b_out().offset;
        for o in 0..N_OUTPUTS {
            let want: f64 = g.slice(s![.., .., o]).sum();
            let got = report.grads[off + o] as f64;
            assert!(
                (got - want).abs() <= 1e-4 * want.abs() + 1e-7,
                "{}: dL/db_out[{o}] {got} vs PPO's {want}",
                engine.describe()
            );
            assert!(want.abs() > 1e-6, "a vanishing gradient checks nothing");
        }
        grads_of.push(report.grads);
    }
    assert!(grads_of.len() >= 2, "the native engine is always measured");
    // The native engine's and the GPU's BPTT of PPO's gradient against the CPU reference (as
    // the other kernel tests).
    for gpu in &grads_of[1..] {
        let cpu = &grads_of[0];
        let scale = cpu.iter().fold(0.0f32, |m, x| m.max(x.abs())) as f64;
        for (i, (&c, &g)) in cpu.iter().zip(gpu).enumerate() {
            let err = (c as f64 - g as f64).abs();
            assert!(
                err <= 1e-3 * (c as f64).abs() + 1e-4 * scale,
                "gradient {i}: engine {g} vs reference {c}"
            );
        }
    }
}

fn run(args: &[&str], sets: &[&str]) -> (bool, String, serde_json::Value) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lsnn-gpu"));
    cmd.args(args);
    for s in sets {
        cmd.args(["--set", s]);
    }
    let (ok, _, stderr, json) = common::cli::run_command(&mut cmd);
    (ok, stderr, json)
}

#[test]
fn meta_rl_run_evaluates_draws_and_resumes_exactly() {
    let device = common::cli::run_device("meta-RL run");
    let dir = tempfile::tempdir().unwrap();
    let sets = [
        "model.n_regular=24",
        "model.n_adaptive=16",
        "rl.arena.episode_seconds=0.5",
        "train.batch_size=4",
        "rl.epochs=2",
        "rl.minibatches=2",
        "rl.eval_episodes=6",
        "eval.batch_size=3",
        "eval.every=2",
        "rl.figure_episodes=2",
    ];
    let full = dir.path().join("full");
    let mut with_iters: Vec<&str> = sets.to_vec();
    with_iters.push("train.iterations=4");
    let (ok, stderr, json) = run(
        &[
            "run",
            "configs/meta_rl.yaml",
            "--device",
            device,
            "--out",
            full.to_str().unwrap(),
        ],
        &with_iters,
    );
    assert!(ok, "{json}\n{stderr}");
    let report = &json["summary"]["task_report"];
    for key in [
        "goals_per_episode",
        "baseline_random_walk_goals_per_episode",
        "baseline_oracle_goals_per_episode",
    ] {
        assert!(
            report[key].as_f64().is_some_and(f64::is_finite),
            "{key}: {report}"
        );
    }
    assert!(
        report["baseline_oracle_goals_per_episode"]
            .as_f64()
            .unwrap()
            >= 1.0,
        "{report}"
    );
    for file in [
        "metrics.jsonl",
        "last.safetensors",
        "rl_eval.json",
        "paths_before.png",
        "paths_after.png",
        "path_lengths.png",
        "goals_per_episode.png",
        "learning_curves.png",
        "raster.png",
        "connectivity.png",
    ] {
        assert!(full.join(file).exists(), "{file} missing");
    }
    // `lsnn-gpu plot` draws them again from the run's files.
    std::fs::remove_file(full.join("paths_after.png")).unwrap();
    let (ok, stderr, json) = run(&["plot", full.to_str().unwrap()], &[]);
    assert!(ok, "{json}\n{stderr}");
    assert!(full.join("paths_after.png").exists());
    assert_eq!(json["figures"].as_array().unwrap().len(), 6, "{json}");
    // Stopped after 2 updates and resumed to 4: the same metrics as the uninterrupted run.
    let part = dir.path().join("part");
    let mut two: Vec<&str> = sets.to_vec();
    two.push("train.iterations=2");
    let (ok, stderr, json) = run(
        &[
            "run",
            "configs/meta_rl.yaml",
            "--device",
            device,
            "--out",
            part.to_str().unwrap(),
        ],
        &two,
    );
    assert!(ok, "{json}\n{stderr}");
    let config = part.join("config.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("iterations: 2", "iterations: 4")).unwrap();
    let (ok, stderr, json) = run(&["resume", part.to_str().unwrap(), "--device", device], &[]);
    assert!(ok, "{json}\n{stderr}");
    assert_eq!(json["resumed_at"], 2);
    let keys = [
        "goals_per_episode",
        "mean_return",
        "loss",
        "approx_kl",
        "log_std",
    ];
    let lines = |d: &std::path::Path| -> Vec<serde_json::Value> {
        std::fs::read_to_string(d.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .map(|v| serde_json::Value::Array(keys.iter().map(|k| v[*k].clone()).collect()))
            .collect()
    };
    assert_eq!(lines(&full), lines(&part));
}
