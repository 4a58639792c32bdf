//! Choosing where to compute: a wgpu adapter or the CPU reference (`--device auto|gpu|cpu`).

use anyhow::anyhow;

use crate::config::{BackendKind, Config, DeviceKind};
use crate::cpu::CpuEngine;
use crate::engine::Engine;
use crate::gpu::context::NO_ADAPTER_HELP;
use crate::gpu::{DeviceRequest, GpuContext, GpuEngine};
use crate::model::Network;

/// Where the numbers will be computed.
pub enum Selected {
    Gpu(Box<GpuContext>),
    Cpu,
}

impl Selected {
    pub fn name(&self) -> String {
        match self {
            Selected::Gpu(ctx) => ctx.info.name.clone(),
            Selected::Cpu => "cpu reference".to_string(),
        }
    }
    pub fn backend(&self) -> String {
        match self {
            Selected::Gpu(ctx) => ctx.backend_name(),
            Selected::Cpu => "cpu".to_string(),
        }
    }
    pub fn device_label(&self) -> &'static str {
        match self {
            Selected::Gpu(_) => "gpu",
            Selected::Cpu => "cpu",
        }
    }
}

/// Resolves the device of the config (already merged with the command line).
/// `auto` falls back to the CPU reference with a one-line notice on stderr.
pub fn select(
    kind: DeviceKind,
    backend: Option<BackendKind>,
    adapter: Option<String>,
) -> anyhow::Result<Selected> {
    let request = DeviceRequest { backend, adapter };
    match kind {
        DeviceKind::Cpu => Ok(Selected::Cpu),
        DeviceKind::Gpu => GpuContext::open(&request)
            .map(|c| Selected::Gpu(Box::new(c)))
            .map_err(|e| anyhow!("--device gpu: {e:#}").context(NO_ADAPTER_HELP)),
        DeviceKind::Auto => match GpuContext::open(&request) {
            Ok(ctx) => Ok(Selected::Gpu(Box::new(ctx))),
            Err(e) => {
                eprintln!("notice: no GPU adapter ({e:#}); using the CPU reference (slow). See `lsnn-gpu devices`.");
                Ok(Selected::Cpu)
            }
        },
    }
}

/// Selects the device named by the config's `device` section.
pub fn select_from_config(cfg: &Config) -> anyhow::Result<Selected> {
    select(
        cfg.device.kind,
        cfg.device.backend,
        cfg.device.adapter.clone(),
    )
}

/// A training engine for `network` on the selected device.
pub fn build_engine(
    selected: &Selected,
    network: Network,
    constraints: &[u32],
    cfg: &Config,
) -> anyhow::Result<Box<dyn Engine>> {
    Ok(match selected {
        Selected::Cpu => Box::new(CpuEngine::new(network, constraints.to_vec())),
        Selected::Gpu(ctx) => Box::new(GpuEngine::new(
            (**ctx).clone(),
            network,
            constraints,
            cfg.device.workgroup_size,
            cfg.device.chunk_steps,
        )?),
    })
}
