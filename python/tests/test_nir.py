"""NIR export and import (python/NIR.md)."""

import subprocess
import sys

import numpy as np
import pytest

import lsnn_gpu as L

nir = pytest.importorskip("nir")
from lsnn_gpu import nir as LN  # noqa: E402
from lsnn_gpu.nir import NIRImportError  # noqa: E402

import nir_interpreter  # noqa: E402
from conftest import SYNTHETIC, grads_for, run  # noqa: E402
from test_files import assert_same_file_contents  # noqa: E402


def export_and_read(case, tmp_path, exact=False):
    net = L.load_checkpoint(case.params)
    path = tmp_path / ("exact.nir" if exact else "net.nir")
    LN.export_nir(case.params, path, exact=exact)
    return net, nir.read(str(path))


def test_lif_network_reads_back_exactly(lif_only, tmp_path):
    """Every weight and time constant of a LIF network is in the file exactly, as plain NIR."""
    net, g = export_and_read(lif_only, tmp_path)
    dt = float(net.dt)
    assert dt == 1.0 and net.n_delay == 5
    lif = g.nodes["lif"]
    assert type(lif).__name__ == "LIF" and not lif.metadata  # plain NIR: no convention needed
    assert np.array_equal(lif.tau, net.tau_m.astype(np.float64) / 1000)  # seconds
    assert np.array_equal(lif.v_threshold, net.thr) and np.all(lif.r == 1)
    assert np.all(lif.v_leak == 0) and np.all(lif.v_reset == 0)
    for k in range(net.n_delay):
        w = g.nodes[f"w_in_d{k}"].weight
        assert np.array_equal(w, np.where(net.delay_in == k, net.w_in, 0).T)
        assert np.array_equal(g.nodes[f"w_rec_d{k}"].weight, np.where(net.delay_rec == k, net.w_rec, 0).T / dt)
        if k:
            assert np.all(g.nodes[f"delay_in_d{k}"].delay == k * dt / 1000)
            assert np.all(g.nodes[f"delay_rec_d{k}"].delay == k * dt / 1000)
    assert np.all(g.nodes["readout_trace"].tau == np.float64(net.tau_out) / 1000)
    assert np.array_equal(g.nodes["readout"].weight, net.w_out.T / dt)
    assert np.array_equal(g.nodes["readout"].bias, net.b_out)
    assert g.metadata["lsnn_gpu.format"] == "lsnn-gpu/nir-1" and g.metadata["lsnn_gpu.n_ref"] == "0"
    # ... and the importer gives back the checkpoint, bit for bit.
    L.save_checkpoint(tmp_path / "back.safetensors", LN.from_nir(g))
    assert_same_file_contents(lif_only.params, tmp_path / "back.safetensors")


@pytest.mark.parametrize("case_name", ["synthetic", "deep_r"])
def test_alif_network_round_trips_through_metadata(case_name, request, tmp_path):
    case = request.getfixturevalue(case_name)
    net, g = export_and_read(case, tmp_path)
    meta = g.nodes["lif"].metadata
    assert meta["lsnn_gpu.neuron"] == "alif" and meta["lsnn_gpu.reset"] == "subtract_adaptive_threshold"
    assert np.array_equal(meta["lsnn_gpu.beta"], net.beta)
    assert np.array_equal(meta["lsnn_gpu.tau_a"], net.tau_a.astype(np.float64) / 1000)
    assert int(meta["lsnn_gpu.n_regular"]) == 24
    back = tmp_path / "back.safetensors"
    L.save_checkpoint(back, LN.from_nir(g))
    assert_same_file_contents(case.params, back)


