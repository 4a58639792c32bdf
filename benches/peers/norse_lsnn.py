#!/usr/bin/env python3
"""One LSNN training iteration in PyTorch + Norse on the CPU, timed: a peer of `lsnn-gpu bench`.

Same sizes as lsnn-gpu's sequential-MNIST-size benchmark (configs/bench_smnist_size.yaml):
T = 840 steps of 1 ms, 80 Poisson input channels (batch generated as in the JAX peer), 220
recurrent neurons, 10 classes read out over the last 28 steps, softmax cross-entropy plus the
firing-rate regulariser (0.1, 10 Hz), BPTT, one Adam step (lr 1e-3), then a Dale's-law clamp.

The network is one `norse.torch.LSNNRecurrent` module of 220 neurons. What we set:
  * Populations: Norse has a single population, but its adaptation strength `beta` may be a
    per-neuron tensor: beta = 0 for the first 120 neurons (plain LIF: their threshold stays
    at v_th) and > 0 for the last 100 (adaptive). So the 120 LIF + 100 ALIF split is kept.
  * Units: voltages in units of the baseline threshold (v_th = 1, weights divided by
    thr = 0.01), so that Norse's "triangle" surrogate gamma * max(0, 1 - |v - b|) (gamma =
    0.3) sees (v - A) / thr, which is the model's u = (v - A) / A for the LIF neurons and
    close to it for the adaptive ones.
  * Adaptation: a spike raises Norse's threshold b by beta; we use beta = 1.8 (1 - rho) /
    thr, the same jump as the model's A = thr + 1.8 b with b += (1 - rho) per spike, and
    tau_adapt = 700 ms. tau_mem = 20 ms. No synaptic current filter: tau_syn = dt, so
    Norse's current i is just the previous step's weighted input and spikes.
  * Weights: the same initialisation and Dale signs as the JAX peer; Norse zeroes the
    recurrent diagonal (no autapses) and its gradient; signs are clamped after Adam.
  * Readout: trace p_t = kappa p_{t-1} + (1 - kappa) z_t (tau_out 20 ms), y_t = p_t W_out +
    b_out, in plain PyTorch after the network.

What this peer does LESS than lsnn-gpu and the JAX peer (Norse's LSNN has no such features):
  * NO synaptic delays: every synapse acts after one step (lsnn-gpu: 0..9 steps per synapse).
  * NO refractory period (lsnn-gpu: 5 steps).
  * Norse detaches the spike in the reset and the adaptation update (no gradient through
    them), resets to 0 instead of subtracting the threshold, and decides the spike on the
    new voltage instead of the previous one. These change the numbers, hardly the work.

Modes: eager (default) runs Norse as it is: a Python loop over the 840 steps, each step a
few small PyTorch operations, and autograd going back over them. `--compile` wraps Norse's
one-step function (lsnn_step) in torch.compile, so each of the 840 steps runs as one
generated kernel forward and one backward; the loop itself stays in Python (compiling the
whole unrolled 840-step loop takes far too long to be a useful setting). Compilation time
is in the warm-up and reported as compile_s. If compilation fails, the error is reported in
the JSON line instead of a time.

Output: progress on stderr, one JSON line per batch size on stdout.
"""

import sys
import time
import traceback
import warnings

import common as C


def extra_arguments(ap):
    ap.add_argument("--compile", action="store_true",
                    help="run Norse's step function through torch.compile")


args = C.parse_args(__doc__.splitlines()[0], extra=extra_arguments)
THREADS = C.pin_threads(args.threads)
MODE = "compile" if args.compile else "eager"
PEER = "norse-compile" if args.compile else "norse"
DOES_LESS = "no synaptic delays, no refractoriness (Norse has neither)"

import numpy as np  # noqa: E402

# Norse's import uses torch.jit.script, which recent PyTorch marks deprecated: not our concern.
warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=FutureWarning)

try:
    import torch  # noqa: E402
    import norse  # noqa: E402
    import norse.torch as norse_torch  # noqa: E402
    from norse.torch.functional.lsnn import LSNNParameters, lsnn_step  # noqa: E402
except ImportError as e:
    C.log(f"norse_lsnn: PyTorch or Norse is not installed ({e}); see benches/peers/README.md")
    C.emit({"peer": PEER, "skipped": f"torch/norse not installed: {e}"})
    sys.exit(0)

torch.set_num_threads(THREADS)
DT_S = C.DT / 1000.0  # Norse's time unit is the second


def norse_parameters():
    beta = np.zeros(C.N_REC, np.float32)
    beta[C.N_REGULAR:] = C.BETA * (1.0 - C.RHO) / C.THR
    return LSNNParameters(
        tau_syn_inv=torch.as_tensor(1.0 / DT_S),        # current lasts one step
        tau_mem_inv=torch.as_tensor(1000.0 / C.TAU_M),
        tau_adapt_inv=torch.as_tensor(1000.0 / C.TAU_A),
        v_leak=torch.as_tensor(0.0),
        v_th=torch.as_tensor(1.0),                      # thr, as the unit of voltage
        v_reset=torch.as_tensor(0.0),
        beta=torch.as_tensor(beta),                     # 0: LIF, > 0: adaptive
        method="triangle",
        alpha=C.GAMMA,
    )


