"""Files: round trips, and files written by Python read by lsnn-gpu (and back)."""

import json

import numpy as np
import pytest
from safetensors import safe_open

import lsnn_gpu as L
from conftest import grads_for

TENSORS = ("w_in", "w_rec", "w_out", "b_out", "tau_m", "tau_a", "beta", "thr", "delay_in", "delay_rec")


def raw(path):
    with safe_open(str(path), "np") as f:
        return f.metadata(), {k: f.get_tensor(k) for k in f.keys()}


def assert_same_file_contents(a, b):
    ma, ta = raw(a)
    mb, tb = raw(b)
    assert ma == mb
    assert sorted(ta) == sorted(tb)
    for k in ta:
        assert ta[k].dtype == tb[k].dtype and ta[k].shape == tb[k].shape, k
        assert np.array_equal(ta[k], tb[k], equal_nan=True), k


def test_checkpoint_round_trip_is_exact(synthetic, tmp_path):
    net = L.load_checkpoint(synthetic.params)
    assert (net.n_in, net.n_rec, net.n_out) == (20, 40, 4)
    assert (net.n_regular, net.n_delay, net.n_ref) == (24, 5, 3)
    assert str(net.readout) == "window:10"
    assert net.delay_in.dtype == np.int32 and net.delay_in.max() == 4
    out = tmp_path / "again.safetensors"
    L.save_checkpoint(out, net)
    # Same tensors (names, dtypes, shapes, values) and the same metadata strings.
    assert_same_file_contents(synthetic.params, out)


def test_batch_and_gradient_round_trips(synthetic, tmp_path):
    b = L.load_batch(synthetic.batch)
    assert b.x.shape == (100, 32, 20) and b.labels.shape == (32,)
    L.save_batch(tmp_path / "b.safetensors", b)
    assert_same_file_contents(synthetic.batch, tmp_path / "b.safetensors")
    g = L.load_gradients(synthetic.grads)
    assert g.z.shape == (100, 32, 40) and set(np.unique(g.z)) <= {0.0, 1.0}
    L.save_gradients(tmp_path / "g.safetensors", g)
    assert_same_file_contents(synthetic.grads, tmp_path / "g.safetensors")


def small_network(readout, n_in=6, n_rec=9, n_out=3, n_delay=3, seed=0, n_regular=5):
    rng = np.random.default_rng(seed)
    w_rec = rng.normal(0, 1 / np.sqrt(n_rec), (n_rec, n_rec))
    np.fill_diagonal(w_rec, 0)
    beta = np.r_[np.zeros(n_regular), np.full(n_rec - n_regular, 1.8)]
    return L.Network(
        w_in=rng.normal(0, 1 / np.sqrt(n_in), (n_in, n_rec)),
        w_rec=w_rec,
        w_out=rng.normal(0, 0.5, (n_rec, n_out)),
        b_out=rng.normal(0, 0.1, n_out),
        tau_m=rng.uniform(15, 25, n_rec),
        tau_a=rng.uniform(200, 800, n_rec),
        beta=beta,
        thr=np.full(n_rec, 0.01),
        delay_in=rng.integers(0, n_delay, (n_in, n_rec)),
        delay_rec=rng.integers(0, n_delay, (n_rec, n_rec)),
        dt=1.0,
        dampening=0.3,
        n_ref=2,
        n_delay=n_delay,
        tau_out=20.0,
        readout=readout,
        reg_coeff=0.1,
        reg_rate_hz=10.0,
    )


def small_batch(readout, T=40, B=5, n_in=6, n_out=3, seed=1):
    rng = np.random.default_rng(seed)
    x = (rng.random((T, B, n_in)) < 0.1).astype(np.float32)
    r = L.Readout.parse(readout)
    if r.kind == "window":
        return L.Batch(x, labels=rng.integers(0, n_out, B))
    if r.kind == "framewise":
        fl = rng.integers(-1, n_out, (T, B))
        return L.Batch(x, frame_labels=fl)
    ft = rng.normal(0, 1, (T, B, n_out)).astype(np.float32)
    ft[rng.random((T, B)) < 0.3] = np.nan  # not scored
    return L.Batch(x, frame_targets=ft)


