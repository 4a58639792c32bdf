//! Building a [`GpuEngine`]: the kernels compiled once (`kernels/`), the network uploaded and
//! the buffers that live as long as the engine (parameters, delays and row lists, constraint
//! codes, gradients, Adam moments and their backup, the step and DEEP R uniforms).

use anyhow::bail;

use super::{GpuEngine, F32};
use crate::gpu::context::GpuContext;
use crate::gpu::kernels::buf::storage_buffer;
use crate::gpu::kernels::{self, Buf, Kernel};
use crate::gpu::layout::{RewireUniform, StepUniform, REWIRE_STATS_LEN};
use crate::gpu::shader::ShaderConstants;
use crate::model::Network;

/// The compiled kernels (pipelines and bind-group layouts, `kernels/`).
pub(super) struct Pipelines {
    pub(super) forward: Kernel,
    pub(super) readout: Kernel,
    pub(super) loss_reduce: Kernel,
    pub(super) backward: Kernel,
    pub(super) batch_reduce: Kernel,
    pub(super) adam: Kernel,
    pub(super) deep_r_refill: Kernel,
    pub(super) sparse_rows: Kernel,
}

impl GpuEngine {
    /// Uploads the network and builds the pipelines. `workgroup_size` None = by adapter type.
    pub fn new(
        ctx: GpuContext,
        network: Network,
        constraints: &[u32],
        workgroup_size: Option<u32>,
        chunk_steps: usize,
    ) -> anyhow::Result<GpuEngine> {
        let n = network.n_rec();
        if n > crate::gpu::settings::MAX_NEURONS
            || network.n_in() > crate::gpu::settings::MAX_NEURONS
        {
            bail!(
                "the GPU kernels support at most {} neurons and inputs",
                crate::gpu::settings::MAX_NEURONS
            );
        }
        if network.n_out() > 256 {
            bail!("the GPU kernels support at most 256 readout classes");
        }
        let max_wg = ctx.device.limits().max_compute_invocations_per_workgroup;
        // Measured on lavapipe at the sMNIST size (benches/RESULTS.md): 32 and 64 invocations
        // are fastest, 16 and 128+ slower. GPUs want wide workgroups. Overridable with
        // device.workgroup_size.
        let wg = workgroup_size
            .unwrap_or(if ctx.is_cpu_adapter() { 64 } else { 128 })
            .min(max_wg);
        let constants = ShaderConstants::new(wg);
        let device = &ctx.device;
        let make = |name| Kernel::new(device, name, &constants);
        let pipelines = Pipelines {
            forward: make(kernels::alif_forward::NAME),
            readout: make(kernels::readout_loss::NAME),
            loss_reduce: make(kernels::loss_reduce::NAME),
            backward: make(kernels::alif_backward::NAME),
            batch_reduce: make(kernels::batch_reduce::NAME),
            adam: make(kernels::adam::NAME),
            deep_r_refill: make(kernels::deep_r_refill::NAME),
            sparse_rows: make(kernels::sparse_rows::NAME),
        };
        let p = network.params.len();
        let model = Buf::storage_init(device, "model", &Self::model_data(&network));
        let delays = Buf::storage_init(device, "delays", &Self::delay_data(&network));
        let constraints_buf = Buf::storage_init(device, "constraints", constraints);
        let grads = Buf::storage(device, "grads", p as u64 * F32);
        let moments = Buf::storage(device, "adam moments", 2 * p as u64 * F32);
        let backup = storage_buffer(device, "weights before the step", 3 * p as u64 * F32);
        let step_buf = Buf::uniform(device, "step uniform", &StepUniform::default());
        let rewire_buf = Buf::uniform(device, "rewire uniform", &RewireUniform::default());
        let rewire_stats_buf = Buf::storage(
            device,
            "rewire stats",
            (REWIRE_STATS_LEN * std::mem::size_of::<u32>()) as u64,
        );
        Ok(GpuEngine {
            ctx,
            network,
            constants,
            chunk_steps,
            pipelines,
            model,
            delays,
            constraints: constraints_buf,
            constraint_codes: constraints.to_vec(),
            grads,
            rewire_buf,
            rewire_stats_buf,
            deep_r: None,
            rewire_stats: None,
            moments,
            backup,
            step_counters: [0; REWIRE_STATS_LEN],
            step_buf,
            batch_res: None,
            profile: None,
            timer: None,
        })
    }
}
