"""The numpy forward pass against `lsnn-gpu grads --device cpu`: spikes exact, loss 1e-5."""

import numpy as np

import lsnn_gpu as L


def compare(case):
    net = L.load_checkpoint(case.params)
    batch = L.load_batch(case.batch)
    g = L.load_gradients(case.grads)
    trace, loss = L.evaluate(net, batch)
    mismatches = int(np.sum(trace.spikes != g.z))
    diffs = (abs(float(loss.loss) - g.loss), abs(float(loss.loss_task) - g.loss_task), abs(float(loss.loss_reg) - g.loss_reg))
    print(f"{case.params.name}: {int(g.z.sum())} spikes, {mismatches} mismatches of {g.z.size}; |loss diffs| {diffs}")
    assert mismatches == 0
    assert max(diffs) <= 1e-5
    return net, trace, loss, g


def test_synthetic_matches_grads(synthetic):
    net, trace, loss, g = compare(synthetic)
    # It exercises what it should: both populations spike, refractoriness silences some.
    assert g.z[:, :, :24].sum() > 0 and g.z[:, :, 24:].sum() > 0
    assert trace.refractory.any()
    assert loss.rates.shape == (40,) and loss.probs.shape == (1, 32, 4)


def test_deep_r_checkpoint_matches_grads(deep_r):
    net, *_ = compare(deep_r)
    assert 0.1 < np.mean(net.w_rec != 0) < 0.3  # sparse


def test_noise_matches_grads(noisy):
    """sigma > 0: the counter-based noise of src/cpu/noise.rs, drawn with grads' seed 0."""
    net, trace, *_ = compare(noisy)
    assert net.noise_std > 0


def test_noise_moments():
    # Standard normal moments over 32k draws (exactness is test_noise_matches_grads).
    from lsnn_gpu.forward import noise_normal

    e = noise_normal(0, 1, np.arange(64, dtype=np.uint32)[:, None], np.arange(512, dtype=np.uint32)[None, :])
    assert e.dtype == np.float32
    assert abs(float(e.mean())) < 0.02 and abs(float(e.std()) - 1) < 0.02


def test_trace_and_outputs(synthetic):
    net = L.load_checkpoint(synthetic.params)
    batch = L.load_batch(synthetic.batch)
    trace, loss = L.evaluate(net, batch)
    dt = float(net.dt)
    assert set(np.unique(trace.z)) <= {0.0, np.float32(1 / dt)}
    # M3: A = thr + beta * b; M5: a spike only where v_{t-1} > A and not refractory.
    assert np.allclose(trace.thr_adaptive, net.thr + net.beta * trace.b)
    fired = trace.z != 0
    assert np.all(trace.v_prev[fired] > trace.thr_adaptive[fired])
    assert not np.any(fired & trace.refractory)
    y = L.outputs_over_time(net, loss.trace_out)
    logits = y[-10:].mean(axis=0)
    assert np.allclose(np.exp(logits) / np.exp(logits).sum(-1, keepdims=True), loss.probs[0], atol=1e-5)
