"""Pieces shared by the peer benchmarks: the network's sizes and constants, command-line
arguments, thread pinning, synthetic data and the JSON output.

Everything here is plain Python + NumPy so that each peer script only has to express the
model in its own framework.
"""

import argparse
import json
import math
import os
import platform
import sys

import numpy as np

# ---------------------------------------------------------------------------------------
# The network timed by `lsnn-gpu bench --config configs/bench_smnist_size.yaml`
# (sequential-MNIST size, synthetic input).
# ---------------------------------------------------------------------------------------
STEPS = 840            # T: 784 pixels + 56 cue steps at 1 ms per step
STEPS_QUICK = 100      # T in --quick mode (smoke tests)
DT = 1.0               # time step, ms
N_IN = 80              # input channels
N_OUT = 10             # classes
N_REGULAR = 120        # LIF neurons (no adaptation)
N_ADAPTIVE = 100       # ALIF neurons (adaptive threshold)
N_REC = N_REGULAR + N_ADAPTIVE
TAU_M = 20.0           # membrane time constant, ms
TAU_A = 700.0          # adaptation time constant, ms
TAU_OUT = 20.0         # readout trace time constant, ms
BETA = 1.8             # adaptation strength of the ALIF neurons
THR = 0.01             # baseline threshold
N_REF = 5              # refractory period, steps
N_DELAY = 10           # synaptic delays are drawn from 0 .. N_DELAY-1 steps
GAMMA = 0.3            # dampening of the pseudo-derivative
INPUT_RATE = 0.02      # per-step spike probability of an input channel (20 Hz)
WINDOW = 28            # logits = mean of the readout over the last WINDOW steps
REG_COEFF = 0.1        # firing-rate regulariser strength
REG_RATE_HZ = 10.0     # its target rate
LEARNING_RATE = 1e-3   # Adam step size (the value `lsnn-gpu bench` uses)
PROPORTION_EXCITATORY = 0.75

ALPHA = math.exp(-DT / TAU_M)    # membrane decay per step
RHO = math.exp(-DT / TAU_A)      # adaptation decay per step
KAPPA = math.exp(-DT / TAU_OUT)  # readout trace decay per step


