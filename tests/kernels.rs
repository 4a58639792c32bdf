//! Per-kernel entry points: one kernel, run alone through its room (`src/gpu/kernels/`) on
//! random buffers, against its CPU twin (`src/cpu/<kernel>.rs`). The engine-level tests
//! (gpu_matches_reference, deep_r) hold whole iterations; these localise a difference to one
//! kernel.

mod common;

use lsnn_gpu::cpu::batch_reduce::batch_reduce;
use lsnn_gpu::gpu::context::map_read;
use lsnn_gpu::gpu::kernels::roles::{StorageRole, UniformRole};
use lsnn_gpu::gpu::kernels::{self, Buf, Kernel};
use lsnn_gpu::gpu::layout::Dims;
use lsnn_gpu::gpu::shader::ShaderConstants;
use lsnn_gpu::gpu::GpuContext;
use lsnn_gpu::model::init::Constraint;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A storage buffer holding `data`, in the role of the binding it is given to (inferred).
fn storage<R: StorageRole, T: bytemuck::Pod>(ctx: &GpuContext, label: &str, data: &[T]) -> Buf<R> {
    Buf::storage_init(&ctx.device, label, data)
}

/// A uniform buffer holding `value` (its role is its type).
fn uniform<R: UniformRole>(ctx: &GpuContext, label: &str, value: &R) -> Buf<R> {
    Buf::uniform(&ctx.device, label, value)
}

/// Dispatches `group` of `kernel` on a `grid` in one submit and reads `len` bytes of `out`.
fn run_once(
    ctx: &GpuContext,
    kernel: &Kernel,
    group: &wgpu::BindGroup,
    grid: (u32, u32),
    out: &wgpu::Buffer,
    len: u64,
) -> Vec<u8> {
    let staging = ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("read back"),
        size: len,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut enc = ctx
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
    {
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(kernel.name),
            timestamp_writes: None,
        });
        pass.set_pipeline(&kernel.pipeline);
        pass.set_bind_group(0, group, &[]);
        pass.dispatch_workgroups(grid.0, grid.1, 1);
    }
    enc.copy_buffer_to_buffer(out, 0, &staging, 0, len);
    ctx.queue.submit([enc.finish()]);
    map_read(&ctx.device, &staging, len).expect("read back")
}

/// batch_reduce.wgsl against cpu::batch_reduce: the same sums in the same order (b = 0..B)
/// and the same mask, so the results are bit-identical (additions only: no contraction into
/// fused multiply-adds can differ). P = 1000 is not a multiple of the workgroup size.
#[test]
fn batch_reduce_matches_its_cpu_twin_exactly() {
    let Some((ctx, _guard)) = require_gpu!() else {
        return;
    };
    let (batch, p) = (7usize, 1000usize);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let partials: Vec<f32> = (0..batch * p)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let codes = Constraint::ALL;
    let constraints: Vec<u32> = (0..p)
        .map(|_| codes[rng.random_range(0..codes.len())] as u32)
        .collect();
    // A third of the weights are exactly zero (inactive when rewired).
    let params: Vec<f32> = (0..p)
        .map(|_| {
            if rng.random_range(0..3) == 0 {
                0.0
            } else {
                rng.random_range(-1.0..1.0)
            }
        })
        .collect();
    let constants = ShaderConstants::new(64);
    let kernel = Kernel::new(&ctx.device, kernels::batch_reduce::NAME, &constants);
    for sparse in [false, true] {
        let dims = Dims {
            batch: batch as u32,
            n_params: p as u32,
            sparse_gradients: sparse as u32,
            ..Dims::default()
        };
        let dims_buf = uniform(&ctx, "dims", &dims);
        let partials_buf = storage(&ctx, "partials", &partials);
        let constraints_buf = storage(&ctx, "constraints", &constraints);
        let model = storage(&ctx, "model", &params);
        let grads = storage(&ctx, "grads", &vec![f32::NAN; p]);
        let group = kernels::batch_reduce::Bindings {
            dims: &dims_buf,
            partials: &partials_buf,
            constraints: &constraints_buf,
            grads: &grads,
            model: &model,
        }
        .bind_group(&ctx.device, &kernel, "batch_reduce");
        let max_dim = ctx.device.limits().max_compute_workgroups_per_dimension;
        let grid = kernels::batch_reduce::grid(p as u32, &constants, max_dim);
        let gpu: Vec<f32> = bytemuck::pod_collect_to_vec(&run_once(
            &ctx,
            &kernel,
            &group,
            grid,
            &grads,
            (p * 4) as u64,
        ));
        let cpu = batch_reduce(&partials, &params, &constraints, sparse);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&gpu), bits(&cpu), "sparse_gradients = {sparse}");
        // Both outcomes occur: the mask and the sums are both exercised.
        assert!(cpu.contains(&0.0) && cpu.iter().any(|&g| g != 0.0));
    }
}
