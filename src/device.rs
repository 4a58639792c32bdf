//! Choosing where to compute (`--device auto|gpu|native|cpu`): a wgpu adapter, the native
//! engine on the host's cores, or the readable CPU reference.

use anyhow::anyhow;
use serde::{Deserialize, Serialize};

use crate::cpu::CpuEngine;
use crate::engine::Engine;
use crate::gpu::settings::BackendKind;
use crate::gpu::{DeviceRequest, GpuContext, GpuEngine};
use crate::model::Network;
use crate::native::NativeEngine;

/// Which engine computes (`device.kind`, `--device`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// A hardware GPU when wgpu finds one, else the native engine (the fastest path on a
    /// machine without a GPU: Mesa's software adapters are slower than it).
    #[default]
    Auto,
    /// A wgpu adapter (software adapters count).
    Gpu,
    /// The native engine: multi-threaded, event-driven, on the host's cores (`src/native/`).
    Native,
    /// The readable CPU reference (`src/cpu/`): the oracle of the tests, slow by design.
    Cpu,
}

/// The `device:` section of an experiment: owned here, aggregated by `config::Config`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeviceConfig {
    pub kind: DeviceKind,
    pub backend: Option<BackendKind>,
    /// Substring of the adapter name to select.
    pub adapter: Option<String>,
    /// Invocations per workgroup; `None` = chosen by adapter type (CPU adapters want few).
    pub workgroup_size: Option<u32>,
    /// Time steps per dispatch of the forward and backward sweeps (keeps each dispatch short
    /// enough for OS watchdogs and each time-chunk buffer under the storage-binding limit).
    pub chunk_steps: usize,
}

impl Default for DeviceConfig {
    fn default() -> Self {
        DeviceConfig {
            kind: DeviceKind::Auto,
            backend: None,
            adapter: None,
            workgroup_size: None,
            chunk_steps: 128,
        }
    }
}

/// Where the numbers will be computed.
pub enum Selected {
    Gpu(Box<GpuContext>),
    Native,
    Cpu,
}

impl Selected {
    pub fn name(&self) -> String {
        match self {
            Selected::Gpu(ctx) => ctx.info.name.clone(),
            Selected::Native => format!("native ({} threads)", NativeEngine::threads()),
            Selected::Cpu => "cpu reference".to_string(),
        }
    }
    pub fn backend(&self) -> String {
        match self {
            Selected::Gpu(ctx) => ctx.backend_name(),
            Selected::Native => "native".to_string(),
            Selected::Cpu => "cpu".to_string(),
        }
    }
    pub fn device_label(&self) -> &'static str {
        match self {
            Selected::Gpu(_) => "gpu",
            Selected::Native => "native",
            Selected::Cpu => "cpu",
        }
    }
}

/// Resolves the device of the config (already merged with the command line).
/// `auto` takes a hardware GPU, and otherwise the native engine, saying why on stderr: a
/// software adapter (llvmpipe, lavapipe, WARP) runs the kernels on the same CPU cores as the
/// native engine, several times slower (benches/RESULTS.md).
pub fn select(
    kind: DeviceKind,
    backend: Option<BackendKind>,
    adapter: Option<String>,
) -> anyhow::Result<Selected> {
    let request = DeviceRequest { backend, adapter };
    match kind {
        DeviceKind::Cpu => Ok(Selected::Cpu),
        DeviceKind::Native => Ok(Selected::Native),
        DeviceKind::Gpu => GpuContext::open(&request)
            .map(|c| Selected::Gpu(Box::new(c)))
            .map_err(|e| anyhow!("--device gpu: {e:#}")),
        DeviceKind::Auto => match GpuContext::open(&request) {
            Ok(ctx) if !ctx.is_cpu_adapter() => Ok(Selected::Gpu(Box::new(ctx))),
            Ok(ctx) => {
                crate::stderr::line!(
                    "device: the only adapter is a software one ({}); using the native engine on {} threads, which is faster (--device gpu to use the adapter)",
                    ctx.describe(),
                    NativeEngine::threads()
                );
                Ok(Selected::Native)
            }
            Err(e) => {
                crate::stderr::line!(
                    "device: no GPU adapter to use ({e:#}); using the native engine on {} threads. See `lsnn-gpu devices`.",
                    NativeEngine::threads()
                );
                Ok(Selected::Native)
            }
        },
    }
}

/// Selects the device named by the config's `device` section.
pub fn select_from_config(device: &DeviceConfig) -> anyhow::Result<Selected> {
    select(device.kind, device.backend, device.adapter.clone())
}

/// A training engine for `network` on the selected device.
pub fn build_engine(
    selected: &Selected,
    network: Network,
    constraints: &[u32],
    device: &DeviceConfig,
) -> anyhow::Result<Box<dyn Engine>> {
    Ok(match selected {
        Selected::Cpu => Box::new(CpuEngine::new(network, constraints.to_vec())),
        Selected::Native => Box::new(NativeEngine::new(network, constraints.to_vec())),
        Selected::Gpu(ctx) => Box::new(GpuEngine::new(
            (**ctx).clone(),
            network,
            constraints,
            device.workgroup_size,
            device.chunk_steps,
        )?),
    })
}

/// What a `run`/`resume` computes on (one line of `devices.jsonl`, and the `device` of each
/// provenance entry): the device, adapter, backend, and the driver or thread count.
pub fn describe_selected(selected: &Selected, command: &str) -> serde_json::Value {
    let mut line = serde_json::json!({
        "command": command,
        "device": selected.device_label(),
        "adapter": selected.name(),
        "backend": selected.backend(),
        "started_utc": crate::files::timestamp(),
    });
    match selected {
        Selected::Gpu(ctx) => {
            line["device_type"] = format!("{:?}", ctx.info.device_type).into();
            line["driver"] = format!("{} {}", ctx.info.driver, ctx.info.driver_info).into();
        }
        Selected::Native => line["threads"] = NativeEngine::threads().into(),
        Selected::Cpu => {}
    }
    line
}

/// Appends one line to `dir/devices.jsonl` saying where this session of a run computes
/// (`run`, or each `resume`): the device, adapter, backend, the native engine's threads and
/// the UTC start time. A run resumed elsewhere keeps the history of every machine it saw.
pub fn record_in_run_dir(
    selected: &Selected,
    dir: &std::path::Path,
    command: &str,
) -> anyhow::Result<()> {
    use std::io::Write;
    let line = describe_selected(selected, command);
    let path = dir.join("devices.jsonl");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| anyhow!("cannot write {}: {e}", path.display()))?;
    writeln!(file, "{line}").map_err(|e| anyhow!("cannot write {}: {e}", path.display()))?;
    Ok(())
}