def test_interpreter_reproduces_spikes_of_the_exact_export(lif_only, tmp_path):
    """NIR's own semantics (LI, Delay, Threshold, Linear, Affine; no lsnn-gpu metadata) of
    the exact export give lsnn-gpu's spikes (n_ref = 0) and readout."""
    net, g = export_and_read(lif_only, tmp_path, exact=True)
    assert {type(n).__name__ for n in g.nodes.values()} == {"Input", "Linear", "Delay", "LI", "Threshold", "Affine", "Output"}
    batch = L.load_batch(lif_only.batch)
    grads = L.load_gradients(lif_only.grads)
    out = nir_interpreter.simulate(g, batch.x, dt=float(net.dt) / 1000)
    spikes = out["spike"]
    print(f"exact export: {int(grads.z.sum())} spikes, {int(np.sum(spikes != grads.z))} mismatches of {spikes.size}")
    assert grads.z.sum() > 1000
    assert np.array_equal(spikes, grads.z)
    _, loss = L.evaluate(net, batch)
    y = L.outputs_over_time(net, loss.trace_out)
    assert np.max(np.abs(out["output"] - y)) < 1e-5


@pytest.mark.parametrize("case_name", ["lif_only", "synthetic"])
def test_interpreter_reproduces_spikes_of_the_lif_export(case_name, request, tmp_path):
    """The default export read with lsnn-gpu's discrete reading of LIF (NIR.md) gives
    lsnn-gpu's spikes, ALIF neurons (metadata), refractoriness and delays included; NIR's
    own LIF reading (reset to v_reset, spike from the new voltage) gives other spikes."""
    case = request.getfixturevalue(case_name)
    net, g = export_and_read(case, tmp_path)
    batch = L.load_batch(case.batch)
    z = L.load_gradients(case.grads).z
    ours = nir_interpreter.simulate(g, batch.x, dt=float(net.dt) / 1000, lif_reading="lsnn", n_ref=net.n_ref)["lif"]
    assert np.array_equal(ours, z)
    plain = nir_interpreter.simulate(g, batch.x, dt=float(net.dt) / 1000, lif_reading="nir")["lif"]
    print(
        f"{case_name}: lsnn reading 0 mismatches; NIR's LIF reading agrees on {np.mean(plain == z):.1%} "
        f"of neuron-steps ({int(plain.sum())} spikes vs {int(z.sum())})"
    )


