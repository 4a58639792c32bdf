//! Per-kernel entry points: one kernel, run alone through its room (`src/gpu/kernels/`) on
//! random buffers, against its CPU twin (`src/cpu/<kernel>.rs`). The engine-level tests
//! (gpu_matches_reference, deep_r) hold whole iterations; these localise a difference to one
//! kernel. Where a kernel reads another kernel's output (records, spike bits, output errors,
//! row lists, counters), the CPU twin of that other kernel makes it, never the GPU.
//!
//! Buffers are made by `storage`, `uniform` and `staging` only (one place to change when the
//! bindings' types change).

mod common;

use std::path::Path;

use common::cases::{min_margin, ATOL, MIN_MARGIN, RTOL};
use common::{random_batch, random_network, Case};
use lsnn_gpu::cpu::adam::{adam_update, AdamHyper, AdamState};
use lsnn_gpu::cpu::alif_backward::output_errors;
use lsnn_gpu::cpu::alif_forward::{alif_forward, ForwardTrace, ParamsOf};
use lsnn_gpu::cpu::batch_reduce::batch_reduce;
use lsnn_gpu::cpu::deep_r::{refill, rewired_sign, zero_inactive_gradients};
use lsnn_gpu::cpu::loss_reduce::rates_and_regulariser;
use lsnn_gpu::cpu::readout_loss::{predictions, readout_loss};
use lsnn_gpu::cpu::sparse_rows::sparse_rows;
use lsnn_gpu::cpu::{alif_backward, LossOutput};
use lsnn_gpu::gpu::budget;
use lsnn_gpu::gpu::context::map_read;
use lsnn_gpu::gpu::kernels::roles::{StorageRole, UniformRole};
use lsnn_gpu::gpu::kernels::{self, Buf, Kernel};
use lsnn_gpu::gpu::layout::{
    Chunk, Dims, RewireUniform, StepUniform, REWIRE_STATS_LEN, STATE_B, STATE_COUNT, STATE_HEAD,
    STATE_REFRACTORY, STATE_V, STAT_ACTIVE, STAT_DISCONNECTED, STAT_DRAWS, STAT_NONFINITE_GRADS,
    STAT_NONFINITE_WEIGHTS, STAT_PLACED,
};
use lsnn_gpu::gpu::shader::{ShaderConstants, ALL_KERNELS, INCLUDES};
use lsnn_gpu::gpu::{GpuContext, GpuEngine};
use lsnn_gpu::model::deep_r::{DeepR, RewireStats};
use lsnn_gpu::model::init::{rewired_matrices, Constraint};
use lsnn_gpu::model::{Batch, Network, ParamBlock, Params, Readout, Targets, Tensor};
use ndarray::Array3;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Invocations per workgroup of the per-sequence kernels: fewer than the 37 neurons of the
/// cases, so every invocation owns several neurons (j = lid + k·WG) as in the engine.
const WG: u32 = 16;
/// The noise seed of the forward pass (the one `common::cases::min_margin` checks).
const NOISE_SEED: u32 = 9;

// ---- buffers ---------------------------------------------------------------------------

/// A storage buffer holding `data`, in the role of the binding it is given to (inferred).
fn storage<R: StorageRole, T: bytemuck::Pod>(ctx: &GpuContext, label: &str, data: &[T]) -> Buf<R> {
    Buf::storage_init(&ctx.device, label, data)
}

/// A uniform buffer holding `value` (its role is its type).
fn uniform<R: UniformRole>(ctx: &GpuContext, label: &str, value: &R) -> Buf<R> {
    Buf::uniform(&ctx.device, label, value)
}

/// An empty buffer of `len` bytes that a storage buffer is copied into to be read.
fn staging(ctx: &GpuContext, len: u64) -> wgpu::Buffer {
    ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("read back"),
        size: len,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

/// The first `len` elements of `buf`.
/// The entries of `blocks` in `v`, one block after the other: compares tensors wherever the
/// packed order puts them.
fn gather(v: &[f32], blocks: &[ParamBlock]) -> Vec<f32> {
    blocks.iter().flat_map(|b| v[b.range()].to_vec()).collect()
}

fn read<T: bytemuck::Pod>(ctx: &GpuContext, buf: &wgpu::Buffer, len: usize) -> Vec<T> {
    let bytes = (len * std::mem::size_of::<T>()) as u64;
    let out = staging(ctx, bytes);
    let mut enc = ctx
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
    enc.copy_buffer_to_buffer(buf, 0, &out, 0, bytes);
    ctx.queue.submit([enc.finish()]);
    bytemuck::pod_collect_to_vec(&map_read(&ctx.device, &out, bytes).expect("read back"))
}

/// Dispatches `kernel` once per bind group of `groups`, in order, on a `grid`, in one
/// compute pass and one submit (as `GpuEngine::run` records a stage).
fn dispatch(ctx: &GpuContext, kernel: &Kernel, groups: &[wgpu::BindGroup], grid: (u32, u32)) {
    let mut enc = ctx
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
    {
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(kernel.name),
            timestamp_writes: None,
        });
        pass.set_pipeline(&kernel.pipeline);
        for group in groups {
            pass.set_bind_group(0, group, &[]);
            pass.dispatch_workgroups(grid.0, grid.1, 1);
        }
    }
    ctx.queue.submit([enc.finish()]);
}

// ---- comparisons -----------------------------------------------------------------------

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// |gpu − cpu| ≤ rtol·|cpu| + atol·max|cpu| for every entry (the form of the engine tests'
/// gradient tolerance); returns the largest |cpu|, which the caller checks is not zero.
fn assert_close(what: &str, gpu: &[f32], cpu: &[f32], rtol: f64, atol: f64) -> f64 {
    assert_eq!(gpu.len(), cpu.len(), "{what}: lengths");
    let scale = cpu.iter().fold(0.0f64, |m, &x| m.max((x as f64).abs()));
    let mut worst = 0.0f64;
    for (e, (&g, &c)) in gpu.iter().zip(cpu).enumerate() {
        let err = (g as f64 - c as f64).abs();
        let tol = rtol * (c as f64).abs() + atol * scale;
        assert!(
            err <= tol,
            "{what}[{e}]: GPU {g:e}, CPU twin {c:e}, |diff| {err:e} > {tol:e}"
        );
        if err > 0.0 {
            worst = worst.max(err / tol);
        }
    }
    eprintln!("{what}: worst difference {worst:.2e} of the tolerance");
    scale
}

// ---- inputs made by the CPU twins ----------------------------------------------------

/// A case of the sweeps: 21 inputs, 37 neurons (14 adaptive), 5 classes, 40 steps of 3
/// sequences, in chunks of 7 steps (the last one shorter; frames of 5 steps straddle them).
fn sweep_case(readout: Readout, seed: u64) -> Case {
    Case {
        n_in: 21,
        n_regular: 23,
        n_adaptive: 14,
        n_out: 5,
        steps: 40,
        batch: 3,
        n_delay: 4,
        n_ref: 2,
        readout,
        noise_std: 0.02,
        seed,
        ..Case::default()
    }
}

