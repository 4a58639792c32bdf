"""A numpy forward pass of the LSNN (docs/model.md M0-M9), readout and losses.

This follows the Rust reference (src/cpu/alif_forward.rs, src/cpu/readout_loss.rs) in
float32, operation by operation and in the same order where rounding can change a spike:
the delayed currents of M1 are accumulated into the ring buffer input by input, then
presynaptic neuron by presynaptic neuron, step by step, exactly as the reference does. The
result is the same spikes as `lsnn-gpu grads --device cpu`, bit for bit, and its losses to
rounding (the transcendental functions exp/ln/cos are evaluated in float64 and rounded to
float32, which is how the C library's float functions round in all but rare cases).

Time is in ms; a spike has the value 1/dt (M5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from .files import Batch, Network

F32 = np.float32


def _exp32(a) -> np.ndarray:
    return np.exp(np.asarray(a, dtype=np.float64)).astype(F32)


def _ln32(a) -> np.ndarray:
    return np.log(np.asarray(a, dtype=np.float64)).astype(F32)


def _cos32(a) -> np.ndarray:
    return np.cos(np.asarray(a, dtype=np.float64)).astype(F32)


def alpha(net: Network) -> np.ndarray:
    """α = exp(−dt/τ_m) per neuron (M0a), in float32 as the reference computes it."""
    return _exp32((-F32(net.dt)) / net.tau_m)


def rho(net: Network) -> np.ndarray:
    """ρ = exp(−dt/τ_a) per neuron (M0b)."""
    return _exp32((-F32(net.dt)) / net.tau_a)


def kappa(net: Network) -> np.float32:
    """κ = exp(−dt/τ_out) of the readout trace (M7)."""
    return F32(_exp32((-F32(net.dt)) / F32(net.tau_out)))


# ---------------------------------------------------------------------------------------
# Noise (M1): the counter-based generator of src/cpu/noise.rs
# ---------------------------------------------------------------------------------------

_M = np.uint32


def hash_u32(x) -> np.ndarray:
    """The 32-bit "lowbias32" integer hash (as `hash_u32` in src/cpu/noise.rs)."""
    x = np.asarray(x, dtype=np.uint32).copy()
    with np.errstate(over="ignore"):
        x ^= x >> _M(16)
        x *= _M(0x7FEB352D)
        x ^= x >> _M(15)
        x *= _M(0x846CA68B)
        x ^= x >> _M(16)
    return x


def _unit_open(h: np.ndarray) -> np.ndarray:
    return ((h >> _M(8)) + _M(1)).astype(F32) * F32(1.0 / 16_777_216.0)


def noise_normal(seed: int, t: int, b, j) -> np.ndarray:
    """The standard normal number of M1's noise for (seed, step t = 1..T, sequence b,
    neuron j), as `noise_normal` in src/cpu/noise.rs (Box-Muller from two hashes)."""
    b = np.asarray(b, dtype=np.uint32)
    j = np.asarray(j, dtype=np.uint32)
    key = hash_u32(_M(seed) ^ hash_u32(_M(t) ^ hash_u32(b ^ hash_u32(j))))
    u1 = _unit_open(hash_u32(key ^ _M(0x68BC21EB)))
    u2 = _unit_open(hash_u32(key ^ _M(0x02E5BE93)))
    tau = F32(2.0 * np.pi)
    return np.sqrt(F32(-2.0) * _ln32(u1)) * _cos32(tau * u2)


# ---------------------------------------------------------------------------------------
# Forward pass, M1-M5
# ---------------------------------------------------------------------------------------


@dataclass
class Trace:
    """What the forward pass produces for steps t = 1..T (stored at index t-1), [T, B, n_rec].

    ``z``: spikes z_t, 0 or 1/dt (M5); ``v_prev``: v_{t-1}, the voltage z_t is computed from;
    ``thr_adaptive``: A_t (M3); ``b``: b_t (M2); ``refractory``: R_t; ``v_last``: v_T [B, n_rec].
    The recorded arrays other than ``z`` are None when the pass ran with ``record=False``.
    """

    z: np.ndarray
    v_prev: Optional[np.ndarray]
    thr_adaptive: Optional[np.ndarray]
    b: Optional[np.ndarray]
    refractory: Optional[np.ndarray]
    v_last: np.ndarray

    @property
    def spikes(self) -> np.ndarray:
        """The spikes as 0/1 (as `lsnn-gpu grads` stores them)."""
        return (self.z != 0).astype(F32)


def forward(net: Network, x, noise_seed: int = 0, record: bool = True) -> Trace:
    """Simulates the recurrent population for every sequence of the batch from the zero
    state (docs/model.md §2, M1-M5). ``x`` is [T, B, n_in]. ``noise_seed`` keys the noise of
    M1 (`lsnn-gpu grads` uses 0); it is ignored when noise_std = 0."""
    x = np.asarray(x, dtype=F32)
    T, B, n_in = x.shape
    if n_in != net.n_in:
        raise ValueError(f"x has {n_in} inputs, the network {net.n_in}")
    n = net.n_rec
    nd = net.n_delay
    dt = F32(net.dt)
    a = alpha(net)
    r = rho(net)
    one = F32(1.0)
    one_m_a = one - a
    one_m_r = one - r
    thr = net.thr
    beta = net.beta
    # S::spike(u, γ, 1/dt) with dt the f32 time step widened to f64.
    spike_value = F32(1.0 / float(dt))
    sigma = F32(net.noise_std)
    w_in, w_rec = net.w_in, net.w_rec

    # The ring buffer, flat per sequence: slot s of neuron j at s*n + j. At step t a
    # contribution with delay d goes to slot (t + d) % n_delay (M1).
    ring = np.zeros((B, nd * n), F32)
    cols = np.arange(n)
    idx_in = np.stack([((s + net.delay_in) % nd) * n + cols for s in range(nd)])  # [nd, n_in, n]
    idx_rec = np.stack([((s + net.delay_rec) % nd) * n + cols for s in range(nd)])  # [nd, n, n]
    bidx = np.arange(B, dtype=np.uint32)[:, None]
    jidx = np.arange(n, dtype=np.uint32)[None, :]

    z_prev = np.zeros((B, n), F32)
    v = np.zeros((B, n), F32)
    b = np.zeros((B, n), F32)
    refractory_left = np.zeros((B, n), np.int64)

    z_all = np.zeros((T, B, n), F32)
    if record:
        v_prev_all = np.zeros((T, B, n), F32)
        thr_all = np.zeros((T, B, n), F32)
        b_all = np.zeros((T, B, n), F32)
        ref_all = np.zeros((T, B, n), bool)

    for t in range(1, T + 1):
        ti = t - 1
        s = t % nd
        xt = x[ti]
        # M1, inputs in order i = 0..n_in: x_t[i]·W_in[i, j] into slot (t + d) % n_delay.
        # A zero input adds nothing (the reference skips it); adding x·w = ±0 for the
        # sequences of the batch that are silent leaves every sum unchanged.
        ii = idx_in[s]
        for i in np.flatnonzero(np.any(xt != 0, axis=0)):
            ring[:, ii[i]] += xt[:, i, None] * w_in[i][None, :]
        # ... then the recurrent spikes z_{t-1}[k]·W_rec[k, j], k = 0..n.
        ik = idx_rec[s]
        for k in np.flatnonzero(np.any(z_prev != 0, axis=0)):
            ring[:, ik[k]] += z_prev[:, k, None] * w_rec[k][None, :]
        current = ring[:, s * n:(s + 1) * n].copy()
        ring[:, s * n:(s + 1) * n] = 0
        if sigma > 0:
            e = noise_normal(noise_seed, t, bidx, jidx)
            current = current + sigma * e
        # M2, M3.
        b_t = r * b + one_m_r * z_prev
        thr_t = thr + beta * b_t
        # M5: from the previous voltage; refractory neurons are silenced.
        refractory = refractory_left > 0
        u = (v - thr_t) / thr_t
        z_t = np.where((u > 0) & ~refractory, spike_value, F32(0)).astype(F32)
        # M4: reset by the current adaptive threshold, for the previous step's spike.
        v_t = a * v + one_m_a * current - thr_t * z_prev * dt

        if record:
            v_prev_all[ti] = v
            b_all[ti] = b_t
            thr_all[ti] = thr_t
            ref_all[ti] = refractory
        z_all[ti] = z_t
        refractory_left = np.where(z_t != 0, net.n_ref, np.maximum(refractory_left - 1, 0))
        v = v_t
        b = b_t
        z_prev = z_t

    return Trace(
        z=z_all,
        v_prev=v_prev_all if record else None,
        thr_adaptive=thr_all if record else None,
        b=b_all if record else None,
        refractory=ref_all if record else None,
        v_last=v,
    )


# ---------------------------------------------------------------------------------------
# Readout and losses, M7-M9
# ---------------------------------------------------------------------------------------


@dataclass
class LossOutput:
    """Losses of one batch (docs/model.md §4): ``loss`` = ``loss_task`` + ``loss_reg``.

    ``trace_out``: p_t of M7 [T, B, n_rec]; ``probs``: softmax probabilities [1, B, n_out]
    (window) or [T/k, B, n_out] (framewise), or the frame outputs themselves [T/k, B, n_out]
    (regression); ``rates``: r̄_j of M9 in spikes per ms [n_rec]; ``correct``/``scored``:
    correct argmax predictions and scored predictions (classification)."""

    loss: np.float32
    loss_task: np.float32
    loss_reg: np.float32
    trace_out: np.ndarray
    probs: np.ndarray
    rates: np.ndarray
    correct: int
    scored: int

    @property
    def accuracy(self) -> float:
        return self.correct / max(self.scored, 1)


def readout_trace(net: Network, z: np.ndarray) -> np.ndarray:
    """M7: p_t = κ·p_{t−1} + (1 − κ)·z_t from p_0 = 0, [T, B, n_rec]."""
    z = np.asarray(z, dtype=F32)
    k = kappa(net)
    one_m_k = F32(1.0) - k
    p = np.zeros_like(z)
    prev = np.zeros(z.shape[1:], F32)
    for ti in range(z.shape[0]):
        prev = k * prev + one_m_k * z[ti]
        p[ti] = prev
    return p


def _output(net: Network, pbar: np.ndarray) -> np.ndarray:
    """M8: y = p·W_out + b_out, summed neuron by neuron as the reference. pbar [..., n_rec]."""
    y = np.broadcast_to(net.b_out, pbar.shape[:-1] + (net.n_out,)).astype(F32)
    for j in range(net.n_rec):
        y = y + pbar[..., j, None] * net.w_out[j]
    return y


def outputs_over_time(net: Network, trace_out: np.ndarray) -> np.ndarray:
    """The readout's output y_t for every step, [T, B, n_out]."""
    return _output(net, np.asarray(trace_out, dtype=F32))


