//! Running the `lsnn-gpu` binary from the integration tests.

use std::process::Command;

/// Runs a prepared command; returns (success, stdout, stderr, the last stdout line parsed as
/// JSON: every command ends with one).
pub fn run_command(cmd: &mut Command) -> (bool, String, String, serde_json::Value) {
    let out = cmd.output().expect("run lsnn-gpu");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let last = stdout
        .lines()
        .last()
        .unwrap_or_else(|| panic!("no stdout; stderr: {stderr}"));
    let json = serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("last line is not JSON ({e}): {last}\nstderr: {stderr}"));
    (out.status.success(), stdout, stderr, json)
}

/// `--device` for a run of `what`: the GPU adapter, or the CPU reference when the run opted
/// out of GPU tests (said on stderr).
pub fn run_device(what: &str) -> &'static str {
    if super::gpu::opted_out() {
        eprintln!("LSNN_SKIP_GPU_TESTS=1: {what} on the CPU reference");
        "cpu"
    } else {
        "gpu"
    }
}

/// Removes `figures` from the run directory `dir`, runs `plot` (a prepared `lsnn-gpu plot DIR`
/// command, with whatever environment the task needs) and asserts that each figure is drawn
/// again from the data beside it, byte for byte the run's.
pub fn assert_plot_redraws(plot: &mut Command, dir: &std::path::Path, figures: &[&str]) {
    let drawn: Vec<Vec<u8>> = figures
        .iter()
        .map(|f| std::fs::read(dir.join(f)).unwrap())
        .collect();
    for f in figures {
        std::fs::remove_file(dir.join(f)).unwrap();
    }
    let (ok, _, stderr, json) = run_command(plot);
    assert!(ok, "{json}\n{stderr}");
    for (f, before) in figures.iter().zip(&drawn) {
        assert!(
            std::fs::read(dir.join(f)).unwrap() == *before,
            "{f} redrawn from its data differs from the run's"
        );
    }
}