/// Time chunks of 7 steps, shorter where the adapter caps the loop iterations of a dispatch
/// (the engine's rule: `GpuEngine::ensure_batch`).
fn chunks(ctx: &GpuContext, dims: &Dims, steps: usize) -> Vec<(usize, usize)> {
    let mut len = 7;
    if let Some(limit) = ctx.loop_limit {
        let cap = limit * 9 / 10;
        for cost in [
            budget::forward(dims, WG),
            budget::backward(dims, WG),
            budget::readout(dims, WG),
        ] {
            len = len.min(cost.max_steps(cap).expect("one step fits the loop cap"));
        }
    }
    budget::chunks(steps, len)
}

fn chunk_uniforms(ctx: &GpuContext, chunks: &[(usize, usize)]) -> Vec<Buf<Chunk>> {
    chunks
        .iter()
        .map(|&(t0, len)| {
            let c = Chunk {
                t0: t0 as u32,
                len: len as u32,
                ..Chunk::default()
            };
            uniform(ctx, "chunk", &c)
        })
        .collect()
}

/// This chunk's rows of x [T, B, n_in].
fn x_chunk(x: &Array3<f32>, (t0, len): (usize, usize)) -> Vec<f32> {
    x.slice(ndarray::s![t0 - 1..t0 - 1 + len, .., ..])
        .iter()
        .copied()
        .collect()
}

/// u_t = (v_{t−1} − A_t)/A_t of the twin (M5).
fn u_of(trace: &ForwardTrace<f32>, idx: [usize; 3]) -> f32 {
    let a = trace.thr_adaptive[idx];
    (trace.v_prev[idx] - a) / a
}

/// The spike bits alif_forward.wgsl writes, from the twin's trace (common.wgsl's layout): per
/// step t (row 0 = before step 1, zero) and sequence b, the mask of z_t, then the mask of
/// the neurons whose pseudo-derivative is non-zero (M6: not refractory and |u_t| < 1).
fn pack_bits(trace: &ForwardTrace<f32>, dims: &Dims) -> Vec<u32> {
    let (steps, batch, n) = trace.z.dim();
    let rw = dims.rec_words as usize;
    let mut out = vec![0u32; dims.bits_len()];
    for ti in 0..steps {
        for b in 0..batch {
            let row = ((ti + 1) * batch + b) * 2 * rw;
            for j in 0..n {
                let bit = 1u32 << (j % 32);
                if trace.z[[ti, b, j]] != 0.0 {
                    out[row + j / 32] |= bit;
                }
                if !trace.refractory[[ti, b, j]] && u_of(trace, [ti, b, j]).abs() < 1.0 {
                    out[row + rw + j / 32] |= bit;
                }
            }
        }
    }
    out
}

/// The chunk's records (v_{t−1}, b_t) [len, B, N] as alif_forward.wgsl writes them.
fn records_of(trace: &ForwardTrace<f32>, (t0, len): (usize, usize)) -> Vec<f32> {
    let (_, batch, n) = trace.z.dim();
    let mut out = Vec::with_capacity(len * batch * n * 2);
    for ti in t0 - 1..t0 - 1 + len {
        for b in 0..batch {
            for j in 0..n {
                out.push(trace.v_prev[[ti, b, j]]);
                out.push(trace.b[[ti, b, j]]);
            }
        }
    }
    out
}

/// The labels buffer of the batch's targets as the engine uploads them (`upload_batch`) and
/// the loss's normaliser n_scored of the step uniform.
fn labels_of(batch: &Batch, net: &Network) -> (Vec<i32>, u32) {
    match (&batch.targets, net.sim.readout) {
        (Targets::Labels(l), _) => (l.to_vec(), l.len() as u32),
        (Targets::FrameLabels(l), Readout::Framewise(k)) => {
            let scored = (k - 1..l.nrows())
                .step_by(k)
                .map(|t| l.row(t).iter().filter(|&&v| v >= 0).count())
                .sum::<usize>();
            (l.iter().copied().collect(), scored as u32)
        }
        (Targets::FrameValues(v), Readout::Regression(k)) => {
            let scored = (k - 1..v.dim().0)
                .step_by(k)
                .map(|t| (0..v.dim().1).filter(|&b| v[[t, b, 0]].is_finite()).count())
                .sum::<usize>();
            // An unscored step is the bit pattern of −1 (readout_loss.wgsl).
            let bits = v
                .iter()
                .map(|x| if x.is_nan() { -1 } else { x.to_bits() as i32 })
                .collect();
            (bits, (scored * net.n_out()) as u32)
        }
        _ => panic!("targets do not match the readout"),
    }
}

/// The forward pass and losses of the twin on a sweep case, in f32.
struct Twin {
    net: Network,
    batch: Batch,
    params: ParamsOf<f32>,
    trace: ForwardTrace<f32>,
    loss: LossOutput<f32>,
}

fn twin(case: &Case) -> Twin {
    let net = random_network(case);
    // Spikes are compared exactly only where no voltage sits within rounding of its
    // threshold (the engine tests' rule).
    let margin = min_margin(&net, case);
    assert!(
        margin >= MIN_MARGIN,
        "ill-conditioned case: margin {margin}"
    );
    let batch = random_batch(case);
    let params = ParamsOf::<f32>::from_params(&net.params);
    let trace = alif_forward(&net, &params, &batch.x, NOISE_SEED);
    let loss = readout_loss(&net, &params, &trace, &batch.targets);
    Twin {
        net,
        batch,
        params,
        trace,
        loss,
    }
}

fn step_uniform(n_scored: u32) -> StepUniform {
    StepUniform {
        noise_seed: NOISE_SEED,
        n_scored,
        ..StepUniform::default()
    }
}

// ---- the kernels -----------------------------------------------------------------------