def parse_args(description, extra=None):
    """The arguments every peer script takes. `extra(parser)` may add more."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--batch", type=int, action="append", nargs="+", metavar="N",
                    help="batch size(s); repeatable (--batch 64 --batch 256) or a list "
                         "(--batch 64 256); default 64 and 256")
    ap.add_argument("--iters", type=int, default=3, help="timed iterations (default 3)")
    ap.add_argument("--warmup", type=int, default=1,
                    help="untimed iterations first, which include compilation (default 1)")
    ap.add_argument("--threads", type=int, default=None,
                    help="CPU cores to use (default: all this process may use)")
    ap.add_argument("--steps", type=int, default=None, help=f"sequence length T (default {STEPS})")
    ap.add_argument("--quick", action="store_true",
                    help=f"smoke test: T = {STEPS_QUICK}, batch 64, 1 warm-up, 1 timed iteration")
    ap.add_argument("--seed", type=int, default=0)
    if extra is not None:
        extra(ap)
    args = ap.parse_args()
    batches = [b for group in (args.batch or []) for b in group]
    if args.quick:
        args.steps = args.steps or STEPS_QUICK
        batches = batches or [64]
        args.iters = min(args.iters, 1)
        args.warmup = min(args.warmup, 1)
    args.batches = batches or [64, 256]
    args.steps = args.steps or STEPS
    if args.steps < WINDOW:
        ap.error(f"--steps must be at least the readout window ({WINDOW})")
    return args


def pin_threads(threads):
    """Restricts this process to `threads` cores (all available ones if None) and returns
    the count. Call it before importing the framework: JAX/XLA and PyTorch size their thread
    pools from the cores the process may run on."""
    cores = sorted(os.sched_getaffinity(0))
    if threads is not None and 0 < threads < len(cores):
        cores = cores[:threads]
        os.sched_setaffinity(0, cores)
    n = len(cores)
    # OpenMP / MKL based libraries (PyTorch) read these.
    os.environ.setdefault("OMP_NUM_THREADS", str(n))
    os.environ.setdefault("MKL_NUM_THREADS", str(n))
    return n


def log(msg):
    """Human-readable progress goes to stderr; stdout carries only JSON lines."""
    print(msg, file=sys.stderr, flush=True)


def emit(record):
    """One JSON line on stdout."""
    print(json.dumps(record), flush=True)


def dale_signs(rng):
    """Fixed sign (+1 excitatory, -1 inhibitory) of every presynaptic neuron, laid out as
    the LSNN reference does: the first n_rec - (int(0.75 n_rec) + 1) recurrent neurons are
    inhibitory (all of them regular LIF), the rest excitatory (all adaptive neurons among
    them); the input channels get the same proportion in a random order."""
    def n_inhibitory(n):
        return max(n - (int(PROPORTION_EXCITATORY * n) + 1), 0)

    rec = np.ones(N_REC, np.float32)
    rec[:n_inhibitory(N_REC)] = -1.0
    inp = np.ones(N_IN, np.float32)
    inp[:n_inhibitory(N_IN)] = -1.0
    rng.shuffle(inp)
    return inp, rec


def signed_balanced(signs, n_post, scale, rng):
    """|N(0,1)| magnitudes times the presynaptic sign, times `scale`; then the inhibitory
    entries of each postsynaptic column are scaled so that the column sums to zero (an
    excitation/inhibition balance; `lsnn-gpu init` does the same)."""
    w = np.abs(rng.standard_normal((len(signs), n_post))).astype(np.float32) * signs[:, None]
    pos = np.where(w > 0, w, 0).sum(0)
    neg = -np.where(w < 0, w, 0).sum(0)
    factor = np.where((pos > 0) & (neg > 0), pos / np.maximum(neg, 1e-30), 1.0)
    w = np.where(w < 0, w * factor[None, :], w)
    return (w * scale).astype(np.float32)


def initial_parameters(rng, n_delay=N_DELAY):
    """Initial weights, delays and Dale signs, as NumPy arrays, in the orientation
    `current = presynaptic activity @ W` (rows are presynaptic neurons):
      w_in  [N_IN, N_REC]  ~ |N(0,1)|/sqrt(N_IN)  with input signs, columns balanced
      w_rec [N_REC, N_REC] ~ |N(0,1)|/sqrt(N_REC) with recurrent signs, columns balanced,
                             zero diagonal (no neuron connects to itself)
      w_out [N_REC, N_OUT]   Glorot uniform magnitudes with the recurrent signs, b_out = 0
      d_in, d_rec            integer delays, uniform in 0 .. n_delay-1, one per synapse
    """
    sign_in, sign_rec = dale_signs(rng)
    w_in = signed_balanced(sign_in, N_REC, 1.0 / math.sqrt(N_IN), rng)
    w_rec = signed_balanced(sign_rec, N_REC, 1.0 / math.sqrt(N_REC), rng)
    np.fill_diagonal(w_rec, 0.0)
    limit = math.sqrt(6.0 / (N_REC + N_OUT))
    w_out = (np.abs(rng.uniform(-limit, limit, (N_REC, N_OUT))) * sign_rec[:, None]).astype(np.float32)
    b_out = np.zeros(N_OUT, np.float32)
    d_in = rng.integers(0, n_delay, (N_IN, N_REC))
    d_rec = rng.integers(0, n_delay, (N_REC, N_REC))
    return dict(w_in=w_in, w_rec=w_rec, w_out=w_out, b_out=b_out, n_delay=n_delay,
                d_in=d_in, d_rec=d_rec, sign_in=sign_in, sign_rec=sign_rec)


def synthetic_batch(rng, batch, steps):
    """A batch of lsnn-gpu's synthetic cue-recall task: Poisson input spikes (value 1/dt)
    at INPUT_RATE per step; during the first fifth of the sequence the channels of the
    sequence's class fire at 4x that rate. Returns x [steps, batch, N_IN] (float32) and
    labels [batch] (int32)."""
    labels = rng.integers(0, N_OUT, batch).astype(np.int32)
    group = -(-N_IN // N_OUT)  # channels per class
    prob = np.full((steps, batch, N_IN), INPUT_RATE, np.float32)
    cue_end = steps // 5
    channel_class = np.arange(N_IN) // group
    cued = channel_class[None, :] == labels[:, None]          # [batch, N_IN]
    prob[:cue_end] = np.where(cued[None], 4 * INPUT_RATE, INPUT_RATE)
    x = (rng.random((steps, batch, N_IN)) < prob).astype(np.float32) / DT
    return x, labels


def base_record(peer, batch, steps, ms_per_iter, iterations, threads):
    return {
        "peer": peer,
        "batch": batch,
        "steps": steps,
        "neurons": N_REC,
        "ms_per_iter": ms_per_iter,
        "neuron_steps_per_s": batch * steps * N_REC / (ms_per_iter / 1000.0) if ms_per_iter else None,
        "iterations_timed": iterations,
        "threads": threads,
    }


def python_versions():
    return {"python": platform.python_version(), "numpy": np.__version__}
