#!/usr/bin/env python3
"""One LSNN training iteration in JAX on the CPU, timed: the peer of `lsnn-gpu bench`.

The same network and the same work as lsnn-gpu's sequential-MNIST-size benchmark
(configs/bench_smnist_size.yaml): T = 840 steps of 1 ms, 80 Poisson input channels,
120 LIF + 100 ALIF neurons, synaptic delays of 0..9 steps on every input and recurrent
synapse, refractoriness of 5 steps, Dale's law, no self-connections, a leaky readout trace
averaged over the last 28 steps into 10 logits, softmax cross-entropy plus a firing-rate
regulariser, exact BPTT (jax.grad through lax.scan, with a pseudo-derivative for the
spike), one Adam step. float32, jit-compiled.

One time step, in the order lsnn-gpu (after the LSNN reference code) computes it; z is 0 or
1/dt, t-1 is the previous step:
  current    I_t = sum over synapses of (input or previous spike) * weight, each arriving
                   `delay` steps later (see "Delays" below)
  adaptation b_t = rho b_{t-1} + (1 - rho) z_{t-1}
  threshold  A_t = thr + beta b_t                 (beta = 0 for the LIF neurons)
  voltage    v_t = alpha v_{t-1} + (1 - alpha) I_t - A_t z_{t-1} dt   (reset by subtraction)
  spike      z_t = H(u_t) / dt with u_t = (v_{t-1} - A_t) / A_t, i.e. from the *previous*
                   voltage, and 0 if the neuron spiked in the last 5 steps
  backward   dz/du = gamma max(0, 1 - |u|), gamma = 0.3  (no stop-gradient anywhere)
  readout    p_t = kappa p_{t-1} + (1 - kappa) z_t,  y_t = p_t W_out + b_out
  loss       cross-entropy(mean of y_t over the last 28 steps)
             + 0.1 * sum_j (mean rate of neuron j - 10 Hz)^2

Delays. Every synapse has its own integer delay d in 0..9. We use one masked copy of each
weight matrix per delay value (W_d = W * [delay == d]):
  * input synapses: the input does not depend on the network, so the whole input current
    is computed before the time loop, as sum_d shift_d(x) @ W_in,d (10 matrix products over
    all steps at once);
  * recurrent synapses: inside the loop, the previous spikes are multiplied once by all ten
    recurrent matrices stacked side by side ([220, 10*220]) and added into a ring buffer of
    delayed currents: slot d of the buffer is the current that arrives d steps from now;
    slot 0 is used now and the ring advances by one slot each step.
This dense formulation does ten times the matrix work of a network without delays; it is
the natural way to express per-synapse delays in an array framework.

Timing: one iteration = forward over all T steps + BPTT + Adam + the Dale's-law clamp, on
one fixed batch generated before timing (lsnn-gpu also draws its batch inside the timed
loop; that is a small cost). Warm-up iterations (default 1) include the jit compilation,
reported separately as compile_s.

Output: progress on stderr, one JSON line per batch size on stdout.
"""

import sys
import time

import common as C



def extra_arguments(ap):
    ap.add_argument("--check", action="store_true",
                    help="also run small correctness checks (refractory gaps, delays, gradient "
                         "vs. forward mode) and print them to stderr")
    ap.add_argument("--n-delay", type=int, default=C.N_DELAY,
                    help=f"number of delay values, delays 0..n-1 (default {C.N_DELAY}; 1 = no "
                         "delays, the same work as the Norse peer)")


args = C.parse_args(__doc__.splitlines()[0], extra=extra_arguments)
THREADS = C.pin_threads(args.threads)  # before importing jax: XLA sizes its pool from it

import numpy as np  # noqa: E402

try:
    import jax  # noqa: E402
    import jax.numpy as jnp  # noqa: E402
except ImportError as e:  # report, as JSON, that this peer cannot run here
    C.log(f"jax_lsnn: JAX is not installed ({e}); pip install 'jax[cpu]' optax")
    C.emit({"peer": "jax", "skipped": f"jax not installed: {e}"})
    sys.exit(0)

jax.config.update("jax_platforms", "cpu")

try:
    import optax
except ImportError:
    optax = None

# ---------------------------------------------------------------------------------------
# The spike nonlinearity: Heaviside forward, dampened triangle backward.
# ---------------------------------------------------------------------------------------