/// alif_forward.wgsl against cpu::alif_forward (M1–M5, with M1's noise) over six chunks in
/// order: the spikes and the pseudo-derivative mask exactly (the case keeps every u_t at
/// least MIN_MARGIN from 0 and from ±1); the records (v_{t−1}, b_t) and the state left after
/// the last step (v, b, the delay ring) within f32 rounding; refractory countdowns and spike
/// counts exactly.
#[test]
fn alif_forward_matches_its_cpu_twin() {
    let Some((ctx, _guard)) = require_gpu!() else {
        return;
    };
    let case = sweep_case(Readout::Window(8), 31);
    let t = twin(&case);
    let (steps, batch, n) = t.trace.z.dim();
    // The mask of M6 flips where |u| crosses 1: keep the case away from it too (v = 0
    // exactly gives u = −1 exactly on both sides).
    let near_one = t
        .trace
        .v_prev
        .indexed_iter()
        .filter(|&(i, &v)| v != 0.0 && !t.trace.refractory[i])
        .map(|(i, _)| (u_of(&t.trace, [i.0, i.1, i.2]).abs() - 1.0).abs())
        .fold(f32::INFINITY, f32::min);
    assert!(near_one as f64 >= MIN_MARGIN, "|u| within {near_one} of 1");
    let dims = Dims::for_batch(&t.net, batch, steps, false).unwrap();
    let chunks = chunks(&ctx, &dims, steps);
    assert!(chunks.len() >= 6, "{} chunks", chunks.len());
    let kernel = Kernel::new(
        &ctx.device,
        kernels::alif_forward::NAME,
        &ShaderConstants::new(WG),
    );
    let dims_buf = uniform(&ctx, "dims", &dims);
    let step = uniform(&ctx, "step", &step_uniform(0));
    let model = storage(&ctx, "model", &GpuEngine::model_data(&t.net));
    let delays = storage(&ctx, "delays", &GpuEngine::delay_data(&t.net));
    // NaN state and garbage bits: the kernel must write everything it reads.
    let stride = dims.state_stride as usize;
    let state = storage(&ctx, "state", &vec![f32::NAN; batch * n * stride]);
    let bits_buf = storage(&ctx, "bits", &vec![0xDEAD_BEEFu32; dims.bits_len()]);
    let chunk_bufs = chunk_uniforms(&ctx, &chunks);
    let xs: Vec<_> = chunks
        .iter()
        .map(|&c| storage(&ctx, "x", &x_chunk(&t.batch.x, c)))
        .collect();
    let records: Vec<_> = chunks
        .iter()
        .map(|&(_, len)| storage(&ctx, "records", &vec![f32::NAN; len * batch * n * 2]))
        .collect();
    let groups: Vec<_> = (0..chunks.len())
        .map(|c| {
            kernels::alif_forward::Bindings {
                dims: &dims_buf,
                chunk: &chunk_bufs[c],
                step: &step,
                model: &model,
                delays: &delays,
                x: &xs[c],
                state: &state,
                records: &records[c],
                bits: &bits_buf,
            }
            .bind_group(&ctx.device, &kernel, "alif_forward")
        })
        .collect();
    dispatch(
        &ctx,
        &kernel,
        &groups,
        kernels::alif_forward::grid(batch as u32),
    );

    // Spikes and the pseudo-derivative mask, every step and sequence.
    let gpu_bits: Vec<u32> = read(&ctx, &bits_buf, dims.bits_len());
    let cpu_bits = pack_bits(&t.trace, &dims);
    let words = 2 * dims.rec_words as usize;
    if let Some(w) = (0..cpu_bits.len()).find(|&w| gpu_bits[w] != cpu_bits[w]) {
        let (row, word) = (w / words, w % words);
        panic!(
            "step {}, sequence {}: {} word {}: GPU {:#034b}, CPU twin {:#034b}",
            row / batch,
            row % batch,
            ["spike", "pseudo-derivative"][word / dims.rec_words as usize],
            word % dims.rec_words as usize,
            gpu_bits[w],
            cpu_bits[w]
        );
    }
    let spikes: u32 = t.trace.z.iter().map(|&z| u32::from(z != 0.0)).sum();
    let active = cpu_bits.iter().map(|w| w.count_ones()).sum::<u32>() - spikes;
    let cells = (steps * batch * n) as u32;
    assert!(spikes > 100 && spikes < cells / 2, "{spikes} spikes");
    assert!(active > 100 && active + 100 < cells, "{active} active");
    assert!(t.trace.refractory.iter().any(|&r| r), "no refractory step");

    // Records: f32 on both sides, the same operations (M2–M4) in the same order and the ring
    // summed in the same order, but a GPU compiler may contract a·b + c into a fused
    // multiply-add (and noise_normal's log and cos differ by a few ulp): each step adds a few
    // roundings of ~6e-8 relative that the leak α < 1 damps over at most τ_m/dt = 30 steps,
    // so 1e-5 of the largest voltage (10× that) is the bound; a wrong term moves v by far
    // more (a weight is ~1, the thresholds 0.02–0.08).
    let mut gpu_rec = Vec::new();
    let mut cpu_rec = Vec::new();
    for (c, &chunk) in chunks.iter().enumerate() {
        gpu_rec.extend(read::<f32>(&ctx, &records[c], chunk.1 * batch * n * 2));
        cpu_rec.extend(records_of(&t.trace, chunk));
    }
    let scale = assert_close("records (v_{t-1}, b_t)", &gpu_rec, &cpu_rec, 1e-5, 1e-5);
    assert!(scale > 0.1, "voltages {scale}");

    // The state after the last step: what the next pass of a stream starts from.
    let gpu_state: Vec<f32> = read(&ctx, &state, batch * n * stride);
    let end = &t.trace.end;
    let slot = |b: usize, j: usize, q: usize| gpu_state[(b * n + j) * stride + q];
    let (mut gv, mut cv, mut gring, mut cring) = (vec![], vec![], vec![], vec![]);
    for b in 0..batch {
        for j in 0..n {
            gv.extend([slot(b, j, STATE_V as usize), slot(b, j, STATE_B as usize)]);
            cv.extend([end.v[[b, j]], end.b[[b, j]]]);
            assert_eq!(
                slot(b, j, STATE_REFRACTORY as usize),
                end.refractory_left[[b, j]] as f32,
                "refractory steps left of ({b}, {j})"
            );
            let count = (0..steps)
                .filter(|&ti| t.trace.z[[ti, b, j]] != 0.0)
                .count();
            assert_eq!(
                slot(b, j, STATE_COUNT as usize),
                count as f32,
                "spike count"
            );
            for d in 0..case.n_delay as usize {
                gring.push(slot(b, j, STATE_HEAD as usize + d));
                cring.push(end.ring[[b, d, j]]);
            }
        }
    }
    assert_close("state v, b after step T", &gv, &cv, 1e-5, 1e-5);
    let ring_scale = assert_close("delay ring after step T", &gring, &cring, 1e-5, 1e-5);
    assert!(ring_scale > 0.0, "empty delay ring");
}

