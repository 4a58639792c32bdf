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
