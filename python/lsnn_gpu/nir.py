"""NIR (Neuromorphic Intermediate Representation) export and import of lsnn-gpu networks.

    python -m lsnn_gpu.nir export CKPT.safetensors OUT.nir [--exact]
    python -m lsnn_gpu.nir import IN.nir OUT.safetensors [--dt MS] [--readout window:K] ...

NIR.md (beside this package) says how lsnn-gpu's discrete-time model (docs/model.md M1-M9)
maps onto NIR's continuous-time nodes, where the semantics differ and what the exporter and
the importer do about each difference. Needs the `nir` package (node metadata exists since 1.0.4;
written against 1.0.8).

Conventions in one paragraph: NIR times are in seconds (as Norse and snnTorch write them),
lsnn-gpu's in ms. NIR spikes are unit events; an lsnn-gpu spike is z = s/dt, so the
exporter folds 1/dt into the recurrent and readout weights and every `r` is 1. LIF neurons
carry τ = τ_m, v_threshold = thr, v_leak = 0, v_reset = 0. Adaptive (ALIF) neurons have no
NIR node: the network's single LIF node then carries node metadata `lsnn_gpu.neuron = "alif"`
with per-neuron `lsnn_gpu.beta` and `lsnn_gpu.tau_a` (seconds), and the importer restores
them. Everything else a checkpoint holds (dt, n_ref, readout, ...) is graph metadata under
`lsnn_gpu.*`.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Dict, List, Optional, Tuple

import numpy as np

from .files import CHECKPOINT_KEYS, Network, Readout, format_f32, load_checkpoint, save_checkpoint

GRAPH_FORMAT = "lsnn-gpu/nir-1"
P = "lsnn_gpu."
# Checkpoint metadata keys copied verbatim (as strings) into the graph metadata: every key
# of a checkpoint but its format tag.
_CKPT_KEYS = tuple(k for k in CHECKPOINT_KEYS if k != "format")
ALIF_DESCRIPTION = (
    "lsnn-gpu adaptive LIF (docs/model.md M2-M5): b_t = rho*b_{t-1} + (1-rho)*z_{t-1}, "
    "rho = exp(-dt/tau_a); threshold A_t = v_threshold + beta*b_t; spike z_t = H(v_{t-1} - A_t); "
    "reset by subtracting A_t one step after the spike; beta = 0 is a plain LIF neuron"
)
SEMANTICS = (
    "lsnn-gpu discrete time (docs/model.md, python/NIR.md): v_t = a*v_{t-1} + (1-a)*I_t - A_t*s_{t-1}, "
    "a = exp(-dt/tau); spike s_t = H(v_{t-1} - A_t) from the previous voltage, silenced for n_ref steps "
    "after a spike; recurrent spikes arrive one step later (+ Delay nodes)"
)


class NIRImportError(ValueError):
    """A NIR graph that cannot be mapped onto an lsnn-gpu network; the message says why."""


def _nir():
    try:
        import nir
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("NIR export/import needs the `nir` package: pip install 'nir>=1.0.8'") from e
    return nir


def _seconds(ms) -> np.ndarray:
    return np.asarray(ms, dtype=np.float64) / 1000.0


def _weights(w: np.ndarray, divisor: float = 1.0) -> np.ndarray:
    """A weight matrix divided by `divisor`, as float32 when that is exact, else float64
    (so the importer's multiplication gives back the float32 weight bit for bit)."""
    w64 = np.asarray(w, dtype=np.float64) / float(divisor)
    w32 = w64.astype(np.float32)
    return w32 if np.array_equal(w32.astype(np.float64), w64) else w64


def _delay_groups(w: np.ndarray, d: np.ndarray, keep_empty_zero: bool) -> List[Tuple[int, np.ndarray]]:
    """(delay, weights with that delay) for each delay value that has a non-zero weight."""
    out = []
    for k in np.unique(d):
        wk = np.where(d == k, w, np.float32(0)).astype(np.float32)
        if np.any(wk != 0):
            out.append((int(k), wk))
    if not out and keep_empty_zero:
        out.append((0, np.zeros_like(w, dtype=np.float32)))
    return out


# ---------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------


def to_nir(net: Network, exact: bool = False):
    """The network as a nir.NIRGraph.

    Default: Input -> Linear per input delay (-> Delay) -> LIF (all n_rec neurons, one node)
    with a recurrent Linear per delay (-> Delay) back into it, and LIF -> LI (tau_out) ->
    Affine (W_out, b_out) -> Output. ALIF parameters ride in the LIF node's metadata.

    ``exact=True`` writes a graph whose plain NIR semantics (no metadata needed) are exactly
    lsnn-gpu's dynamics: the membrane is an LI node, the spike is a Threshold of the voltage
    delayed by one step (spike from the previous voltage), and the reset by subtraction is
    the recurrent weight -thr/(1-alpha) on the diagonal. Only for networks without adaptive
    neurons (beta = 0) and without refractoriness (n_ref = 0): NIR's linear nodes cannot
    express the product A_t*z_{t-1} of the adaptive reset, nor the refractory silence.
    """
    nir = _nir()
    net.check()
    n_in, n_rec, n_out = net.n_in, net.n_rec, net.n_out
    dt = float(net.dt)
    adaptive = bool(np.any(net.beta != 0))
    if exact and (adaptive or net.n_ref != 0):
        raise ValueError(
            "the exact export needs beta = 0 for every neuron and n_ref = 0 "
            f"(this network has {int(np.sum(net.beta != 0))} adaptive neurons and n_ref = {net.n_ref}); "
            "use the default export, which carries both in metadata"
        )
    ones = np.ones(n_rec)
    zeros = np.zeros(n_rec)
    nodes: Dict[str, object] = {"input": nir.Input(input_type=np.array([n_in]))}
    edges: List[Tuple[str, str]] = []
    neuron = "v" if exact else "lif"

    if exact:
        nodes["v"] = nir.LI(tau=_seconds(net.tau_m), r=ones.copy(), v_leak=zeros.copy())
        nodes["spike_delay"] = nir.Delay(delay=np.full(n_rec, _seconds(dt)))
        nodes["spike"] = nir.Threshold(threshold=net.thr.astype(np.float64))
        edges += [("v", "spike_delay"), ("spike_delay", "spike")]
        spikes = "spike"
    else:
        meta = {}
        if adaptive:
            meta = {
                P + "neuron": "alif",
                P + "n_regular": int(net.n_regular),
                P + "beta": net.beta.astype(np.float64),
                P + "tau_a": _seconds(net.tau_a),
                P + "reset": "subtract_adaptive_threshold",
                P + "description": ALIF_DESCRIPTION,
            }
        nodes["lif"] = nir.LIF(
            tau=_seconds(net.tau_m),
            r=ones.copy(),
            v_leak=zeros.copy(),
            v_threshold=net.thr.astype(np.float64),
            v_reset=zeros.copy(),
            metadata=meta,
        )
        spikes = "lif"

    def connect(src: str, tag: str, w: np.ndarray, d: np.ndarray, divisor: float, keep: bool):
        for k, wk in _delay_groups(w, d, keep):
            name = f"w_{tag}" + (f"_d{k}" if net.n_delay > 1 else "")
            nodes[name] = nir.Linear(weight=_weights(wk.T, divisor))
            edges.append((src, name))
            if k > 0:
                dname = f"delay_{tag}_d{k}"
                nodes[dname] = nir.Delay(delay=np.full(n_rec, _seconds(k * dt)))
                edges.append((name, dname))
                name = dname
            edges.append((name, neuron))

    connect("input", "in", net.w_in, net.delay_in, 1.0, keep=True)
    w_rec = net.w_rec.copy()
    if exact:
        # The reset -thr*s_{t-1} of M4 as a recurrent input: (1 - alpha)*w_jj = -thr_j.
        from .forward import alpha

        one_m_a = 1.0 - alpha(net).astype(np.float64)
        w_rec = w_rec.astype(np.float64)
        np.fill_diagonal(w_rec, -net.thr.astype(np.float64) * dt / one_m_a)
        # The diagonal reaches I_t from s_{t-1}: delay 0.
        d_rec = net.delay_rec.copy()
        np.fill_diagonal(d_rec, 0)
        for k in np.unique(d_rec):
            wk = np.where(d_rec == k, w_rec, 0.0)
            if not np.any(wk != 0):
                continue
            name = "w_rec" + (f"_d{k}" if net.n_delay > 1 else "")
            nodes[name] = nir.Linear(weight=wk.T / dt)
            edges.append((spikes, name))
            if k > 0:
                dname = f"delay_rec_d{k}"
                nodes[dname] = nir.Delay(delay=np.full(n_rec, _seconds(k * dt)))
                edges.append((name, dname))
                name = dname
            edges.append((name, neuron))
    else:
        connect(spikes, "rec", w_rec, net.delay_rec, dt, keep=False)

    nodes["readout_trace"] = nir.LI(tau=np.full(n_rec, _seconds(net.tau_out)), r=ones.copy(), v_leak=zeros.copy())
    nodes["readout"] = nir.Affine(weight=_weights(net.w_out.T, dt), bias=net.b_out.copy())
    nodes["output"] = nir.Output(output_type=np.array([n_out]))
    edges += [(spikes, "readout_trace"), ("readout_trace", "readout"), ("readout", "output")]

    meta = {P + "format": GRAPH_FORMAT, P + "export": "exact" if exact else "lif", P + "semantics": SEMANTICS}
    ck = net.metadata()
    for k in _CKPT_KEYS:
        meta[P + k] = ck[k]
    meta[P + "dt_seconds"] = _seconds(dt).item()
    if net.n_delay > 1:
        meta[P + "delay_in"] = net.delay_in.astype(np.int32)
        meta[P + "delay_rec"] = net.delay_rec.astype(np.int32)
    if not adaptive:
        # tau_a does nothing where beta = 0; kept so that import gives back the checkpoint.
        meta[P + "tau_a"] = _seconds(net.tau_a)
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def export_nir(checkpoint, out, exact: bool = False) -> None:
    """Reads an lsnn-gpu checkpoint and writes it as a NIR file."""
    nir = _nir()
    nir.write(str(out), to_nir(load_checkpoint(checkpoint), exact=exact))


# ---------------------------------------------------------------------------------------
# Import
# ---------------------------------------------------------------------------------------


def _s(v) -> str:
    if isinstance(v, bytes):
        return v.decode("utf8")
    if isinstance(v, np.ndarray) and v.dtype.kind in "SO" and v.shape == ():
        return _s(v.item())
    return str(v)


def _flatten(graph) -> Tuple[Dict[str, object], List[Tuple[str, str]]]:
    """Nodes and edges of `graph` with nested NIRGraphs (as snnTorch and Norse write
    recurrent layers) inlined; the subgraphs' Input/Output nodes are bypassed."""
    nir = _nir()
    nodes: Dict[str, object] = {}
    edges: List[Tuple[str, str]] = []
    entry: Dict[str, List[str]] = {}
    exit_: Dict[str, List[str]] = {}
    for name, node in graph.nodes.items():
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges = _flatten(node)
            ins = [k for k, v in sub_nodes.items() if isinstance(v, nir.Input)]
            outs = [k for k, v in sub_nodes.items() if isinstance(v, nir.Output)]
            for k, v in sub_nodes.items():
                nodes[f"{name}.{k}"] = v
            edges += [(f"{name}.{a}", f"{name}.{b}") for a, b in sub_edges]
            entry[name] = [f"{name}.{k}" for k in ins]
            exit_[name] = [f"{name}.{k}" for k in outs]
        else:
            nodes[name] = node
    for a, b in graph.edges:
        for a2 in exit_.get(a, [a]):
            for b2 in entry.get(b, [b]):
                edges.append((a2, b2))
    # Bypass inner Input/Output nodes (the graph's own ones stay).
    top = set(graph.nodes)
    for name in [k for k, v in nodes.items() if isinstance(v, (nir.Input, nir.Output)) and k not in top]:
        preds = [a for a, b in edges if b == name]
        succs = [b for a, b in edges if a == name]
        edges = [e for e in edges if name not in e]
        edges += [(p, s) for p in preds for s in succs]
        del nodes[name]
    return nodes, edges


def _back_edges(nodes, edges, roots) -> set:
    """Edges that close a cycle, found by depth-first search from the inputs. In discrete
    time a signal along such an edge arrives one step later."""
    succ: Dict[str, List[str]] = {k: [] for k in nodes}
    for a, b in edges:
        succ[a].append(b)
    state: Dict[str, int] = {}
    back = set()
    for r in roots:
        if r in state:
            continue
        stack = [(r, iter(succ[r]))]
        state[r] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                back.add((node, nxt))
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(succ[nxt])))
    return back