/// readout_loss.wgsl against cpu::readout_loss (M7, M8, the losses) and the readout part of
/// cpu::alif_backward (the output errors, the W_out and b_out gradients), for the window,
/// framewise and regression readouts over chunks of 7 steps (frames of 5 straddle them),
/// from the spike bits of the twin's forward pass.
#[test]
fn readout_loss_matches_its_cpu_twin() {
    let Some((ctx, _guard)) = require_gpu!() else {
        return;
    };
    let kernel = Kernel::new(
        &ctx.device,
        kernels::readout_loss::NAME,
        &ShaderConstants::new(WG),
    );
    for (readout, seed) in [
        (Readout::Window(8), 41),
        (Readout::Framewise(5), 42),
        (Readout::Regression(5), 43),
    ] {
        let case = Case {
            analog: true,
            input_density: 0.5,
            ..sweep_case(readout, seed)
        };
        let t = twin(&case);
        let (steps, batch, n) = t.trace.z.dim();
        let p = t.net.params.len();
        let dims = Dims::for_batch(&t.net, batch, steps, false).unwrap();
        let chunks = chunks(&ctx, &dims, steps);
        let (labels, n_scored) = labels_of(&t.batch, &t.net);
        let dims_buf = uniform(&ctx, "dims", &dims);
        let step = uniform(&ctx, "step", &step_uniform(n_scored));
        let model = storage(&ctx, "model", &GpuEngine::model_data(&t.net));
        let bits_buf = storage(&ctx, "bits", &pack_bits(&t.trace, &dims));
        let labels_buf = storage(&ctx, "labels", &labels);
        let readout_buf = storage(&ctx, "readout", &vec![f32::NAN; dims.readout_len()]);
        let partials = storage(&ctx, "partials", &vec![f32::NAN; batch * p]);
        let pstate = storage(&ctx, "pstate", &vec![f32::NAN; batch * n * 2]);
        let chunk_bufs = chunk_uniforms(&ctx, &chunks);
        let groups: Vec<_> = chunk_bufs
            .iter()
            .map(|chunk| {
                kernels::readout_loss::Bindings {
                    dims: &dims_buf,
                    chunk,
                    step: &step,
                    model: &model,
                    bits: &bits_buf,
                    labels: &labels_buf,
                    readout: &readout_buf,
                    partials: &partials,
                    pstate: &pstate,
                }
                .bind_group(&ctx.device, &kernel, "readout_loss")
            })
            .collect();
        dispatch(
            &ctx,
            &kernel,
            &groups,
            kernels::readout_loss::grid(batch as u32),
        );
        let r: Vec<f32> = read(&ctx, &readout_buf, dims.readout_len());
        let name = format!("{readout:?}");

        // Per-sequence (loss share, correct, scored), summed over the batch as loss_reduce does.
        let per_seq = &r[dims.off_per_seq as usize..][..3 * batch];
        let total = |k: usize| (0..batch).map(|b| per_seq[3 * b + k]).sum::<f32>();
        // The loss: f32 sums of a few hundred terms in another association (the mean of a
        // frame's p as a sum then ×1/k here, a sum of p·1/k there), then softmax: 1e-5.
        let (task, cpu_task) = (total(0) as f64, t.loss.loss_task as f64);
        assert!(
            (task - cpu_task).abs() <= 1e-5 * cpu_task.abs(),
            "{name}: task loss {task} vs {cpu_task}"
        );
        assert_eq!(total(1) as usize, t.loss.correct, "{name}: correct");
        assert_eq!(total(2) as usize, t.loss.scored, "{name}: scored");
        assert!(
            t.loss.scored > 0 && cpu_task > 0.0,
            "{name}: nothing scored"
        );
        // The predicted class of every decision, exactly (as the engine tests).
        let pred = predictions(&t.loss.probs);
        let gpu_pred: Vec<i32> = r[dims.off_pred as usize..][..pred.len()]
            .iter()
            .map(|&c| c as i32)
            .collect();
        assert_eq!(gpu_pred, pred.iter().copied().collect::<Vec<_>>(), "{name}");
        if let Readout::Regression(_) = readout {
            let outputs = t.loss.probs.as_slice().unwrap();
            let gpu_out = &r[dims.off_out as usize..][..outputs.len()];
            assert_close(
                &format!("{name}: frame outputs"),
                gpu_out,
                outputs,
                1e-5,
                1e-6,
            );
        }
        // Output errors dy: [B, n_out] for the window (the same at each of its K steps),
        // [T, B, n_out] for frames. (softmax − onehot)·(1/B)·(1/K) here, ·(1/(B·K)) there:
        // a few ulp apart; 1e-5 relative, with a floor of 1e-6 of the largest for entries
        // that are tiny differences.
        let dy = output_errors(&t.net, &t.loss, &t.batch.targets, steps, batch);
        let cpu_dy: Vec<f32> = match readout {
            Readout::Window(_) => dy
                .index_axis(ndarray::Axis(0), steps - 1)
                .iter()
                .copied()
                .collect(),
            _ => dy.iter().copied().collect(),
        };
        let gpu_dy = &r[dims.off_dy as usize..][..cpu_dy.len()];
        let scale = assert_close(&format!("{name}: dy"), gpu_dy, &cpu_dy, 1e-5, 1e-6);
        assert!(scale > 0.0, "{name}: dy all zero");

        // The readout's gradients of each sequence, summed over the batch by the reduction's
        // twin, against the reference's W_out and b_out gradients (the engine tests'
        // gradient tolerance: f32 sums in another order).
        let gpu_partials: Vec<f32> = read(&ctx, &partials, batch * p);
        let free = vec![Constraint::Free as u32; p];
        let sums = batch_reduce(&gpu_partials, &vec![1.0; p], &free, false);
        let g = alif_backward(
            &t.net,
            &t.params,
            &t.batch.x,
            &t.trace,
            &t.loss,
            &t.batch.targets,
        )
        .to_flat();
        let layout = t.net.params.layout();
        let readout = [layout.w_out(), layout.b_out()];
        let grad_scale = assert_close(
            &format!("{name}: W_out, b_out gradients"),
            &gather(&sums, &readout),
            &gather(&g, &readout),
            RTOL,
            ATOL,
        );
        assert!(grad_scale > 0.0, "{name}: zero readout gradients");
    }
}