@jax.custom_jvp
def heaviside(u):
    """H(u) = 1 if u > 0 (strictly) else 0, with the pseudo-derivative below."""
    return (u > 0).astype(u.dtype)


@heaviside.defjvp
def heaviside_jvp(primals, tangents):
    (u,), (du,) = primals, tangents
    pseudo = C.GAMMA * jnp.maximum(0.0, 1.0 - jnp.abs(u))
    return heaviside(u), pseudo * du


# ---------------------------------------------------------------------------------------
# The model.
# ---------------------------------------------------------------------------------------
# Per-neuron adaptation strength: 0 for the first 120 (LIF), beta for the last 100 (ALIF).
BETA_VEC = jnp.asarray(np.r_[np.zeros(C.N_REGULAR), np.full(C.N_ADAPTIVE, C.BETA)], jnp.float32)
F0 = C.REG_RATE_HZ * C.DT / 1000.0  # target rate in spikes per step


def delay_masks(delays, n_delay):
    """[n_pre, n_post] integer delays -> [n_delay, n_pre, n_post] 0/1 masks."""
    return jnp.asarray(np.stack([(delays == d) for d in range(n_delay)]), jnp.float32)


def make_model(init, steps):
    """Returns loss(params, x, labels) -> (loss, (mean rate in Hz, spikes)), with the
    constants (delays, masks) closed over."""
    n_delay = init["n_delay"]
    mask_in = delay_masks(init["d_in"], n_delay)     # [D, N_IN, N_REC]
    mask_rec = delay_masks(init["d_rec"], n_delay)   # [D, N_REC, N_REC]
    no_self = 1.0 - jnp.eye(C.N_REC, dtype=jnp.float32)

    def run(params, x):
        """Simulates the network on x [T, B, N_IN]; returns spikes z and traces p [T, B, N]."""
        batch = x.shape[1]
        w_rec = params["w_rec"] * no_self
        # Input current with delays, for all steps at once: a delay of d steps is the input
        # shifted d steps later in time, through the synapses whose delay is d.
        i_in = 0.0
        for d in range(n_delay):
            x_d = jnp.pad(x, ((d, 0), (0, 0), (0, 0)))[:steps]
            i_in = i_in + x_d @ (params["w_in"] * mask_in[d])
        # Recurrent weights of every delay side by side: spikes @ w_rec_all gives, for each
        # delay d, the current that arrives d steps later.
        w_rec_all = jnp.concatenate([w_rec * mask_rec[d] for d in range(n_delay)], axis=1)

        def step(carry, i_in_t):
            v, b, z, ref, ring, p = carry
            # M1: the previous spikes' recurrent currents join the ring buffer; slot 0 is
            # what arrives now; the ring then advances.
            ring = ring + (z @ w_rec_all).reshape(batch, n_delay, C.N_REC)
            current = i_in_t + ring[:, 0]
            ring = jnp.concatenate([ring[:, 1:], jnp.zeros_like(ring[:, :1])], axis=1)
            # M2-M3: adaptation and threshold, from the previous spike.
            b = C.RHO * b + (1.0 - C.RHO) * z
            thr = C.THR + BETA_VEC * b
            # M5: the spike is decided on the previous voltage; refractory neurons are silent
            # (and so pass no gradient).
            u = (v - thr) / thr
            allowed = (ref == 0).astype(jnp.float32)
            z_new = heaviside(u) * allowed / C.DT
            # M4: leaky integration, reset by subtracting the threshold for the previous spike.
            v = C.ALPHA * v + (1.0 - C.ALPHA) * current - thr * z * C.DT
            # Refractory counter: steps left during which the neuron may not spike.
            ref = jnp.where(z_new > 0, C.N_REF, jnp.maximum(ref - 1, 0))
            # M7: readout trace.
            p = C.KAPPA * p + (1.0 - C.KAPPA) * z_new
            return (v, b, z_new, ref, ring, p), (z_new, p)

        zeros = jnp.zeros((batch, C.N_REC), jnp.float32)
        carry = (zeros, zeros, zeros, jnp.zeros((batch, C.N_REC), jnp.int32),
                 jnp.zeros((batch, n_delay, C.N_REC), jnp.float32), zeros)
        _, (z, p) = jax.lax.scan(step, carry, i_in)
        return z, p

    def loss_fn(params, x, labels):
        z, p = run(params, x)
        # M8 and the window readout: logits = mean of y_t over the last WINDOW steps.
        y = p[-C.WINDOW:] @ params["w_out"] + params["b_out"]
        logits = y.mean(axis=0)
        task = -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], 1))
        # M9: firing-rate regulariser, rates in spikes per step.
        rate = (z * C.DT).mean(axis=(0, 1))
        reg = C.REG_COEFF * jnp.sum((rate - F0) ** 2)
        return task + reg, (rate.mean() * 1000.0 / C.DT, z)

    return run, loss_fn


