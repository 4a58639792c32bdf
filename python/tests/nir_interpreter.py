"""A small discrete-time interpreter of NIR graphs, for the tests. It knows nothing of
lsnn-gpu's files: it reads only the nir.NIRGraph.

Time advances in steps of dt (seconds, NIR's unit). Spikes are unit events (0/1). Nodes
are evaluated in a topological order of the graph without its back edges (edges that close
a cycle, found by depth-first search from the Input); a node sums the current-step
outputs of its other predecessors and the previous-step outputs along back edges, so a
cycle carries a signal one step later. Node semantics (zero initial state):

- Input: x_t. Output: its input. Linear/Affine: W x (+ b). Scale: s * x.
- Delay: x_{t-k}, k = delay/dt steps.
- LI: v_t = a v_{t-1} + (1 - a)(v_leak + r I_t), a = exp(-dt/tau) (exact for inputs held
  over a step); output v_t.
- Threshold: H(x - threshold), strictly.
- LIF, reading "nir" (NIR's definition): v as LI, then s_t = H(v_t - v_threshold) and
  v_t = v_reset where s_t.
- LIF, reading "lsnn" (python/NIR.md, lsnn-gpu's discrete reading of its own export):
  b_t = rho b_{t-1} + (1 - rho) s_{t-1}/dt_ms, A_t = v_threshold + beta b_t (beta, tau_a
  from the node's lsnn_gpu.* metadata, else 0), s_t = H(v_{t-1} - A_t) unless refractory
  (n_ref steps after a spike), v_t = a v_{t-1} + (1 - a) r I_t - A_t s_{t-1}.
"""

import numpy as np
import nir


def back_edges(nodes, edges, root):
    succ = {k: [] for k in nodes}
    for a, b in edges:
        succ[a].append(b)
    state, back = {root: 1}, set()
    stack = [(root, iter(succ[root]))]
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


def topological(nodes, edges):
    indeg = {k: 0 for k in nodes}
    for a, b in edges:
        indeg[b] += 1
    ready = [k for k, d in indeg.items() if d == 0]
    order = []
    while ready:
        k = ready.pop(0)
        order.append(k)
        for a, b in edges:
            if a == k:
                indeg[b] -= 1
                if indeg[b] == 0:
                    ready.append(b)
    assert len(order) == len(nodes), "the graph without back edges still has a cycle"
    return order


def size_of(node):
    for f in ("tau", "threshold", "delay", "scale", "r"):
        if hasattr(node, f):
            return int(np.asarray(getattr(node, f)).size)
    if isinstance(node, (nir.Linear, nir.Affine)):
        return int(np.asarray(node.weight).shape[0])
    if isinstance(node, nir.Output):
        return int(np.prod(node.output_type["output"]))
    if isinstance(node, nir.Input):
        return int(np.prod(node.input_type["input"]))
    raise TypeError(type(node).__name__)


def simulate(graph, x, dt=1e-3, lif_reading="nir", n_ref=0, record=None):
    """Runs `graph` on x [T, B, n_in]; returns {node name: outputs [T, B, size]} for the
    nodes in `record` (default: every LIF and Threshold node, and the Output)."""
    nodes, edges = dict(graph.nodes), list(graph.edges)
    assert not any(isinstance(n, nir.NIRGraph) for n in nodes.values()), "flat graphs only"
    (root,) = [k for k, n in nodes.items() if isinstance(n, nir.Input)]
    back = back_edges(nodes, edges, root)
    order = topological(nodes, [e for e in edges if e not in back])
    preds = {k: [(a, (a, k) in back) for a, b in edges if b == k] for k in nodes}
    if record is None:
        record = [k for k, n in nodes.items() if isinstance(n, (nir.LIF, nir.Threshold, nir.Output))]
    T, B, _ = x.shape
    sizes = {k: size_of(n) for k, n in nodes.items()}
    in_sizes = {
        k: int(np.asarray(n.weight).shape[1]) if isinstance(n, (nir.Linear, nir.Affine)) else sizes[k]
        for k, n in nodes.items()
    }
    prev = {k: np.zeros((B, sizes[k])) for k in nodes}
    state = {}
    for k, n in nodes.items():
        m = sizes[k]
        if isinstance(n, (nir.LI, nir.LIF)):
            state[k] = {"v": np.zeros((B, m)), "b": np.zeros((B, m)), "s": np.zeros((B, m)), "ref": np.zeros((B, m), int)}
        if isinstance(n, nir.Delay):
            steps = np.rint(np.asarray(n.delay, dtype=np.float64) / dt).astype(int)
            assert np.all(steps == steps.flat[0]) and np.allclose(steps * dt, n.delay)
            state[k] = {"k": int(steps.flat[0]), "hist": []}
    out = {k: np.zeros((T, B, sizes[k])) for k in record}
    for t in range(T):
        cur = {}
        for k in order:
            n = nodes[k]
            if isinstance(n, nir.Input):
                y = x[t].astype(np.float64)
            else:
                inp = np.zeros((B, in_sizes[k]))
                for p, is_back in preds[k]:
                    inp = inp + (prev[p] if is_back else cur[p])
                y = step(n, inp, state.get(k), dt, lif_reading, n_ref)
            cur[k] = y
            if k in out:
                out[k][t] = y
        prev = cur
    return out


def step(n, inp, st, dt, lif_reading, n_ref):
    if isinstance(n, nir.Output):
        return inp
    if isinstance(n, nir.Affine):
        return inp @ np.asarray(n.weight, np.float64).T + np.asarray(n.bias, np.float64)
    if isinstance(n, nir.Linear):
        return inp @ np.asarray(n.weight, np.float64).T
    if isinstance(n, nir.Scale):
        return inp * np.asarray(n.scale, np.float64)
    if isinstance(n, nir.Delay):
        st["hist"].append(inp)
        if st["k"] == 0:
            return inp
        return st["hist"].pop(0) if len(st["hist"]) > st["k"] else np.zeros_like(inp)
    if isinstance(n, nir.Threshold):
        return (inp > np.asarray(n.threshold, np.float64)).astype(np.float64)
    a = np.exp(-dt / np.asarray(n.tau, np.float64))
    r = np.asarray(n.r, np.float64)
    v_leak = np.asarray(n.v_leak, np.float64)
    if isinstance(n, nir.LI):
        st["v"] = a * st["v"] + (1 - a) * (v_leak + r * inp)
        return st["v"]
    if isinstance(n, nir.LIF):
        thr = np.asarray(n.v_threshold, np.float64)
        if lif_reading == "nir":
            v = a * st["v"] + (1 - a) * (v_leak + r * inp)
            s = (v > thr).astype(np.float64)
            st["v"] = np.where(s > 0, np.asarray(n.v_reset, np.float64), v)
            return s
        meta = n.metadata or {}
        beta = np.asarray(meta.get("lsnn_gpu.beta", 0.0), np.float64)
        tau_a = np.asarray(meta.get("lsnn_gpu.tau_a", 1.0), np.float64)
        rho = np.exp(-dt / tau_a)
        dt_ms = dt * 1000.0
        b = rho * st["b"] + (1 - rho) * st["s"] / dt_ms
        A = thr + beta * b
        s = (((st["v"] - A) / A > 0) & (st["ref"] == 0)).astype(np.float64)
        st["v"] = a * st["v"] + (1 - a) * (v_leak + r * inp) - A * st["s"]
        st["ref"] = np.where(s > 0, n_ref, np.maximum(st["ref"] - 1, 0))
        st["b"], st["s"] = b, s
        return s
    raise TypeError(f"no semantics for {type(n).__name__}")