/// loss_reduce.wgsl against cpu::loss_reduce (M9: the rates and L_reg) on random spike
/// counts, with dt = 0.5 (a spike is z = 2): the rates within a few ulp (count/dt·1/(BT)
/// there, Σz·1/(BT) here, and a GPU's division need not round correctly), L_reg within
/// f32 rounding of a sum of N squares (1e-5); the batch sums of the per-sequence losses,
/// correct and scored counts in order b = 0..B, exactly.
#[test]
fn loss_reduce_matches_its_cpu_twin() {
    let Some((ctx, _guard)) = require_gpu!() else {
        return;
    };
    let case = Case {
        dt: 0.5,
        batch: 5,
        ..sweep_case(Readout::Window(8), 51)
    };
    let net = random_network(&case);
    let (steps, batch, n) = (case.steps, case.batch, net.n_rec());
    let dims = Dims::for_batch(&net, batch, steps, false).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(52);
    // Each neuron its own rate, from silent to half the steps (the regulariser's target,
    // 10 Hz, is 0.01 spikes per ms: both signs of r̄ − f0 occur).
    let density: Vec<f64> = (0..n).map(|j| [0.0, 0.005, 0.02, 0.5][j % 4]).collect();
    let z = Array3::from_shape_fn((steps, batch, n), |(_, _, j)| {
        if rng.random_bool(density[j]) {
            1.0 / case.dt
        } else {
            0.0
        }
    });
    let stride = dims.state_stride as usize;
    // Only the spike counts are read: every other slot NaN.
    let mut state = vec![f32::NAN; batch * n * stride];
    for b in 0..batch {
        for j in 0..n {
            let count = (0..steps).filter(|&t| z[[t, b, j]] != 0.0).count();
            state[(b * n + j) * stride + STATE_COUNT as usize] = count as f32;
        }
    }
    let mut readout = vec![f32::NAN; dims.readout_len()];
    let per_seq: Vec<f32> = (0..3 * batch)
        .map(|i| match i % 3 {
            0 => rng.random_range(0.0..2.0),
            1 => rng.random_range(0..2) as f32,
            _ => 1.0,
        })
        .collect();
    readout[dims.off_per_seq as usize..][..3 * batch].copy_from_slice(&per_seq);
    let kernel = Kernel::new(
        &ctx.device,
        kernels::loss_reduce::NAME,
        &ShaderConstants::new(WG),
    );
    let dims_buf = uniform(&ctx, "dims", &dims);
    let state_buf = storage(&ctx, "state", &state);
    let readout_buf = storage(&ctx, "readout", &readout);
    let group = kernels::loss_reduce::Bindings {
        dims: &dims_buf,
        state: &state_buf,
        readout: &readout_buf,
    }
    .bind_group(&ctx.device, &kernel, "loss_reduce");
    dispatch(&ctx, &kernel, &[group], kernels::loss_reduce::grid());
    let r: Vec<f32> = read(&ctx, &readout_buf, dims.readout_len());

    let (rates, loss_reg) = rates_and_regulariser(&z, &net);
    let gpu_rates = &r[dims.off_rates as usize..][..n];
    assert_close("rates", gpu_rates, rates.as_slice().unwrap(), 1e-6, 0.0);
    let f0 = net.sim.reg_rate_per_ms();
    assert!(rates.iter().any(|&r| r > f0) && rates.iter().any(|&r| r < f0));
    assert!(
        (r[2] - loss_reg).abs() <= 1e-5 * loss_reg.abs() && loss_reg > 0.0,
        "L_reg {} vs {loss_reg}",
        r[2]
    );
    let sum = |k: usize| (0..batch).fold(0.0f32, |s, b| s + per_seq[3 * b + k]);
    assert_eq!(r[1].to_bits(), sum(0).to_bits(), "task loss");
    assert_eq!(
        r[0].to_bits(),
        (sum(0) + r[2]).to_bits(),
        "loss = task + L_reg"
    );
    assert_eq!((r[3], r[4]), (sum(1), sum(2)), "correct, scored");
}

/// sparse_rows.wgsl against cpu::sparse_rows: the lists of the non-zero weights of every row
/// of W_in and W_rec with their delays, and the counts, exactly (integers). About half the
/// weights are zero and one row of each matrix is empty.
#[test]
fn sparse_rows_matches_its_cpu_twin_exactly() {
    let Some((ctx, _guard)) = require_gpu!() else {
        return;
    };
    let case = sweep_case(Readout::Window(8), 61);
    let mut net = random_network(&case);
    let mut rng = ChaCha8Rng::seed_from_u64(62);
    for w in net
        .params
        .w_in
        .iter_mut()
        .chain(net.params.w_rec.iter_mut())
    {
        if rng.random_bool(0.5) {
            *w = 0.0;
        }
    }
    net.params.w_in.row_mut(3).fill(0.0);
    net.params.w_rec.row_mut(5).fill(0.0);
    let dims = Dims::for_batch(&net, 1, case.steps, false).unwrap();
    let constants = ShaderConstants::new(WG);
    let kernel = Kernel::new(&ctx.device, kernels::sparse_rows::NAME, &constants);
    let mut delay_data = GpuEngine::delay_data(&net);
    // Garbage where the lists go: every valid entry must be written.
    let lists_from = dims.off_rows as usize;
    delay_data[lists_from..].fill(u32::MAX);
    let dims_buf = uniform(&ctx, "dims", &dims);
    let model = storage(&ctx, "model", &GpuEngine::model_data(&net));
    let delays = storage(&ctx, "delays", &delay_data);
    let group = kernels::sparse_rows::Bindings {
        dims: &dims_buf,
        model: &model,
        delays: &delays,
    }
    .bind_group(&ctx.device, &kernel, "sparse_rows");
    let (n_in, n) = (net.n_in(), net.n_rec());
    let grid = kernels::sparse_rows::grid(n_in as u32, n as u32, &constants);
    dispatch(&ctx, &kernel, &[group], grid);
    let gpu: Vec<u32> = read(&ctx, &delays, dims.delays_len());
    // The delays themselves are left as they were.
    assert_eq!(gpu[..lists_from], delay_data[..lists_from]);
    for (what, w, d, lists_at, counts_at) in [
        (
            "W_in",
            &net.params.w_in,
            &net.delay_in,
            dims.off_in_rows,
            dims.off_in_row_len,
        ),
        (
            "W_rec",
            &net.params.w_rec,
            &net.delay_rec,
            dims.off_rows,
            dims.off_row_len,
        ),
    ] {
        let (lists, counts) = sparse_rows(w, d);
        let rows = w.nrows();
        assert_eq!(gpu[counts_at as usize..][..rows], counts, "{what} counts");
        for k in 0..rows {
            let len = counts[k] as usize;
            assert_eq!(
                gpu[lists_at as usize + k * n..][..len],
                lists[k * n..][..len],
                "{what} row {k}"
            );
        }
        assert!(counts.contains(&0) && counts.iter().any(|&c| c > 0 && (c as usize) < n));
        assert!(
            lists.iter().any(|&e| e >> 16 > 0),
            "{what}: no delay listed"
        );
    }
}