def snntorch_like_graph(n_in=20, n=12, n_out=4, seed=3, bias=0.0, self_weight=0.0, cuba=False):
    """Input -> Affine -> {LIF with recurrent Linear} (subgraph, as snnTorch's RLeaky and
    Norse's recurrent cells are written) -> Affine -> LI -> Output, with snnTorch's
    parameters for beta = 0.95 at dt = 1 ms: tau = dt/(1 - beta), r = tau/dt."""
    rng = np.random.default_rng(seed)
    dt, beta = 1e-3, 0.95
    tau = np.full(n, dt / (1 - beta))
    w_rec = rng.normal(0, 0.3, (n, n)).astype(np.float32)
    np.fill_diagonal(w_rec, self_weight)
    if cuba:
        neuron = nir.CubaLIF(tau_syn=np.full(n, 5e-3), tau_mem=tau, r=tau / dt, v_leak=np.zeros(n), v_threshold=np.ones(n))
    else:
        neuron = nir.LIF(tau=tau, r=tau / dt, v_leak=np.zeros(n), v_threshold=np.ones(n), v_reset=np.zeros(n))
    rec = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([n])),
            "lif": neuron,
            "w_rec": nir.Linear(weight=w_rec),
            "output": nir.Output(output_type=np.array([n])),
        },
        edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
    )
    nodes = {
        "input": nir.Input(input_type=np.array([n_in])),
        "fc1": nir.Affine(weight=rng.normal(0, 0.5, (n, n_in)).astype(np.float32), bias=np.full(n, bias, np.float32)),
        "rlif": rec,
        "fc2": nir.Affine(weight=rng.normal(0, 0.5, (n_out, n)).astype(np.float32), bias=np.zeros(n_out, np.float32)),
        "li": nir.LI(tau=np.full(n_out, 0.02), r=np.ones(n_out), v_leak=np.zeros(n_out)),
        "output": nir.Output(output_type=np.array([n_out])),
    }
    edges = [("input", "fc1"), ("fc1", "rlif"), ("rlif", "fc2"), ("fc2", "li"), ("li", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges)


def test_lif_graph_imports_and_evaluates(binary, synthetic, tmp_path):
    """A NIR file of LIF neurons as snnTorch/Norse write it becomes a checkpoint that
    `lsnn-gpu grads` and `lsnn-gpu eval` accept."""
    g = snntorch_like_graph()
    nir.write(str(tmp_path / "lif.nir"), g)
    net = LN.import_nir(tmp_path / "lif.nir", tmp_path / "imported.safetensors", readout="window:10", integrator="euler")
    # Forward Euler: alpha = 1 - dt/tau = beta; r folds into the weights: v = beta v + W x.
    assert np.allclose(np.exp(-1.0 / net.tau_m), 0.95, rtol=0, atol=1e-6)
    fc1 = np.asarray(g.nodes["fc1"].weight)
    assert np.allclose(net.w_in, 20 * fc1.T) and net.n_delay == 1 and net.n_ref == 0
    assert np.allclose(net.w_out, np.asarray(g.nodes["fc2"].weight).T) and np.all(net.beta == 0)
    assert abs(np.exp(-1.0 / net.tau_out) - 0.95) < 1e-6 and str(net.readout) == "window:10"
    out = grads_for(binary, tmp_path / "imported.safetensors", synthetic.batch, tmp_path / "g.safetensors")
    gr = L.load_gradients(out)
    trace, loss = L.evaluate(L.load_checkpoint(tmp_path / "imported.safetensors"), L.load_batch(synthetic.batch))
    assert np.array_equal(trace.spikes, gr.z) and abs(float(loss.loss) - gr.loss) <= 1e-5
    assert gr.z.sum() > 0
    summary = run(binary, "eval", SYNTHETIC, "--checkpoint", tmp_path / "imported.safetensors", "--device", "cpu")
    assert '"command":"eval"' in summary and '"test_accuracy"' in summary
    # ... and `lsnn-gpu run --init-from` fine-tunes it on the task.
    summary = run(binary, "run", SYNTHETIC, "--init-from", tmp_path / "imported.safetensors",
                  "--set", "train.iterations=4", "--set", "eval.every=2",
                  "--out", tmp_path / "finetune", "--device", "native")
    assert '"command":"run"' in summary and '"iterations":4' in summary
    assert (tmp_path / "finetune" / "last.safetensors").exists()


def test_unmappable_graphs_are_refused_with_the_reason():
    with pytest.raises(NIRImportError, match="CubaLIF.*tau_syn"):
        LN.from_nir(snntorch_like_graph(cuba=True))
    with pytest.raises(NIRImportError, match="non-zero bias"):
        LN.from_nir(snntorch_like_graph(bias=0.1))
    with pytest.raises(NIRImportError, match="connect to themselves.*--drop-self-connections"):
        LN.from_nir(snntorch_like_graph(self_weight=0.2))
    net = LN.from_nir(snntorch_like_graph(self_weight=0.2), drop_self_connections=True)
    assert np.all(np.diag(net.w_rec) == 0)
    with pytest.raises(ValueError, match="exact export needs beta = 0"):
        LN.to_nir(_alif_network(), exact=True)


def _alif_network():
    from test_files import small_network

    return small_network("window:3")


def test_command_line(synthetic, tmp_path):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "lsnn_gpu.nir", *map(str, args)], capture_output=True, text=True)

    p = cli("export", synthetic.params, tmp_path / "a.nir")
    assert p.returncode == 0, p.stderr
    p = cli("import", tmp_path / "a.nir", tmp_path / "a.safetensors")
    assert p.returncode == 0, p.stderr
    assert "n_rec 40 (24 regular)" in p.stdout
    assert_same_file_contents(synthetic.params, tmp_path / "a.safetensors")
    p = cli("export", synthetic.params, tmp_path / "b.nir", "--exact")
    assert p.returncode == 1 and "exact export needs beta = 0" in p.stderr
    nir.write(str(tmp_path / "cuba.nir"), snntorch_like_graph(cuba=True))
    p = cli("import", tmp_path / "cuba.nir", tmp_path / "c.safetensors")
    assert p.returncode == 1 and "CubaLIF" in p.stderr and not (tmp_path / "c.safetensors").exists()