@pytest.mark.parametrize("readout", ["window:7", "framewise", "framewise:4", "regression:5"])
def test_python_written_files_go_through_grads(binary, tmp_path, readout):
    """A checkpoint and batch written by numpy: lsnn-gpu reads them, and its forward pass is
    this package's (spikes exact, losses to 1e-5) for every readout."""
    net = small_network(readout)
    batch = small_batch(readout)
    L.save_checkpoint(tmp_path / "p.safetensors", net)
    L.save_batch(tmp_path / "b.safetensors", batch)
    g = L.load_gradients(grads_for(binary, tmp_path / "p.safetensors", tmp_path / "b.safetensors", tmp_path / "g.safetensors"))
    trace, loss = L.evaluate(net, batch)
    assert g.z.sum() > 0
    assert np.array_equal(trace.spikes, g.z)
    assert abs(float(loss.loss) - g.loss) <= 1e-5
    assert abs(float(loss.loss_task) - g.loss_task) <= 1e-5
    assert abs(float(loss.loss_reg) - g.loss_reg) <= 1e-5


def test_readers_name_file_and_problem(synthetic, tmp_path):
    net = L.load_checkpoint(synthetic.params)
    meta, tensors = raw(synthetic.params)
    from safetensors.numpy import save_file

    del tensors["w_out"]
    save_file(tensors, str(tmp_path / "bad.safetensors"), metadata=meta)
    with pytest.raises(L.FormatError, match=r"bad.safetensors: tensor `w_out` is missing"):
        L.load_checkpoint(tmp_path / "bad.safetensors")
    _, tensors = raw(synthetic.params)
    save_file(tensors, str(tmp_path / "nometa.safetensors"), metadata={"format": "lsnn-gpu/2"})
    with pytest.raises(L.FormatError, match=r"metadata `format`: expected `lsnn-gpu/1`"):
        L.load_checkpoint(tmp_path / "nometa.safetensors")
    (tmp_path / "torn.safetensors").write_bytes(synthetic.params.read_bytes()[:100])
    with pytest.raises(L.FormatError, match="truncated or corrupt"):
        L.load_checkpoint(tmp_path / "torn.safetensors")
    w = net.copy()
    w.w_rec[3, 3] = 0.5
    with pytest.raises(L.FormatError, match="diagonal"):
        L.save_checkpoint(tmp_path / "diag.safetensors", w)
    assert not (tmp_path / "diag.safetensors").exists()


def test_optional_keys_default(synthetic, tmp_path):
    """`noise_std` and `n_regular` may be missing: 0 and the leading beta = 0 neurons."""
    meta, tensors = raw(synthetic.params)
    from safetensors.numpy import save_file

    for k in ("noise_std", "n_regular"):
        del meta[k]
    save_file(tensors, str(tmp_path / "min.safetensors"), metadata=meta)
    net = L.load_checkpoint(tmp_path / "min.safetensors")
    assert net.noise_std == 0 and net.n_regular == 24


def test_metrics_jsonl(tmp_path):
    lines = [
        {"iteration": 1, "loss": 1.5, "accuracy": 0.25},
        {"iteration": 2, "loss": 1.25, "accuracy": 0.5, "validation_loss": 1.3, "validation_accuracy": 0.4},
        {"iteration": 2, "test_loss": 1.2, "test_accuracy": 0.45},
    ]
    text = "".join(json.dumps(l) + "\n" for l in lines)
    (tmp_path / "metrics.jsonl").write_text(text + '{"iteration": 3, "lo')  # torn last line
    recs = L.read_metrics(tmp_path)  # a run directory works too
    assert recs == lines
    with pytest.raises(ValueError, match="line 4"):
        L.read_metrics(tmp_path / "metrics.jsonl", strict=True)
    (tmp_path / "bad.jsonl").write_text('{"a": 1}\nnot json\n{"a": 2}\n')
    with pytest.raises(ValueError, match="line 2"):
        L.read_metrics(tmp_path / "bad.jsonl")
    pd = pytest.importorskip("pandas")
    df = L.load_metrics(tmp_path)
    assert isinstance(df, pd.DataFrame)
    assert list(df["iteration"]) == [1, 2, 2]
    assert np.isnan(df["validation_loss"][0]) and df["test_accuracy"][2] == 0.45


def test_checkpoint_with_only_the_required_keys_goes_through_grads(binary, synthetic, tmp_path):
    """Issue 17: a checkpoint with only the required metadata keys (no `noise_std`, no
    `n_regular`, which default to 0 and the leading beta = 0 neurons) is read by lsnn-gpu."""
    meta, tensors = raw(synthetic.params)
    from safetensors.numpy import save_file

    for k in ("noise_std", "n_regular"):
        del meta[k]
    save_file(tensors, str(tmp_path / "min.safetensors"), metadata=meta)
    g = L.load_gradients(grads_for(binary, tmp_path / "min.safetensors", synthetic.batch, tmp_path / "g.safetensors"))
    assert np.array_equal(g.z, L.load_gradients(synthetic.grads).z)