def dale_clamp(params, sign_in, sign_rec):
    """After the Adam step: every weight keeps its presynaptic neuron's sign (a weight that
    would change sign is set to 0), and the recurrent diagonal stays 0."""
    def keep_sign(w, sign):
        return jnp.where(sign[:, None] > 0, jnp.maximum(w, 0.0), jnp.minimum(w, 0.0))

    out = dict(params)
    out["w_in"] = keep_sign(params["w_in"], sign_in)
    out["w_rec"] = keep_sign(params["w_rec"], sign_rec) * (1.0 - jnp.eye(C.N_REC, dtype=jnp.float32))
    out["w_out"] = keep_sign(params["w_out"], sign_rec)
    return out


def adam(lr, b1=0.9, b2=0.999, eps=1e-8):
    """optax.adam when optax is installed, else the same update in a few lines."""
    if optax is not None:
        return optax.adam(lr, b1=b1, b2=b2, eps=eps)

    class Adam:
        def init(self, params):
            zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
            return (jnp.zeros((), jnp.int32), zeros, zeros)

        def update(self, grads, state, params=None):
            t, m, v = state
            t = t + 1
            m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, m, grads)
            v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, v, grads)
            step = lr * jnp.sqrt(1 - b2 ** t) / (1 - b1 ** t)
            updates = jax.tree_util.tree_map(lambda m, v: -step * m / (jnp.sqrt(v) + eps), m, v)
            return updates, (t, m, v)

    return Adam()


def apply_updates(params, updates):
    return jax.tree_util.tree_map(lambda p, u: p + u, params, updates)


def make_train_step(init, steps):
    _, loss_fn = make_model(init, steps)
    opt = adam(C.LEARNING_RATE)
    sign_in = jnp.asarray(init["sign_in"])
    sign_rec = jnp.asarray(init["sign_rec"])

    @jax.jit
    def train_step(params, opt_state, x, labels):
        (loss, (rate_hz, _)), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, x, labels)
        updates, opt_state = opt.update(grads, opt_state, params)
        params = dale_clamp(apply_updates(params, updates), sign_in, sign_rec)
        return params, opt_state, loss, rate_hz

    return train_step, opt


def versions():
    import jaxlib

    v = C.python_versions()
    v.update(jax=jax.__version__, jaxlib=jaxlib.__version__)
    v["optax"] = optax.__version__ if optax is not None else None
    return v