/// alif_backward.wgsl against cpu::alif_backward (B1–B7) over six chunks in reverse, from
/// the twin's records, spike bits, rates and output errors, and the row lists of
/// cpu::sparse_rows: the W_in and W_rec gradients of every sequence, summed over the batch
/// by the reduction's twin, within the engine tests' gradient tolerance (f32 sums in
/// another order, through T steps of the recurrences). The window readout with dense
/// gradients, then frames with half the weights inactive under DEEP R's
/// `dense_gradients: false` (gradients of active connections only).
#[test]
fn alif_backward_matches_its_cpu_twin() {
    let Some((ctx, _guard)) = require_gpu!() else {
        return;
    };
    let kernel = Kernel::new(
        &ctx.device,
        kernels::alif_backward::NAME,
        &ShaderConstants::new(WG),
    );
    for (readout, seed, sparse) in [
        (Readout::Window(8), 71, false),
        (Readout::Framewise(5), 72, true),
    ] {
        let case = sweep_case(readout, seed);
        let mut net = random_network(&case);
        let p = net.params.len();
        let mut constraints = vec![Constraint::Free as u32; p];
        let (n_in, n) = (net.n_in(), net.n_rec());
        let layout = net.params.layout();
        for j in 0..n {
            constraints[layout.w_rec().index(j, j)] = Constraint::Zero as u32;
        }
        if sparse {
            // Half of W_in and W_rec inactive; every rewired entry keeps a sign.
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut flat = net.params.to_flat();
            for e in layout.w_in().range().chain(layout.w_rec().range()) {
                if constraints[e] == Constraint::Zero as u32 {
                    continue;
                }
                let positive = if flat[e] == 0.0 {
                    rng.random_bool(0.5)
                } else {
                    flat[e] > 0.0
                };
                constraints[e] = if positive {
                    Constraint::RewiredPositive
                } else {
                    Constraint::RewiredNegative
                } as u32;
                if rng.random_bool(0.5) {
                    flat[e] = 0.0;
                }
            }
            let n_out = net.n_out();
            net.params = Params::from_flat(&flat, n_in, n, n_out);
        }
        // `twin` draws its network itself; this one has inactive weights.
        let margin = min_margin(&net, &case);
        assert!(
            margin >= MIN_MARGIN,
            "ill-conditioned case: margin {margin}"
        );
        let batch = random_batch(&case);
        let params = ParamsOf::<f32>::from_params(&net.params);
        let trace = alif_forward(&net, &params, &batch.x, NOISE_SEED);
        let loss = readout_loss(&net, &params, &trace, &batch.targets);
        let (steps, b_len, _) = trace.z.dim();
        let dims = Dims::for_batch(&net, b_len, steps, sparse).unwrap();
        let chunks = chunks(&ctx, &dims, steps);
        assert!(chunks.len() >= 6, "{} chunks", chunks.len());

        // The readout buffer as readout_loss and loss_reduce leave it: rates and dy (the rest
        // NaN: the kernel must not read it).
        let mut readout_data = vec![f32::NAN; dims.readout_len()];
        readout_data[dims.off_rates as usize..][..n]
            .copy_from_slice(loss.rates.as_slice().unwrap());
        let dy = output_errors(&net, &loss, &batch.targets, steps, b_len);
        let dy_flat: Vec<f32> = match readout {
            Readout::Window(_) => dy
                .index_axis(ndarray::Axis(0), steps - 1)
                .iter()
                .copied()
                .collect(),
            _ => dy.iter().copied().collect(),
        };
        readout_data[dims.off_dy as usize..][..dy_flat.len()].copy_from_slice(&dy_flat);
        // The row lists of sparse_rows.wgsl, by its twin.
        let mut delay_data = GpuEngine::delay_data(&net);
        for (w, d, lists_at, counts_at) in [
            (
                &net.params.w_in,
                &net.delay_in,
                dims.off_in_rows,
                dims.off_in_row_len,
            ),
            (
                &net.params.w_rec,
                &net.delay_rec,
                dims.off_rows,
                dims.off_row_len,
            ),
        ] {
            let (lists, counts) = sparse_rows(w, d);
            delay_data[lists_at as usize..][..lists.len()].copy_from_slice(&lists);
            delay_data[counts_at as usize..][..counts.len()].copy_from_slice(&counts);
        }

        let dims_buf = uniform(&ctx, "dims", &dims);
        let model = storage(&ctx, "model", &GpuEngine::model_data(&net));
        let delays = storage(&ctx, "delays", &delay_data);
        let bits_buf = storage(&ctx, "bits", &pack_bits(&trace, &dims));
        let readout_buf = storage(&ctx, "readout", &readout_data);
        let bstate = storage(
            &ctx,
            "bstate",
            &vec![f32::NAN; b_len * n * dims.bstate_stride as usize],
        );
        let partials = storage(&ctx, "partials", &vec![f32::NAN; b_len * p]);
        let chunk_bufs = chunk_uniforms(&ctx, &chunks);
        let xs: Vec<_> = chunks
            .iter()
            .map(|&c| storage(&ctx, "x", &x_chunk(&batch.x, c)))
            .collect();
        let records: Vec<_> = chunks
            .iter()
            .map(|&c| storage(&ctx, "records", &records_of(&trace, c)))
            .collect();
        // Chunks in reverse, as the engine dispatches them.
        let groups: Vec<_> = (0..chunks.len())
            .rev()
            .map(|c| {
                kernels::alif_backward::Bindings {
                    dims: &dims_buf,
                    chunk: &chunk_bufs[c],
                    model: &model,
                    delays: &delays,
                    x: &xs[c],
                    records: &records[c],
                    bits: &bits_buf,
                    readout: &readout_buf,
                    bstate: &bstate,
                    partials: &partials,
                }
                .bind_group(&ctx.device, &kernel, "alif_backward")
            })
            .collect();
        dispatch(
            &ctx,
            &kernel,
            &groups,
            kernels::alif_backward::grid(b_len as u32),
        );

        let gpu_partials: Vec<f32> = read(&ctx, &partials, b_len * p);
        let flat = net.params.to_flat();
        let sums = batch_reduce(&gpu_partials, &flat, &constraints, sparse);
        let mut g = alif_backward(&net, &params, &batch.x, &trace, &loss, &batch.targets).to_flat();
        if sparse {
            zero_inactive_gradients(&flat, &mut g, &constraints);
        }
        let layout = net.params.layout();
        let recurrent = [layout.w_in(), layout.w_rec()];
        let off = layout.w_in().len() + layout.w_rec().len();
        let name = format!("{readout:?}, sparse gradients {sparse}");
        let scale = assert_close(
            &format!("{name}: W_in, W_rec gradients"),
            &gather(&sums, &recurrent),
            &gather(&g, &recurrent),
            RTOL,
            ATOL,
        );
        assert!(scale > 0.0, "{name}: all gradients zero");
        let nonzero = gather(&g, &recurrent).iter().filter(|&&x| x != 0.0).count();
        assert!(
            nonzero > off / 4,
            "{name}: {nonzero} of {off} gradients non-zero"
        );
    }
}

/// Adam's hyperparameters at step 3 with a learning rate that disconnects connections.
fn adam_hyper() -> AdamHyper {
    AdamHyper {
        lr: 0.01,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        step: 3,
    }
}

