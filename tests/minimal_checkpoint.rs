//! A checkpoint holding only the required metadata keys (docs/formats.md), written the way a
//! few lines of numpy + safetensors write one (f32 tensors, int64 labels, no `n_regular`,
//! `noise_std` or `n_delay`, no delay tensors), goes through the reader `grads` uses and
//! through `lsnn-gpu grads --device cpu`, with the same numbers as the full file lsnn-gpu
//! writes for the same network.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use ndarray::{Array1, Array2, Array3};
use safetensors::tensor::TensorView;
use safetensors::Dtype;

use lsnn_gpu::cpu::CpuEngine;
use lsnn_gpu::engine::{Engine, GradientReport};
use lsnn_gpu::model::checkpoint::{
    load_batch, load_checkpoint, load_gradients, save_batch, save_checkpoint,
};
use lsnn_gpu::model::init::constraints;
use lsnn_gpu::model::{Batch, Network, Readout};

const N_IN: usize = 5;
const N_REGULAR: usize = 4;
const N_ADAPTIVE: usize = 3;
const N_REC: usize = N_REGULAR + N_ADAPTIVE;
const N_OUT: usize = 3;
const T: usize = 30;
const B: usize = 2;

/// A small deterministic sequence of numbers in [−1, 1) (no RNG crate needed).
fn wave(i: usize, salt: usize) -> f32 {
    (((i * 7919 + salt * 104_729) % 2000) as f32) / 1000.0 - 1.0
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Writes `path` as `safetensors.numpy.save_file(tensors, path, metadata=meta)` would.
fn save_file(path: &Path, tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)], meta: &[(&str, &str)]) {
    let views: Vec<(&str, TensorView)> = tensors
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            (
                *name,
                TensorView::new(*dtype, shape.clone(), bytes).unwrap(),
            )
        })
        .collect();
    let meta: HashMap<String, String> = meta
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    std::fs::write(path, safetensors::serialize(views, Some(meta)).unwrap()).unwrap();
}

/// The network's tensors, as numpy would hold them.
struct Weights {
    w_in: Vec<f32>,
    w_rec: Vec<f32>,
    w_out: Vec<f32>,
    b_out: Vec<f32>,
    tau_m: Vec<f32>,
    tau_a: Vec<f32>,
    beta: Vec<f32>,
    thr: Vec<f32>,
}

fn weights() -> Weights {
    Weights {
        w_in: (0..N_IN * N_REC).map(|i| 1.5 * wave(i, 1)).collect(),
        w_rec: (0..N_REC * N_REC)
            .map(|i| {
                if i / N_REC == i % N_REC {
                    0.0
                } else {
                    0.8 * wave(i, 2)
                }
            })
            .collect(),
        w_out: (0..N_REC * N_OUT).map(|i| wave(i, 3)).collect(),
        b_out: (0..N_OUT).map(|i| 0.1 * wave(i, 4)).collect(),
        tau_m: (0..N_REC).map(|j| 10.0 + j as f32).collect(),
        tau_a: (0..N_REC).map(|j| 100.0 + 20.0 * j as f32).collect(),
        beta: (0..N_REC)
            .map(|j| {
                if j < N_REGULAR {
                    0.0
                } else {
                    1.0 + 0.3 * j as f32
                }
            })
            .collect(),
        thr: vec![0.05; N_REC],
    }
}

fn write_minimal_files(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let w = weights();
    let params = dir.join("params.safetensors");
    save_file(
        &params,
        &[
            ("w_in", Dtype::F32, vec![N_IN, N_REC], f32_bytes(&w.w_in)),
            ("w_rec", Dtype::F32, vec![N_REC, N_REC], f32_bytes(&w.w_rec)),
            ("w_out", Dtype::F32, vec![N_REC, N_OUT], f32_bytes(&w.w_out)),
            ("b_out", Dtype::F32, vec![N_OUT], f32_bytes(&w.b_out)),
            ("tau_m", Dtype::F32, vec![N_REC], f32_bytes(&w.tau_m)),
            ("tau_a", Dtype::F32, vec![N_REC], f32_bytes(&w.tau_a)),
            ("beta", Dtype::F32, vec![N_REC], f32_bytes(&w.beta)),
            ("thr", Dtype::F32, vec![N_REC], f32_bytes(&w.thr)),
        ],
        // Exactly the required keys of docs/formats.md.
        &[
            ("format", "lsnn-gpu/1"),
            ("dt", "1.0"),
            ("dampening", "0.3"),
            ("n_ref", "2"),
            ("tau_out", "20.0"),
            ("readout", "window:8"),
            ("reg_coeff", "0.1"),
            ("reg_rate_hz", "10.0"),
        ],
    );
    // Input spikes on about a third of the entries; labels as numpy's default int64.
    let x: Vec<f32> = (0..T * B * N_IN)
        .map(|i| if wave(i, 5) < -0.3 { 1.0 } else { 0.0 })
        .collect();
    let labels: Vec<u8> = [2i64, 0].iter().flat_map(|v| v.to_le_bytes()).collect();
    let batch = dir.join("batch.safetensors");
    save_file(
        &batch,
        &[
            ("x", Dtype::F32, vec![T, B, N_IN], f32_bytes(&x)),
            ("labels", Dtype::I64, vec![B], labels),
        ],
        &[],
    );
    (params, batch)
}