# ---------------------------------------------------------------------------------------
# Correctness checks (--check): small and quick.
# ---------------------------------------------------------------------------------------
def run_checks(init, params):
    steps, batch = 120, 4
    rng = np.random.default_rng(1)
    run, loss_fn = make_model(init, steps)
    x, labels = C.synthetic_batch(rng, batch, steps)
    z, _ = jax.jit(run)(params, jnp.asarray(x))
    z = np.asarray(z)
    # 1. Refractoriness: two spikes of one neuron are at least N_REF + 1 steps apart.
    gaps = [np.diff(np.flatnonzero(z[:, b, j])) for b in range(batch) for j in range(C.N_REC)]
    gaps = np.concatenate([g for g in gaps if len(g)] or [np.array([C.N_REF + 1])])
    C.log(f"check: smallest gap between two spikes of a neuron = {gaps.min()} steps "
          f"(must be >= {C.N_REF + 1}): {'ok' if gaps.min() >= C.N_REF + 1 else 'FAIL'}")
    # 2. Delays: one input spike on channel 0 at step 0; the step at which it reaches
    #    neuron j in the input current must be the delay of synapse (0, j).
    x1 = np.zeros((steps, 1, C.N_IN), np.float32)
    x1[0, 0, 0] = 1.0
    mask_in = delay_masks(init["d_in"], init["n_delay"])
    i_in = sum(jnp.pad(jnp.asarray(x1), ((d, 0), (0, 0), (0, 0)))[:steps] @ (params["w_in"] * mask_in[d])
               for d in range(init["n_delay"]))
    arrival = np.argmax(np.abs(np.asarray(i_in[:, 0])) > 0, axis=0)
    nonzero = np.asarray(params["w_in"][0]) != 0
    ok = np.array_equal(arrival[nonzero], init["d_in"][0][nonzero])
    C.log(f"check: an input spike reaches each neuron after its synapse's delay: {'ok' if ok else 'FAIL'}")
    # 3. The pseudo-gradient from reverse mode (BPTT) equals forward mode on a random
    #    direction (both use the same custom rule for H').
    f = lambda w: loss_fn(dict(params, w_rec=w), jnp.asarray(x), jnp.asarray(labels))[0]  # noqa: E731
    direction = jnp.asarray(rng.standard_normal((C.N_REC, C.N_REC)), jnp.float32)
    g = jax.grad(f)(params["w_rec"])
    _, fwd = jax.jvp(f, (params["w_rec"],), (direction,))
    rev = jnp.vdot(g, direction)
    rel = abs(float(rev) - float(fwd)) / max(abs(float(fwd)), 1e-30)
    C.log(f"check: BPTT . direction = {float(rev):.6e}, forward mode = {float(fwd):.6e}, "
          f"relative difference {rel:.1e}: {'ok' if rel < 1e-3 else 'FAIL'}")
    # 4. Firing rate of the initial network on the synthetic input.
    C.log(f"check: initial mean firing rate {z.mean() * 1000 / C.DT:.1f} Hz "
          f"({(z.sum(axis=(0, 1)) > 0).mean() * 100:.0f} % of neurons fired in {steps} steps)")


def main():
    C.log(f"jax_lsnn: JAX {jax.__version__} on {jax.devices()[0].platform}, {THREADS} cores, "
          f"T = {args.steps}, batches {args.batches}, {args.warmup} warm-up + {args.iters} timed")
    rng = np.random.default_rng(args.seed)
    init = C.initial_parameters(rng, args.n_delay)
    params0 = {k: jnp.asarray(init[k]) for k in ("w_in", "w_rec", "w_out", "b_out")}
    if args.check:
        run_checks(init, params0)
    for batch in args.batches:
        train_step, opt = make_train_step(init, args.steps)
        params = params0
        opt_state = opt.init(params)
        x, labels = C.synthetic_batch(rng, batch, args.steps)
        x, labels = jnp.asarray(x), jnp.asarray(labels)
        C.log(f"jax_lsnn: batch {batch}: compiling and warming up...")
        t0 = time.perf_counter()
        for _ in range(args.warmup):
            params, opt_state, loss, rate = train_step(params, opt_state, x, labels)
        jax.block_until_ready(loss)
        compile_s = time.perf_counter() - t0
        losses, rates = [], []
        t0 = time.perf_counter()
        for _ in range(args.iters):
            params, opt_state, loss, rate = train_step(params, opt_state, x, labels)
            losses.append(loss)
            rates.append(rate)
        jax.block_until_ready(params)
        ms = (time.perf_counter() - t0) * 1000.0 / max(args.iters, 1)
        losses = [float(v) for v in losses]
        rate_hz = float(np.mean([float(r) for r in rates])) if rates else None
        C.log(f"jax_lsnn: batch {batch}: {ms:.1f} ms/iteration, firing rate "
              f"{rate_hz if rate_hz is None else round(rate_hz, 1)} Hz, loss {losses[-1:] or None}, "
              f"warm-up incl. compile {compile_s:.1f} s")
        rec = C.base_record("jax", batch, args.steps, ms, args.iters, THREADS)
        rec.update({
            "delays": args.n_delay > 1,
            "n_delay": args.n_delay,
            "refractory": True,
            "dale": True,
            "populations": f"{C.N_REGULAR} LIF + {C.N_ADAPTIVE} ALIF",
            "does_less": None if args.n_delay > 1 else "no synaptic delays (--n-delay 1)",
            "dtype": "float32",
            "compile_s": compile_s,
            "warmup_iterations": args.warmup,
            "rate_hz": rate_hz,
            "loss": losses[-1] if losses else None,
            "versions": versions(),
        })
        C.emit(rec)


if __name__ == "__main__":
    main()