/// A network whose weights carry every constraint code at random (b_out free; the rewired
/// codes only inside the rewired matrices, where DEEP R counts them), a third of the rewired
/// entries inactive and the active ones small (θ up to 2·lr, so that R3–R4 disconnect some);
/// with its DEEP R settings (L1 and a Langevin temperature).
fn rewired_case(seed: u64) -> (Network, Vec<u32>, DeepR) {
    let case = sweep_case(Readout::Window(8), seed);
    let net0 = random_network(&case);
    let (n_in, n, n_out) = (net0.n_in(), net0.n_rec(), net0.n_out());
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut flat = net0.params.to_flat();
    let p = flat.len();
    let mut constraints = vec![Constraint::Free as u32; p];
    // The rewired matrices in their packed order (in the default order, flat indices
    // 0..end of W_out, as the draws below always were).
    let layout = net0.params.layout();
    let matrices = layout
        .blocks()
        .into_iter()
        .filter(|b| b.tensor != Tensor::BOut);
    for (b, e) in matrices.flat_map(|b| b.range().map(move |e| (b, e))) {
        let diagonal = b.tensor == Tensor::WRec && (e - b.offset) % (n + 1) == 0;
        let c = if diagonal {
            Constraint::Zero
        } else {
            Constraint::ALL[rng.random_range(0..Constraint::ALL.len())]
        };
        constraints[e] = c as u32;
        if let Some(s) = rewired_sign(c as u32) {
            flat[e] = if rng.random_range(0..3) == 0 {
                0.0
            } else {
                s * rng.random_range(1e-4..0.02)
            };
        } else if c == Constraint::Zero {
            flat[e] = 0.0;
        }
    }
    let mut net = net0;
    net.params = Params::from_flat(&flat, n_in, n, n_out);
    let active = flat
        .iter()
        .zip(&constraints)
        .filter(|(w, &c)| **w != 0.0 && rewired_sign(c).is_some())
        .count() as u32;
    let d = DeepR::new(1.0, 1e-3, active, rewired_matrices(n_in, n, n_out), seed);
    (net, constraints, d)
}

/// adam.wgsl against cpu::adam's `adam_update` (Adam, the sign constraints, DEEP R's R1–R4),
/// without and with Langevin noise from Philox: the counters of active connections per
/// matrix and of disconnections exactly; the moments and weights within the rounding that
/// follows.
#[test]
fn adam_matches_its_cpu_twin() {
    let Some((ctx, _guard)) = require_gpu!() else {
        return;
    };
    let constants = ShaderConstants::new(WG);
    let kernel = Kernel::new(&ctx.device, kernels::adam::NAME, &constants);
    let (net, constraints, noisy) = rewired_case(81);
    let p = net.params.len();
    let h = adam_hyper();
    let mut rng = ChaCha8Rng::seed_from_u64(82);
    let grads: Vec<f32> = (0..p).map(|_| rng.random_range(-1.0..1.0)).collect();
    let m: Vec<f32> = (0..p).map(|_| rng.random_range(-0.1..0.1)).collect();
    let v: Vec<f32> = (0..p).map(|_| rng.random_range(0.0..0.1)).collect();
    let quiet = DeepR {
        temperature: 0.0,
        ..noisy.clone()
    };
    for d in [quiet, noisy] {
        let mut flat = net.params.to_flat();
        let mut state = AdamState {
            m: m.clone(),
            v: v.clone(),
        };
        let stats = adam_update(&mut flat, &grads, &mut state, &h, &constraints, Some(&d))
            .expect("DEEP R stats");
        let dims = Dims::for_batch(&net, 1, 40, false).unwrap();
        let (bias1, bias2) = h.bias_corrections();
        let step = StepUniform {
            lr: h.lr,
            beta1: h.beta1,
            beta2: h.beta2,
            eps: h.eps,
            bias1,
            bias2,
            ..StepUniform::default()
        };
        let dims_buf = uniform(&ctx, "dims", &dims);
        let step_buf = uniform(&ctx, "step", &step);
        let rewire = uniform(&ctx, "rewire", &RewireUniform::new(&d, h.step, 1 << 20));
        let grads_buf = storage(&ctx, "grads", &grads);
        let constraints_buf = storage(&ctx, "constraints", &constraints);
        let model = storage(&ctx, "model", &GpuEngine::model_data(&net));
        let moments = storage(&ctx, "moments", &[m.clone(), v.clone()].concat());
        let counters = storage(&ctx, "stats", &[0u32; REWIRE_STATS_LEN]);
        let group = kernels::adam::Bindings {
            dims: &dims_buf,
            step: &step_buf,
            grads: &grads_buf,
            constraints: &constraints_buf,
            model: &model,
            moments: &moments,
            rewire: &rewire,
            stats: &counters,
        }
        .bind_group(&ctx.device, &kernel, "adam");
        let max_dim = ctx.device.limits().max_compute_workgroups_per_dimension;
        let grid = kernels::adam::grid(p as u32, &constants, max_dim);
        dispatch(&ctx, &kernel, &[group], grid);

        let name = format!("temperature {}", d.temperature);
        let c: Vec<u32> = read(&ctx, &counters, REWIRE_STATS_LEN);
        let a = STAT_ACTIVE as usize;
        let gpu_stats = RewireStats {
            active: [c[a], c[a + 1], c[a + 2]],
            rewired: c[STAT_DISCONNECTED as usize],
        };
        assert_eq!(
            gpu_stats, stats,
            "{name}: active connections, disconnections"
        );
        assert!(
            stats.rewired > 0 && stats.active.iter().all(|&k| k > 0),
            "{name}: {stats:?}"
        );
        assert_eq!(
            (
                c[STAT_NONFINITE_GRADS as usize],
                c[STAT_NONFINITE_WEIGHTS as usize]
            ),
            (0, 0)
        );
        // Moments: two products and a sum, which a GPU may fuse: a few ulp.
        let mv: Vec<f32> = read(&ctx, &moments, 2 * p);
        assert_close(&format!("{name}: m"), &mv[..p], &state.m, 1e-6, 0.0);
        assert_close(&format!("{name}: v"), &mv[p..], &state.v, 1e-6, 0.0);
        // Weights: the update lr·m̂/(√v̂ + ε) is at most ~lr and computed within a few ulp
        // (WGSL's sqrt and division need not round correctly): 1e-5 of lr is ~100 ulp of it,
        // and 100× below the smallest R4 term (lr·l1 = 1e-2). With noise, √(2·lr·T)·N(0,1)
        // from the same Philox bits, N through a log and a cos that WGSL allows a GPU to
        // compute to 2^-11 (absolute, cos), times |√(−2 ln u)| ≤ 5.8: 1.3e-5 here, while a
        // wrong draw moves a weight by ~√(2·lr·T) = 4.5e-3.
        let noise = 5.8 * ((2.0 * h.lr * d.temperature) as f64).sqrt() * 2f64.powi(-11);
        let gpu_w: Vec<f32> = read(&ctx, &model, p);
        for (e, (&g, &c)) in gpu_w.iter().zip(&flat).enumerate() {
            let tol = 4.0 * f32::EPSILON as f64 * (c as f64).abs() + 1e-5 * h.lr as f64 + noise;
            assert!(
                (g as f64 - c as f64).abs() <= tol,
                "{name}: weight {e} (constraint {}): GPU {g:e}, CPU twin {c:e}",
                constraints[e]
            );
            // Inactive on both sides or on neither.
            assert_eq!(g == 0.0, c == 0.0, "{name}: weight {e}");
        }
        let moved = gpu_w
            .iter()
            .zip(&net.params.to_flat())
            .filter(|(a, b)| a != b)
            .count();
        assert!(moved > p / 2, "{name}: {moved} of {p} weights moved");
    }
}