def _softmax(logits: np.ndarray):
    """Softmax over the last axis in float32 as the reference: (probabilities, log Σ exp)."""
    mx = logits.max(axis=-1, keepdims=True)
    e = _exp32(logits - mx)
    s = np.zeros(logits.shape[:-1] + (1,), F32)
    for o in range(logits.shape[-1]):
        s = s + e[..., o:o + 1]
    return e / s, (mx + _ln32(s))[..., 0]


def _frame_means(p: np.ndarray, k: int, frames: int) -> np.ndarray:
    """Mean of p over each frame of k steps, summed step by step: [frames, B, n]."""
    inv_k = F32(1.0 / k)
    T, B, n = p.shape
    pbar = np.zeros((frames, B, n), F32)
    pf = p[: frames * k].reshape(frames, k, B, n)
    for s in range(k):
        pbar = pbar + pf[:, s] * inv_k
    return pbar


def readout_loss(net: Network, z: np.ndarray, batch: Batch) -> LossOutput:
    """Readout (M7, M8), task loss for the network's readout, and the firing-rate
    regulariser (M9), from the spikes ``z`` [T, B, n_rec] (values 0 or 1/dt, i.e.
    ``Trace.z``) and the batch's targets."""
    z = np.asarray(z, dtype=F32)
    T, B, n = z.shape
    p = readout_trace(net, z)
    ro = net.readout
    loss_task = F32(0)
    correct = 0
    scored = 0
    if ro.kind == "window":
        if batch.labels is None:
            raise ValueError("the window readout needs `labels`")
        k = ro.k
        if T < k:
            raise ValueError(f"{T} steps, but the readout window:{k} averages the last {k} steps")
        inv_k = F32(1.0 / k)
        pbar = np.zeros((B, n), F32)
        for ti in range(T - k, T):
            pbar = pbar + p[ti] * inv_k
        logits = _output(net, pbar)
        pr, lse = _softmax(logits)
        labels = batch.labels.astype(np.int64)
        terms = lse - logits[np.arange(B), labels]
        for bi in range(B):
            loss_task = F32(loss_task + terms[bi])
        correct = int(np.sum(np.argmax(logits, axis=-1) == labels))
        scored = B
        loss_task = F32(loss_task / F32(B))
        probs = pr[None]
    elif ro.kind in ("framewise", "regression"):
        k = ro.k
        if T % k:
            raise ValueError(f"{T} steps are not whole frames of {k}")
        frames = T // k
        pbar = _frame_means(p, k, frames)
        y = _output(net, pbar)  # [frames, B, n_out]
        last = np.arange(frames) * k + k - 1
        if ro.kind == "framewise":
            if batch.frame_labels is None:
                raise ValueError("the framewise readout needs `frame_labels`")
            labels = batch.frame_labels[last].astype(np.int64)  # [frames, B]
            pr, lse = _softmax(y)
            probs = pr
            for f in range(frames):
                for bi in range(B):
                    lab = labels[f, bi]
                    if lab >= 0:
                        loss_task = F32(loss_task + (lse[f, bi] - y[f, bi, lab]))
                        correct += int(np.argmax(y[f, bi]) == lab)
                        scored += 1
            loss_task = F32(loss_task / F32(max(scored, 1)))
        else:
            if batch.frame_targets is None:
                raise ValueError("the regression readout needs `frame_targets`")
            targets = batch.frame_targets[last]  # [frames, B, n_out]
            probs = y
            n_out = net.n_out
            for f in range(frames):
                for bi in range(B):
                    if np.isfinite(targets[f, bi, 0]):
                        e = y[f, bi] - targets[f, bi]
                        sq = e * e
                        for o in range(n_out):
                            loss_task = F32(loss_task + sq[o])
                        scored += 1
            loss_task = F32(loss_task / F32(max(scored, 1) * n_out))
    else:
        raise ValueError(f"unknown readout {ro}")

    # M9: r̄_j = mean of z over batch and time (summed t-major, then b, as the reference).
    f0 = F32(F32(net.reg_rate_hz) / F32(1000.0))
    inv_bt = F32(1.0 / (B * T))
    sums = np.add.accumulate(z.reshape(T * B, n), axis=0, dtype=F32)[-1] if T * B else np.zeros(n, F32)
    rates = (sums * inv_bt).astype(F32)
    loss_reg = F32(0)
    err = rates - f0
    sq = err * err
    for j in range(n):
        loss_reg = F32(loss_reg + sq[j])
    loss_reg = F32(F32(net.reg_coeff) * loss_reg)
    return LossOutput(
        loss=F32(loss_task + loss_reg),
        loss_task=loss_task,
        loss_reg=loss_reg,
        trace_out=p,
        probs=probs,
        rates=rates,
        correct=correct,
        scored=scored,
    )


def evaluate(net: Network, batch: Batch, noise_seed: int = 0):
    """Forward pass and losses of one batch, as `lsnn-gpu grads` computes them:
    returns (Trace, LossOutput)."""
    trace = forward(net, batch.x, noise_seed=noise_seed)
    return trace, readout_loss(net, trace.z, batch)