fn cpu_gradients(net: &Network, batch: &Batch) -> GradientReport {
    let c = constraints(net.n_in(), net.n_rec(), net.n_out(), None);
    let mut engine = CpuEngine::new(net.clone(), c);
    engine.gradients(batch, 0).unwrap()
}

#[test]
fn checkpoint_with_only_the_required_keys_goes_through_the_grads_reader() {
    let dir = tempfile::tempdir().unwrap();
    let (params, batch_path) = write_minimal_files(dir.path());

    // The reader of `grads`: load_checkpoint, then load_batch with the network's readout.
    let (net, train) = load_checkpoint(&params).unwrap();
    assert!(train.is_none());
    assert_eq!(net.n_regular, N_REGULAR, "n_regular from the leading β = 0");
    assert_eq!(net.sim.noise_std, 0.0);
    assert_eq!(net.sim.n_delay, 1);
    assert_eq!(net.sim.readout, Readout::Window(8));
    assert!(net.delay_in.iter().chain(&net.delay_rec).all(|&d| d == 0));
    let w = weights();
    assert_eq!(
        net.params.w_rec,
        Array2::from_shape_vec((N_REC, N_REC), w.w_rec).unwrap()
    );
    assert_eq!(net.neurons.beta, Array1::from_vec(w.beta));
    let batch = load_batch(&batch_path, net.sim.readout).unwrap();
    assert_eq!(batch.x.dim(), (T, B, N_IN));

    // The same network and batch as lsnn-gpu writes them (every key, i32 labels) give the
    // same numbers, bit for bit.
    let full = dir.path().join("full.safetensors");
    save_checkpoint(&full, &net, None).unwrap();
    let (net_full, _) = load_checkpoint(&full).unwrap();
    assert_eq!(net_full, net);
    let full_batch = dir.path().join("full_batch.safetensors");
    save_batch(&full_batch, &batch).unwrap();
    let batch_full = load_batch(&full_batch, net.sim.readout).unwrap();
    assert_eq!(batch_full, batch);

    let a = cpu_gradients(&net, &batch);
    let b = cpu_gradients(&net_full, &batch_full);
    assert_eq!(a.stats.loss.to_bits(), b.stats.loss.to_bits());
    assert_eq!(a.grads, b.grads);
    assert_eq!(a.spikes, b.spikes);
    assert!(a.stats.loss.is_finite() && a.grads.iter().any(|&g| g != 0.0));
    assert!(
        a.spikes.iter().any(|&z| z != 0.0),
        "the case should spike, or it tests little"
    );
}

#[test]
fn checkpoint_with_only_the_required_keys_goes_through_grads_on_the_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let (params, batch) = write_minimal_files(dir.path());
    let out = dir.path().join("grads.safetensors");
    let output = Command::new(env!("CARGO_BIN_EXE_lsnn-gpu"))
        .args(["grads", "--device", "cpu", "--params"])
        .arg(&params)
        .arg("--batch")
        .arg(&batch)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "grads failed: {stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(json["command"], "grads", "{json}");

    let g = load_gradients(&out).unwrap();
    let (net, _) = load_checkpoint(&params).unwrap();
    let expected = cpu_gradients(&net, &load_batch(&batch, net.sim.readout).unwrap());
    assert_eq!(g.loss.to_bits(), expected.stats.loss.to_bits());
    assert_eq!(g.grads, expected.grads);
    let z: Array3<f32> = expected.spikes.mapv(|v| if v != 0.0 { 1.0 } else { 0.0 });
    assert_eq!(g.spikes, z);
}