/// deep_r_refill.wgsl against cpu::deep_r_refill's `refill` (R5) on the weights and counters
/// cpu::adam's `adam_update` leaves: the same connections placed, bit for bit, the same
/// number of draws and the same counters. The placements are Philox draws, so this also
/// holds shaders/philox.wgsl to its twin src/cpu/philox.rs. Five draws per dispatch: the
/// refill is cut short and continued from its counters many times, as on llvmpipe.
#[test]
fn deep_r_refill_matches_its_cpu_twin_and_philox_bit_for_bit() {
    let Some((ctx, _guard)) = require_gpu!() else {
        return;
    };
    let (net, constraints, d) = rewired_case(91);
    let p = net.params.len();
    let h = adam_hyper();
    let mut rng = ChaCha8Rng::seed_from_u64(92);
    let grads: Vec<f32> = (0..p).map(|_| rng.random_range(-1.0..1.0)).collect();
    let mut flat = net.params.to_flat();
    let mut adam = AdamState::new(p);
    let mut stats = adam_update(&mut flat, &grads, &mut adam, &h, &constraints, Some(&d))
        .expect("DEEP R stats");
    // The weights after the rewiring, what the refill reads.
    let mut after = net.clone();
    after.params = Params::from_flat(&flat, net.n_in(), net.n_rec(), net.n_out());
    let mut counters = [0u32; REWIRE_STATS_LEN];
    counters[STAT_ACTIVE as usize..][..3].copy_from_slice(&stats.active);
    counters[STAT_DISCONNECTED as usize] = stats.rewired;
    let missing = d.budget - stats.active.iter().sum::<u32>();
    let draws = refill(&mut flat, &constraints, &d, h.step, &mut stats);
    assert!(
        missing > 5 && draws > missing,
        "{missing} missing, {draws} draws"
    );

    let dims = Dims::for_batch(&net, 1, 40, false).unwrap();
    let kernel = Kernel::new(
        &ctx.device,
        kernels::deep_r_refill::NAME,
        &ShaderConstants::new(WG),
    );
    let per_dispatch = 5;
    let dims_buf = uniform(&ctx, "dims", &dims);
    let rewire = uniform(
        &ctx,
        "rewire",
        &RewireUniform::new(&d, h.step, per_dispatch),
    );
    let constraints_buf = storage(&ctx, "constraints", &constraints);
    let model = storage(&ctx, "model", &GpuEngine::model_data(&after));
    let counters_buf = storage(&ctx, "stats", &counters);
    let group = || {
        kernels::deep_r_refill::Bindings {
            dims: &dims_buf,
            rewire: &rewire,
            constraints: &constraints_buf,
            model: &model,
            stats: &counters_buf,
        }
        .bind_group(&ctx.device, &kernel, "deep_r_refill")
    };
    // Enough dispatches for every draw, and two more that must change nothing.
    let groups: Vec<_> = (0..draws.div_ceil(per_dispatch) + 2)
        .map(|_| group())
        .collect();
    dispatch(&ctx, &kernel, &groups, kernels::deep_r_refill::grid());

    let c: Vec<u32> = read(&ctx, &counters_buf, REWIRE_STATS_LEN);
    let a = STAT_ACTIVE as usize;
    assert_eq!(
        [c[a], c[a + 1], c[a + 2]],
        stats.active,
        "active per matrix"
    );
    assert_eq!(c[STAT_PLACED as usize], missing, "placed");
    assert_eq!(c[STAT_DRAWS as usize], draws, "draws");
    let gpu_w: Vec<f32> = read(&ctx, &model, p);
    assert_eq!(bits(&gpu_w), bits(&flat), "weights after the refill");
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
        dispatch(&ctx, &kernel, &[group], grid);
        let gpu: Vec<f32> = read(&ctx, &grads, p);
        let cpu = batch_reduce(&partials, &params, &constraints, sparse);
        assert_eq!(bits(&gpu), bits(&cpu), "sparse_gradients = {sparse}");
        // Both outcomes occur: the mask and the sums are both exercised.
        assert!(cpu.contains(&0.0) && cpu.iter().any(|&g| g != 0.0));
    }
}

/// Every file of shaders/ is a kernel (`shader::ALL_KERNELS`) with a room
/// `src/gpu/kernels/<name>.rs`, a CPU twin `src/cpu/<name>.rs` and a test
/// `<name>_matches_its_cpu_twin…` in this file, or a piece included into kernels
/// (`shader::INCLUDES`); philox, the one included piece with numbers of its own to hold,
/// has its twin `src/cpu/philox.rs` and a test that names it. Needs no GPU.
#[test]
fn every_shader_has_a_room_a_cpu_twin_and_a_test() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(root.join("tests/kernels.rs")).unwrap();
    // The names of this file's tests: the `fn` line after each `#[test]`.
    let lines: Vec<&str> = source.lines().collect();
    let tests: Vec<&str> = lines
        .windows(2)
        .filter(|w| w[0] == "#[test]")
        .filter_map(|w| w[1].strip_prefix("fn "))
        .map(|rest| rest.split('(').next().unwrap())
        .collect();
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(root.join("shaders")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "wgsl") {
            continue;
        }
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        let kernel = ALL_KERNELS.contains(&name.as_str());
        let include = INCLUDES.contains(&name.as_str());
        assert!(
            kernel != include,
            "shaders/{name}.wgsl must be either a kernel (shader::ALL_KERNELS) or an included piece (shader::INCLUDES)"
        );
        if kernel {
            for twin in [
                format!("src/gpu/kernels/{name}.rs"),
                format!("src/cpu/{name}.rs"),
            ] {
                assert!(root.join(&twin).is_file(), "kernel {name} has no {twin}");
            }
            let prefix = format!("{name}_matches_its_cpu_twin");
            assert!(
                tests.iter().any(|t| t.starts_with(&prefix)),
                "kernel {name} has no test `{name}_matches_its_cpu_twin…` in tests/kernels.rs"
            );
        }
        seen.push(name);
    }
    for name in ALL_KERNELS.iter().chain(&INCLUDES) {
        assert!(
            seen.iter().any(|s| s == name),
            "shaders/{name}.wgsl is missing"
        );
    }
    assert!(root.join("src/cpu/philox.rs").is_file());
    assert!(
        tests
            .iter()
            .any(|t| t.contains("_matches_its_cpu_twin") && t.contains("philox")),
        "no test holds philox.wgsl to src/cpu/philox.rs: {tests:?}"
    );
}