class Network(torch.nn.Module):
    def __init__(self, init):
        super().__init__()
        # Norse stores weights as [post, pre]; ours are [pre, post], in units of thr.
        w_in = torch.nn.Parameter(torch.as_tensor(init["w_in"].T / C.THR).contiguous())
        w_rec = torch.nn.Parameter(torch.as_tensor(init["w_rec"].T / C.THR).contiguous())
        self.lsnn = norse_torch.LSNNRecurrent(
            C.N_IN, C.N_REC, p=norse_parameters(), dt=DT_S,
            input_weights=w_in, recurrent_weights=w_rec, autapses=False,
        )
        self.w_out = torch.nn.Parameter(torch.as_tensor(init["w_out"]))
        self.b_out = torch.nn.Parameter(torch.as_tensor(init["b_out"]))
        self.sign_in = torch.as_tensor(init["sign_in"])    # per presynaptic input channel
        self.sign_rec = torch.as_tensor(init["sign_rec"])  # per presynaptic neuron

    def forward(self, x):
        z, _ = self.lsnn(x)                  # [T, B, N] spikes (0/1)
        # Readout trace, kept for the last WINDOW steps only.
        p = torch.zeros_like(z[0])
        traces = []
        steps = z.shape[0]
        for t in range(steps):
            p = C.KAPPA * p + (1.0 - C.KAPPA) * z[t]
            if t >= steps - C.WINDOW:
                traces.append(p)
        y = torch.stack(traces) @ self.w_out + self.b_out
        return y.mean(0), z

    @torch.no_grad()
    def dale_clamp(self):
        def keep_sign(w, sign):  # sign broadcast along w's presynaptic axis
            w.copy_(torch.where(sign > 0, w.clamp(min=0.0), w.clamp(max=0.0)))

        keep_sign(self.lsnn.input_weights, self.sign_in[None, :])
        keep_sign(self.lsnn.recurrent_weights, self.sign_rec[None, :])
        self.lsnn.recurrent_weights.fill_diagonal_(0.0)
        keep_sign(self.w_out, self.sign_rec[:, None])


def train_step(net, opt, x, labels):
    opt.zero_grad(set_to_none=True)
    logits, z = net(x)
    task = torch.nn.functional.cross_entropy(logits, labels)
    rate = z.mean((0, 1))  # spikes per step = per ms
    reg = C.REG_COEFF * ((rate - C.REG_RATE_HZ / 1000.0) ** 2).sum()
    loss = task + reg
    loss.backward()
    opt.step()
    net.dale_clamp()
    return float(loss.detach()), float(rate.mean().detach()) * 1000.0


def versions():
    v = C.python_versions()
    v.update(torch=torch.__version__, norse=getattr(norse, "__version__", None))
    return v


def main():
    C.log(f"norse_lsnn: PyTorch {torch.__version__}, Norse {getattr(norse, '__version__', '?')}, "
          f"{MODE} mode, {THREADS} threads, T = {args.steps}, batches {args.batches}, "
          f"{args.warmup} warm-up + {args.iters} timed")
    C.log(f"norse_lsnn: NOTE: this peer does less work: {DOES_LESS}")
    rng = np.random.default_rng(args.seed)
    init = C.initial_parameters(rng)
    for batch in args.batches:
        torch.manual_seed(args.seed)
        net = Network(init)
        if args.compile:
            net.lsnn.activation = torch.compile(lsnn_step, dynamic=False)
        opt = torch.optim.Adam(net.parameters(), lr=C.LEARNING_RATE, betas=(0.9, 0.999), eps=1e-8)
        x, labels = C.synthetic_batch(rng, batch, args.steps)
        x, labels = torch.as_tensor(x), torch.as_tensor(labels).long()
        rec = C.base_record(PEER, batch, args.steps, None, args.iters, THREADS)
        rec.update({
            "mode": MODE,
            "delays": False,
            "refractory": False,
            "dale": True,
            "populations": f"one LSNNRecurrent of {C.N_REC}: beta = 0 for {C.N_REGULAR}, "
                           f"> 0 for {C.N_ADAPTIVE}",
            "does_less": DOES_LESS,
            "dtype": "float32",
            "warmup_iterations": args.warmup,
            "versions": versions(),
        })
        C.log(f"norse_lsnn: batch {batch}: warming up{' (compiling)' if args.compile else ''}...")
        try:
            t0 = time.perf_counter()
            for _ in range(args.warmup):
                train_step(net, opt, x, labels)
            rec["compile_s"] = time.perf_counter() - t0
            losses, rates = [], []
            t0 = time.perf_counter()
            for _ in range(args.iters):
                loss, rate = train_step(net, opt, x, labels)
                losses.append(loss)
                rates.append(rate)
            ms = (time.perf_counter() - t0) * 1000.0 / max(args.iters, 1)
        except Exception as e:  # e.g. torch.compile failing on this machine: say so
            C.log(f"norse_lsnn: batch {batch}: FAILED in {MODE} mode: {e!r}")
            traceback.print_exc(file=sys.stderr)
            rec.update(ms_per_iter=None, neuron_steps_per_s=None,
                       error=f"{type(e).__name__}: {e}"[:2000])
            C.emit(rec)
            continue
        rec.update(C.base_record(PEER, batch, args.steps, ms, args.iters, THREADS))
        rec["rate_hz"] = float(np.mean(rates)) if rates else None
        rec["loss"] = losses[-1] if losses else None
        C.log(f"norse_lsnn: batch {batch}: {ms:.1f} ms/iteration, firing rate "
              f"{rec['rate_hz'] if rec['rate_hz'] is None else round(rec['rate_hz'], 1)} Hz, "
              f"warm-up {rec['compile_s']:.1f} s")
        C.emit(rec)


if __name__ == "__main__":
    main()
