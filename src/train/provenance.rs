//! `provenance.json` of a run directory: where its numbers come from. One entry per session
//! of the run (`run`, then each `resume`, appended, never overwritten): the lsnn-gpu version,
//! the git commit it was built from (when built from a checkout, see `build.rs`), the command
//! line, the UTC start time, and the device, adapter, backend and driver (as `devices.jsonl`).

use std::path::Path;

use anyhow::Context as _;
use serde_json::json;

use crate::files::write_json_atomic;

pub const FILE: &str = "provenance.json";

/// The commit of HEAD when this binary was built; None outside a git checkout.
pub fn git_commit() -> Option<&'static str> {
    option_env!("LSNN_GIT_COMMIT").filter(|c| !c.is_empty())
}

/// Appends this session's entry to `dir/provenance.json` (atomically). `device` is what
/// `device::describe_selected` says; `resumed_at` the checkpoint's iteration of a resume.
pub fn record(
    dir: &Path,
    command: &str,
    command_line: &[String],
    device: serde_json::Value,
    resumed_at: Option<usize>,
) -> anyhow::Result<()> {
    let path = dir.join(FILE);
    let mut doc = match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .filter(|v| v["sessions"].is_array())
            .with_context(|| {
                format!(
                    "{}: not a provenance file ({{\"sessions\": [...]}}); move it away to continue",
                    path.display()
                )
            })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({ "sessions": [] }),
        Err(e) => anyhow::bail!("cannot read {}: {e}", path.display()),
    };
    let entry = json!({
        "command": command,
        "lsnn_gpu_version": env!("CARGO_PKG_VERSION"),
        "git_commit": git_commit(),
        "command_line": command_line,
        "started_utc": super::run_dir::timestamp(),
        "resumed_at": resumed_at,
        "device": device,
    });
    if let Some(sessions) = doc["sessions"].as_array_mut() {
        sessions.push(entry);
    }
    write_json_atomic(&path, &doc)
}
