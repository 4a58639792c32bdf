//! `cargo bench`: one training iteration at the sequential-MNIST size on the GPU adapter (any
//! wgpu adapter, software ones too), the native engine and the CPU reference, in the same run
//! (the same code as `lsnn-gpu bench`).
//! Batch sizes from LSNN_BENCH_BATCHES (comma-separated, default 16); each batch size dense
//! and with DEEP R at the paper's 12 % connectivity, side by side.

use lsnn_gpu::bench::{run_bench, to_json};
use lsnn_gpu::config::{Config, DeviceKind};
use lsnn_gpu::device::select;

fn main() -> anyhow::Result<()> {
    let cfg = Config::load(std::path::Path::new("configs/bench_smnist_size.yaml"), &[])?;
    let batches: Vec<usize> = std::env::var("LSNN_BENCH_BATCHES")
        .unwrap_or_else(|_| "16".into())
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?;
    let selected = select(DeviceKind::Gpu, None, None)?;
    for r in run_bench(&cfg, &selected, &batches, &[1.0, 0.12], 2, 2, 1)? {
        println!("{}", to_json(&r));
    }
    Ok(())
}
