//! Streams of forward passes (`Engine::stream_*`): a sequence run as several passes that
//! continue one another gives the outputs of one long pass; a saved state comes back bit for
//! bit, so a probe between passes leaves no trace; the GPU stream matches the CPU reference.

mod common;

use common::{random_batch, random_network, Case};
use lsnn_gpu::cpu::CpuEngine;
use lsnn_gpu::engine::Engine;
use lsnn_gpu::gpu::GpuEngine;
use lsnn_gpu::model::init::constraints;
use lsnn_gpu::model::{Batch, Network, Readout};
use lsnn_gpu::native::NativeEngine;
use ndarray::{s, Array3, Axis};

/// Passes of 20 steps: whole frames of 5 and whole rounds of the 10-slot delay ring.
const PASS: usize = 20;

fn case() -> Case {
    Case {
        n_in: 21,
        n_regular: 23,
        n_adaptive: 14,
        n_out: 2,
        steps: 4 * PASS,
        batch: 3,
        n_delay: 10,
        n_ref: 5,
        readout: Readout::Regression(5),
        analog: true,
        input_density: 0.5,
        seed: 18,
        ..Case::default()
    }
}

fn pass_of(batch: &Batch, i: usize) -> Array3<f32> {
    batch
        .x
        .slice(s![i * PASS..(i + 1) * PASS, .., ..])
        .to_owned()
}

/// Inputs of a probe: other inputs than the sequence's own.
fn probe_input(c: &Case) -> Array3<f32> {
    let other = Case {
        seed: c.seed + 77,
        steps: PASS,
        ..c.clone()
    };
    random_batch(&other).x
}

/// The sequence in passes of PASS steps (noise off, so the step numbering does not matter),
/// with a probe (save, foreign pass, restore) before pass 2: the frame outputs of all passes
/// in order, and whether the restored state equalled the saved one bit for bit.
fn streamed(engine: &mut dyn Engine, c: &Case, batch: &Batch) -> Array3<f32> {
    let passes = c.steps / PASS;
    engine.stream_start(c.batch, PASS).expect("stream start");
    let mut outputs = Vec::new();
    for i in 0..passes {
        if i == 2 {
            engine.stream_save().expect("save");
            let before = engine.stream_state().expect("state");
            let probe = engine.stream_advance(&probe_input(c), 0).expect("probe");
            assert!(probe.iter().all(|v| v.is_finite()));
            assert_ne!(
                engine.stream_state().expect("state"),
                before,
                "the probe should move the state (else this test checks nothing)"
            );
            engine.stream_restore().expect("restore");
            assert_eq!(
                engine.stream_state().expect("state"),
                before,
                "{}: the restored state differs from the saved one",
                engine.describe()
            );
        }
        outputs.push(engine.stream_advance(&pass_of(batch, i), 0).expect("pass"));
    }
    let views: Vec<_> = outputs.iter().map(|o| o.view()).collect();
    ndarray::concatenate(Axis(0), &views).expect("frames of all passes")
}

fn network() -> (Case, Network, Batch) {
    let c = case();
    (c.clone(), random_network(&c), random_batch(&c))
}

#[test]
fn cpu_stream_with_a_probe_equals_one_long_pass() {
    let (c, net, batch) = network();
    let mut cpu = CpuEngine::new(
        net.clone(),
        constraints(net.n_in(), net.n_rec(), net.n_out(), None),
    );
    let whole = cpu.frame_outputs(&batch, 0).expect("one pass");
    let parts = streamed(&mut cpu, &c, &batch);
    assert_eq!(parts.dim(), whole.dim());
    // The same operations in the same order: equal bit for bit.
    assert_eq!(parts.mapv(f32::to_bits), whole.mapv(f32::to_bits));
    // Without the state carried over the outputs would differ: the test can tell.
    cpu.stream_start(c.batch, PASS).unwrap();
    let fresh = cpu.stream_advance(&pass_of(&batch, 1), 0).unwrap();
    assert_ne!(fresh, whole.slice(s![4..8, .., ..]).to_owned());
}

#[test]
fn gpu_stream_with_a_probe_equals_one_long_pass_and_the_reference() {
    let Some((ctx, _guard)) = require_gpu!() else {
        return;
    };
    let (c, net, batch) = network();
    let cons = constraints(net.n_in(), net.n_rec(), net.n_out(), None);
    // Chunks of 7 steps: a pass's chunks do not line up with its frames.
    let mut gpu = GpuEngine::new(ctx.clone(), net.clone(), &cons, None, 7).expect("GPU engine");
    let whole = gpu.frame_outputs(&batch, 0).expect("one pass");
    let parts = streamed(&mut gpu, &c, &batch);
    // A pass boundary is a chunk boundary for the kernels, which give the same numbers for
    // any chunking: equal bit for bit.
    assert_eq!(parts.mapv(f32::to_bits), whole.mapv(f32::to_bits));
    // Against the CPU reference: f32 sums in another order (as frame outputs elsewhere).
    let mut cpu = CpuEngine::new(net.clone(), cons);
    let reference = streamed(&mut cpu, &c, &batch);
    for (&g, &r) in parts.iter().zip(reference.iter()) {
        assert!(
            (g - r).abs() <= 1e-4 * r.abs() + 1e-5,
            "GPU stream output {g} vs reference {r}"
        );
    }
}

#[test]
fn native_stream_with_a_probe_equals_one_long_pass_and_the_reference() {
    let (c, net, batch) = network();
    let cons = constraints(net.n_in(), net.n_rec(), net.n_out(), None);
    let mut native = NativeEngine::new(net.clone(), cons.clone());
    let whole = native.frame_outputs(&batch, 0).expect("one pass");
    let parts = streamed(&mut native, &c, &batch);
    assert_eq!(parts.mapv(f32::to_bits), whole.mapv(f32::to_bits));
    // The native forward pass is the reference's, operation for operation: equal bit for bit.
    let mut cpu = CpuEngine::new(net.clone(), cons);
    let reference = streamed(&mut cpu, &c, &batch);
    assert_eq!(parts.mapv(f32::to_bits), reference.mapv(f32::to_bits));
}

#[test]
fn streams_refuse_what_they_cannot_do() {
    let (c, net, batch) = network();
    let cons = constraints(net.n_in(), net.n_rec(), net.n_out(), None);
    let mut cpu = CpuEngine::new(net.clone(), cons.clone());
    let e = cpu.stream_advance(&pass_of(&batch, 0), 0).unwrap_err();
    assert!(e.to_string().contains("stream_start"), "{e}");
    let e = cpu.stream_start(c.batch, 15).unwrap_err();
    assert!(e.to_string().contains("delay ring"), "{e}");
    let e = cpu.stream_start(c.batch, 12).unwrap_err();
    assert!(e.to_string().contains("whole frames"), "{e}");
    cpu.stream_start(c.batch, PASS).unwrap();
    let e = cpu.stream_restore().unwrap_err();
    assert!(e.to_string().contains("saved"), "{e}");
    let e = cpu
        .stream_advance(&batch.x.slice(s![..PASS, ..2, ..]).to_owned(), 0)
        .unwrap_err();
    assert!(e.to_string().contains("sequences"), "{e}");
    // Any other pass ends the stream.
    cpu.evaluate(&batch, 0).unwrap();
    assert!(cpu.stream_state().is_err());
    let mut window = net.clone();
    window.sim.readout = Readout::Window(5);
    let mut cpu = CpuEngine::new(window, cons);
    let e = cpu.stream_start(c.batch, PASS).unwrap_err();
    assert!(e.to_string().contains("regression"), "{e}");
}