def from_nir(
    graph,
    dt: Optional[float] = None,
    n_ref: Optional[int] = None,
    readout: Optional[str] = None,
    dampening: Optional[float] = None,
    reg_coeff: Optional[float] = None,
    reg_rate_hz: Optional[float] = None,
    noise_std: Optional[float] = None,
    integrator: Optional[str] = None,
    time_unit: str = "s",
    drop_self_connections: bool = False,
) -> Network:
    """An lsnn-gpu Network from a NIR graph of LIF neurons.

    Accepted: one Input, one Output, LIF nodes (all of them together become the recurrent
    population, in the order of the graph), Linear/Affine/Scale and Delay nodes between
    them (Affine biases must be 0 there: lsnn-gpu's neurons have no bias current), and a
    readout LIF -> [LI] -> Affine/Linear -> Output (or Affine -> LI) where every LI has the
    same tau. Refused, with the reason: CubaLIF/CubaLI (a synaptic current state lsnn-gpu
    does not have), IF/I (no leak), Threshold (lsnn-gpu's own exact export; import the
    default one), Conv/Pool/Flatten, non-zero v_leak, self-connections (unless
    `drop_self_connections`).

    Settings NIR does not hold come from the graph's `lsnn_gpu.*` metadata when lsnn-gpu
    wrote it, else from the arguments, else defaults: dt 1 ms, n_ref 0, readout
    `framewise`, dampening 0.3, reg_coeff 0, reg_rate_hz 10, noise_std 0. `integrator`
    says how tau becomes the per-step decay: "exp" (alpha = exp(-dt/tau), the exact
    solution of NIR's ODE and lsnn-gpu's own rule; the default) or "euler" (alpha = 1 -
    dt/tau, the forward-Euler step of snnTorch and Norse). `time_unit` is the unit of the
    graph's times ("s", NIR's usual, or "ms").
    """
    nir = _nir()
    gmeta = dict(getattr(graph, "metadata", None) or {})
    ours = _s(gmeta.get(P + "format", "")) == GRAPH_FORMAT
    if ours and _s(gmeta.get(P + "export", "lif")) == "exact":
        raise NIRImportError(
            "this is lsnn-gpu's exact export (LI + Delay + Threshold nodes); import the default "
            "export (`python -m lsnn_gpu.nir export CKPT OUT.nir` without --exact) instead"
        )

    def setting(key, given, default, conv):
        if given is not None:
            return conv(given)
        if ours and P + key in gmeta:
            return conv(_s(gmeta[P + key]))
        return conv(default)

    dt_ms = setting("dt", dt, 1.0, float)
    unit = {"s": 1000.0, "ms": 1.0}[time_unit]  # ms per graph time unit
    integrator = integrator or "exp"
    if integrator not in ("exp", "euler"):
        raise ValueError("integrator must be `exp` or `euler`")

    nodes, edges = _flatten(graph)
    for name, node in nodes.items():
        kind = type(node).__name__
        if kind in ("CubaLIF", "CubaLI"):
            raise NIRImportError(
                f"node `{name}` is a {kind}: a current-based neuron with a synaptic current state "
                "(tau_syn) that lsnn-gpu's neurons do not have; re-export the network with LIF/LI nodes"
            )
        if kind in ("IF", "I"):
            raise NIRImportError(f"node `{name}` is an {kind} (no leak): lsnn-gpu neurons need a finite tau")
        if kind == "Threshold":
            raise NIRImportError(
                f"node `{name}` is a Threshold: not importable (lsnn-gpu's exact export uses them; "
                "import the default export)"
            )
        if kind not in ("Input", "Output", "LIF", "LI", "Linear", "Affine", "Scale", "Delay"):
            raise NIRImportError(f"node `{name}` of type {kind} has no counterpart in an lsnn-gpu network")
    inputs = [k for k, v in nodes.items() if isinstance(v, nir.Input)]
    outputs = [k for k, v in nodes.items() if isinstance(v, nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise NIRImportError(f"expected one Input and one Output node, found inputs {inputs} and outputs {outputs}")
    in_name = inputs[0]
    in_shape = np.atleast_1d(np.asarray(nodes[in_name].input_type["input"]))
    if int(np.prod(in_shape)) != int(in_shape.max(initial=1)):
        raise NIRImportError(f"the Input has shape {in_shape.tolist()}; only vector inputs map onto lsnn-gpu")
    n_in = int(np.prod(in_shape))

    lifs = [k for k, v in nodes.items() if isinstance(v, nir.LIF)]
    if not lifs:
        raise NIRImportError("the graph has no LIF node: nothing to make the recurrent population of")
    # Regular populations first (lsnn-gpu: neurons 0..n_regular are regular).
    def is_alif(k):
        return _s((nodes[k].metadata or {}).get(P + "neuron", "")) == "alif"

    order = {k: i for i, k in enumerate(lifs)}
    lifs.sort(key=lambda k: (is_alif(k), order[k]))
    offsets = {}
    n_rec = 0
    for k in lifs:
        offsets[k] = n_rec
        n_rec += int(np.asarray(nodes[k].tau).size)

    succ: Dict[str, List[str]] = {k: [] for k in nodes}
    for a, b in edges:
        succ[a].append(b)
    back = _back_edges(nodes, edges, [in_name])

    tau_m = np.zeros(n_rec, np.float32)
    thr = np.zeros(n_rec, np.float32)
    beta = np.zeros(n_rec, np.float32)
    tau_a = np.zeros(n_rec, np.float32)
    r_post = np.ones(n_rec, np.float64)
    n_regular = 0
    for k in lifs:
        node = nodes[k]
        o, m = offsets[k], int(np.asarray(node.tau).size)
        sl = slice(o, o + m)
        tau = np.asarray(node.tau, dtype=np.float64).reshape(-1) * unit
        if not np.all(np.isfinite(tau) & (tau > 0)):
            raise NIRImportError(f"LIF `{k}`: tau must be positive and finite")
        if integrator == "exp":
            # float64 seconds * 1000 rounds back to the exporter's float32 ms exactly.
            tau_m[sl] = tau.astype(np.float32)
        else:
            if np.any(tau <= dt_ms):
                raise NIRImportError(f"LIF `{k}`: with the euler integrator tau must exceed dt = {dt_ms} ms")
            # alpha = 1 - dt/tau = exp(-dt/tau_m)
            tau_m[sl] = (-dt_ms / np.log1p(-dt_ms / tau)).astype(np.float32)
        if np.any(np.asarray(node.v_leak) != 0):
            raise NIRImportError(f"LIF `{k}`: v_leak must be 0 (lsnn-gpu neurons rest at 0 and have no bias current)")
        v_reset = np.asarray(node.v_reset if node.v_reset is not None else 0.0)
        if np.any(v_reset != 0):
            warnings.warn(
                f"LIF `{k}`: v_reset = {np.unique(v_reset)[:3].tolist()} is not used: lsnn-gpu resets by "
                "subtracting the threshold (see NIR.md)"
            )
        th = np.asarray(node.v_threshold, dtype=np.float64).reshape(-1)
        if not np.all(th > 0):
            raise NIRImportError(f"LIF `{k}`: v_threshold must be positive (lsnn-gpu spikes when (v - thr)/thr > 0)")
        thr[sl] = th.astype(np.float32)
        r_post[o:o + m] = np.asarray(node.r, dtype=np.float64).reshape(-1) * np.ones(m)
        meta = node.metadata or {}
        if is_alif(k):
            beta[sl] = np.asarray(meta[P + "beta"], dtype=np.float64).astype(np.float32)
            tau_a[sl] = (np.asarray(meta[P + "tau_a"], dtype=np.float64) * unit).astype(np.float32)
            n_regular += int(meta.get(P + "n_regular", 0)) if len(lifs) == 1 else 0
        else:
            n_regular += m
            tau_a[sl] = tau_m[sl]
    if not any(is_alif(k) for k in lifs) and ours and P + "tau_a" in gmeta:
        tau_a = (np.asarray(gmeta[P + "tau_a"], dtype=np.float64) * unit).astype(np.float32)
    if len(lifs) == 1 and not is_alif(lifs[0]):
        n_regular = n_rec
    if ours and P + "n_regular" in gmeta:
        n_regular = int(_s(gmeta[P + "n_regular"]))

    # Walk every path from the Input and from each LIF through linear and delay nodes.
    w_in = np.zeros((n_in, n_rec), np.float64)
    w_rec = np.zeros((n_rec, n_rec), np.float64)
    d_in = np.full((n_in, n_rec), -1, np.int64)
    d_rec = np.full((n_rec, n_rec), -1, np.int64)
    readouts = []  # (source LIF, matrix before LI, LI node or None, matrix after, bias)
    feedforward_lif = []

    def steps_of(delay) -> int:
        d = np.asarray(delay, dtype=np.float64).reshape(-1) * unit / dt_ms
        k = np.rint(d)
        if np.any(np.abs(d - k) > 1e-6) or np.any(k != k[0]) or np.any(k < 0):
            raise NIRImportError(
                f"a Delay of {np.unique(np.asarray(delay)).tolist()} is not one whole number of steps of dt = {dt_ms} ms"
            )
        return int(k[0])

    def walk(src, size):
        # Depth-first over paths; each path state: (node, matrix [out, size], bias, delay, li, pre, last_edge_back)
        todo = [(b, np.eye(size), np.zeros(size), 0, None, None, (src, b) in back) for b in succ[src]]
        while todo:
            node_name, M, bias, delay, li, pre, was_back = todo.pop()
            node = nodes[node_name]
            kind = type(node).__name__
            if kind in ("Linear", "Affine", "Scale"):
                if kind == "Scale":
                    W = np.diag(np.asarray(node.scale, dtype=np.float64).reshape(-1))
                else:
                    W = np.asarray(node.weight, dtype=np.float64)
                    if W.ndim != 2:
                        raise NIRImportError(f"`{node_name}`: weights of shape {list(W.shape)}; only matrices map")
                if W.shape[1] != M.shape[0]:
                    raise NIRImportError(f"`{node_name}`: weight of shape {list(W.shape)} after a signal of size {M.shape[0]}")
                b = np.asarray(node.bias, dtype=np.float64).reshape(-1) if kind == "Affine" else 0.0
                M, bias = W @ M, W @ bias + b
            elif kind == "Delay":
                delay += steps_of(node.delay)
            elif kind == "LI":
                if li is not None:
                    raise NIRImportError(f"`{node_name}`: two LI nodes in a row on the readout path")
                if src == in_name:
                    raise NIRImportError(f"`{node_name}`: an LI fed by the Input; the readout must read the LIF neurons")
                li, pre = node_name, (M, bias)
                M, bias = np.eye(M.shape[0]), np.zeros(M.shape[0])
            elif kind == "LIF":
                if li is not None:
                    raise NIRImportError(f"`{node_name}`: a LIF after an LI; lsnn-gpu's readout is not spiking")
                o = offsets[node_name]
                m = M.shape[0]
                if np.any(bias != 0):
                    raise NIRImportError(
                        f"the connection into LIF `{node_name}` has a non-zero bias: lsnn-gpu's neurons have no "
                        "bias current (set the Affine's bias to 0 or use Linear)"
                    )
                last_back = was_back
                if src == in_name:
                    target_w, target_d, rows = w_in, d_in, slice(0, n_in)
                    scale = r_post[o:o + m][:, None]
                else:
                    target_w, target_d = w_rec, d_rec
                    so = offsets[src]
                    rows = slice(so, so + M.shape[1])
                    scale = r_post[o:o + m][:, None] * dt_ms
                    if not last_back:
                        feedforward_lif.append((src, node_name))
                if delay < 0:
                    raise NIRImportError("negative delay")
                Wt = (M * scale).T  # [pre, post]
                cur_w = target_w[rows, o:o + m]
                cur_d = target_d[rows, o:o + m]
                nz = Wt != 0
                clash = nz & (cur_d >= 0) & (cur_d != delay) & (cur_w != 0)
                if np.any(clash):
                    raise NIRImportError(f"a synapse into `{node_name}` is reached by two paths with different delays")
                cur_w += Wt
                cur_d[nz] = delay
                continue
            elif kind == "Output":
                readouts.append((src, li, pre, M, bias))
                continue
            elif kind == "Input":
                raise NIRImportError("an edge into the Input node")
            for b in succ[node_name]:
                todo.append((b, M, bias, delay, li, pre, (node_name, b) in back))

    walk(in_name, n_in)
    for k in lifs:
        walk(k, int(np.asarray(nodes[k].tau).size))

    if feedforward_lif:
        warnings.warn(
            "feed-forward connections between LIF nodes "
            f"{sorted(set(feedforward_lif))[:3]} become recurrent weights: in lsnn-gpu every spike reaches its "
            "targets one step later (see NIR.md)"
        )
    diag = np.diag(w_rec).copy()
    if np.any(diag != 0):
        if not drop_self_connections:
            raise NIRImportError(
                f"{int(np.sum(diag != 0))} neurons connect to themselves; lsnn-gpu has no self-connections "
                "(W_rec's diagonal is 0). Pass --drop-self-connections to drop them"
            )
        np.fill_diagonal(w_rec, 0.0)

    # Readout.
    if not readouts:
        raise NIRImportError("no path from a LIF node to the Output: no readout")
    n_out = None
    w_out = None
    b_out = None
    tau_out = None
    for src, li, pre, M, bias in readouts:
        o, m = offsets[src], int(np.asarray(nodes[src].tau).size)
        if n_out is None:
            n_out = M.shape[0]
            w_out = np.zeros((n_rec, n_out))
            b_out = np.zeros(n_out)
        if li is None:
            # No trace: y_t = z_t W_out + b, i.e. tau_out -> 0.
            t_out, r_li = dt_ms / 1000.0, 1.0
            full = M
        else:
            node = nodes[li]
            tau = np.asarray(node.tau, dtype=np.float64).reshape(-1)
            if np.any(tau != tau[0]):
                raise NIRImportError(f"LI `{li}`: lsnn-gpu's readout trace has one tau_out; this LI has several")
            if np.any(np.asarray(node.v_leak) != 0):
                raise NIRImportError(f"LI `{li}`: v_leak must be 0")
            r_li = np.asarray(node.r, dtype=np.float64).reshape(-1)
            if np.any(r_li != r_li[0]):
                raise NIRImportError(f"LI `{li}`: r must be the same for every output")
            r_li = float(r_li[0])
            if integrator == "exp":
                t_out = float(np.float32(tau[0] * unit))
            else:
                t_out = -dt_ms / np.log1p(-dt_ms / (tau[0] * unit))
            M_pre, b_pre = pre
            if np.any(b_pre != 0):
                warnings.warn(
                    f"the bias before LI `{li}` is moved after it: it now enters the output at once "
                    "instead of rising with tau_out"
                )
            full = M @ M_pre
            bias = bias + M @ b_pre * r_li
        if tau_out is not None and not np.isclose(t_out, tau_out, rtol=0, atol=0):
            raise NIRImportError("readout paths with different LI time constants")
        tau_out = t_out
        # y = r*M p' + b with p' the trace of unit spikes s = z*dt.
        w_out[o:o + m] += (full * r_li * dt_ms).T
        b_out += bias
    # Exported graphs: weights were divided by dt exactly (or stored in float64).
    def f32(a):
        return np.asarray(a, dtype=np.float64).astype(np.float32)

    n_delay_needed = int(max(d_in.max(initial=0), d_rec.max(initial=0))) + 1
    n_delay = max(n_delay_needed, int(_s(gmeta[P + "n_delay"])) if ours and P + "n_delay" in gmeta else 1)
    d_in = np.maximum(d_in, 0)
    d_rec = np.maximum(d_rec, 0)
    if ours and n_delay > 1 and P + "delay_in" in gmeta:
        # Synapses with weight 0 keep the delay they had in the checkpoint.
        mi = np.asarray(gmeta[P + "delay_in"], dtype=np.int64)
        mr = np.asarray(gmeta[P + "delay_rec"], dtype=np.int64)
        if mi.shape == d_in.shape and mr.shape == d_rec.shape:
            d_in = np.where(w_in != 0, d_in, mi)
            d_rec = np.where(w_rec != 0, d_rec, mr)

    if readout is None:
        readout = _s(gmeta[P + "readout"]) if ours and P + "readout" in gmeta else "framewise"
    net = Network(
        w_in=f32(w_in),
        w_rec=f32(w_rec),
        w_out=f32(w_out),
        b_out=f32(b_out),
        tau_m=tau_m,
        tau_a=tau_a,
        beta=beta,
        thr=thr,
        delay_in=d_in.astype(np.int32),
        delay_rec=d_rec.astype(np.int32),
        dt=dt_ms,
        dampening=setting("dampening", dampening, 0.3, float),
        n_ref=setting("n_ref", n_ref, 0, int),
        n_delay=n_delay,
        tau_out=np.float32(tau_out),
        readout=Readout.parse(readout),
        reg_coeff=setting("reg_coeff", reg_coeff, 0.0, float),
        reg_rate_hz=setting("reg_rate_hz", reg_rate_hz, 10.0, float),
        noise_std=setting("noise_std", noise_std, 0.0, float),
        n_regular=n_regular,
    )
    net.check()
    return net


def import_nir(path, out, **options) -> Network:
    """Reads a NIR file and writes it as an lsnn-gpu checkpoint; returns the Network."""
    nir = _nir()
    net = from_nir(nir.read(str(path)), **options)
    save_checkpoint(out, net)
    return net


# ---------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m lsnn_gpu.nir",
        description="NIR export and import of lsnn-gpu networks (conventions: python/NIR.md)",
    )
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("export", help="checkpoint -> NIR file")
    e.add_argument("checkpoint")
    e.add_argument("out")
    e.add_argument(
        "--exact",
        action="store_true",
        help="LI + Delay + Threshold nodes whose plain NIR semantics are lsnn-gpu's exactly "
        "(networks without adaptive neurons and with n_ref = 0)",
    )
    i = sub.add_parser("import", help="NIR file -> checkpoint")
    i.add_argument("nir_file")
    i.add_argument("out")
    i.add_argument("--dt", type=float, help="time step in ms (default: the graph's lsnn_gpu.dt, else 1)")
    i.add_argument("--n-ref", type=int, help="refractory period in steps (default 0)")
    i.add_argument("--readout", help="window:K, framewise, framewise:K or regression:K (default framewise)")
    i.add_argument("--dampening", type=float)
    i.add_argument("--reg-coeff", type=float)
    i.add_argument("--reg-rate-hz", type=float)
    i.add_argument("--noise-std", type=float)
    i.add_argument("--integrator", choices=["exp", "euler"], help="tau -> per-step decay (default exp)")
    i.add_argument("--time-unit", choices=["s", "ms"], default="s", help="unit of the graph's times (default s)")
    i.add_argument("--drop-self-connections", action="store_true")
    a = p.parse_args(argv)
    try:
        if a.command == "export":
            export_nir(a.checkpoint, a.out, exact=a.exact)
            print(f"wrote {a.out}")
        else:
            net = import_nir(
                a.nir_file,
                a.out,
                dt=a.dt,
                n_ref=a.n_ref,
                readout=a.readout,
                dampening=a.dampening,
                reg_coeff=a.reg_coeff,
                reg_rate_hz=a.reg_rate_hz,
                noise_std=a.noise_std,
                integrator=a.integrator,
                time_unit=a.time_unit,
                drop_self_connections=a.drop_self_connections,
            )
            print(
                f"wrote {a.out}: n_in {net.n_in}, n_rec {net.n_rec} ({net.n_regular} regular), "
                f"n_out {net.n_out}, n_delay {net.n_delay}, dt {format_f32(net.dt)} ms"
            )
    except (NIRImportError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
