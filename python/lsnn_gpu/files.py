"""Checkpoint, batch and gradient files, exactly as lsnn-gpu writes and reads them.

The formats are described in docs/formats.md; the Rust reader and writer
(src/model/checkpoint.rs) are the truth. Every file is a safetensors file whose metadata
holds ``format = "lsnn-gpu/1"``; tensors are little-endian, row-major, float32 unless noted.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional, Union

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

FORMAT = "lsnn-gpu/1"

PathLike = Union[str, os.PathLike]

# Metadata keys of a checkpoint, in the order the docs list them. `noise_std` and
# `n_regular` have natural defaults (0, and the number of leading neurons with beta = 0);
# every checkpoint this package writes carries all of them.
CHECKPOINT_KEYS = (
    "format",
    "dt",
    "dampening",
    "n_ref",
    "n_delay",
    "tau_out",
    "readout",
    "reg_coeff",
    "reg_rate_hz",
    "noise_std",
    "n_regular",
)


class FormatError(ValueError):
    """A file that is not a valid lsnn-gpu file; the message names the file and the tensor
    or metadata key, like the Rust reader's."""


# ---------------------------------------------------------------------------------------
# Numbers in metadata
# ---------------------------------------------------------------------------------------


def format_f32(value: float) -> str:
    """An f32 as Rust's `Display` writes it: the shortest decimal that reads back as the
    same f32, never in exponent notation (``1``, ``0.3``, ``0.00000001``)."""
    v = np.float32(value)
    if not np.isfinite(v):
        raise ValueError(f"{value} is not finite")
    return np.format_float_positional(v, trim="-")


def _meta_f32(meta: Dict[str, str], key: str, path, default=None) -> np.float32:
    if key not in meta:
        if default is not None:
            return np.float32(default)
        raise FormatError(f"checkpoint {path}: metadata key `{key}` is missing")
    try:
        return np.float32(float(meta[key].strip()))
    except ValueError:
        raise FormatError(f"checkpoint {path}: metadata `{key}`: expected a number, found `{meta[key]}`")


def _meta_int(meta: Dict[str, str], key: str, path, default=None) -> int:
    if key not in meta:
        if default is not None:
            return int(default)
        raise FormatError(f"checkpoint {path}: metadata key `{key}` is missing")
    try:
        v = int(meta[key].strip())
    except ValueError:
        raise FormatError(
            f"checkpoint {path}: metadata `{key}`: expected a non-negative integer, found `{meta[key]}`"
        )
    if v < 0:
        raise FormatError(f"checkpoint {path}: metadata `{key}`: expected a non-negative integer, found `{v}`")
    return v


# ---------------------------------------------------------------------------------------
# Readout
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Readout:
    """How the loss reads the network (docs/model.md §4).

    ``kind`` is ``"window"`` (logits = mean of y_t over the last ``k`` steps, one label per
    sequence), ``"framewise"`` (frames of ``k`` steps, each scored against the label of its
    last step, -1 = not scored) or ``"regression"`` (frames of ``k`` steps, squared error
    against the target of the frame's last step, NaN = not scored).
    """

    kind: str
    k: int

    @staticmethod
    def parse(s: str) -> "Readout":
        if s == "framewise":
            return Readout("framewise", 1)
        for kind in ("window", "framewise", "regression"):
            prefix = kind + ":"
            if s.startswith(prefix):
                try:
                    k = int(s[len(prefix):])
                except ValueError:
                    break
                if k < 1:
                    break
                return Readout(kind, k)
        raise ValueError(f"`{s}` is not a readout (`window:K`, `framewise`, `framewise:K` or `regression:K`)")

    def to_metadata(self) -> str:
        if self.kind == "framewise" and self.k == 1:
            return "framewise"
        return f"{self.kind}:{self.k}"

    def __str__(self) -> str:
        return self.to_metadata()


# ---------------------------------------------------------------------------------------
# Checkpoint
# ---------------------------------------------------------------------------------------


@dataclass
class Network:
    """Everything the forward pass needs (docs/formats.md, "Checkpoint").

    Weights are the effective weights (signs and DEEP R masks applied): ``w_in`` [n_in, n_rec],
    ``w_rec`` [n_rec, n_rec] with a zero diagonal, ``w_out`` [n_rec, n_out], ``b_out`` [n_out].
    Per-neuron constants ``tau_m``, ``tau_a`` (ms), ``beta``, ``thr`` [n_rec]. Delays
    ``delay_in``/``delay_rec`` (int32, steps in 0..n_delay-1; all zero when n_delay = 1).
    Neurons ``0..n_regular`` are regular LIF neurons, the rest adaptive (ALIF).

    ``train`` holds the ``train.*`` tensors (training state for resuming) and
    ``train_metadata`` the ``train.*`` metadata keys, kept as they were read so that a
    checkpoint read and written again still resumes; ``extra_metadata`` any other key.
    """

    w_in: np.ndarray
    w_rec: np.ndarray
    w_out: np.ndarray
    b_out: np.ndarray
    tau_m: np.ndarray
    tau_a: np.ndarray
    beta: np.ndarray
    thr: np.ndarray
    delay_in: Optional[np.ndarray] = None
    delay_rec: Optional[np.ndarray] = None
    dt: float = 1.0
    dampening: float = 0.3
    n_ref: int = 0
    n_delay: int = 1
    tau_out: float = 20.0
    readout: Union[Readout, str] = "window:1"
    reg_coeff: float = 0.0
    reg_rate_hz: float = 10.0
    noise_std: float = 0.0
    n_regular: Optional[int] = None
    train: Dict[str, np.ndarray] = field(default_factory=dict)
    train_metadata: Dict[str, str] = field(default_factory=dict)
    extra_metadata: Dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        f32 = lambda a: np.ascontiguousarray(np.asarray(a, dtype=np.float32))  # noqa: E731
        self.w_in = f32(self.w_in)
        self.w_rec = f32(self.w_rec)
        self.w_out = f32(self.w_out)
        self.b_out = f32(self.b_out)
        self.tau_m = f32(self.tau_m)
        self.tau_a = f32(self.tau_a)
        self.beta = f32(self.beta)
        self.thr = f32(self.thr)
        n_in, n_rec = self.w_in.shape
        if self.delay_in is None:
            self.delay_in = np.zeros((n_in, n_rec), np.int32)
        if self.delay_rec is None:
            self.delay_rec = np.zeros((n_rec, n_rec), np.int32)
        self.delay_in = np.ascontiguousarray(np.asarray(self.delay_in, dtype=np.int32))
        self.delay_rec = np.ascontiguousarray(np.asarray(self.delay_rec, dtype=np.int32))
        if isinstance(self.readout, str):
            self.readout = Readout.parse(self.readout)
        self.dt = np.float32(self.dt)
        self.dampening = np.float32(self.dampening)
        self.tau_out = np.float32(self.tau_out)
        self.reg_coeff = np.float32(self.reg_coeff)
        self.reg_rate_hz = np.float32(self.reg_rate_hz)
        self.noise_std = np.float32(self.noise_std)
        self.n_ref = int(self.n_ref)
        self.n_delay = int(self.n_delay)
        if self.n_regular is None:
            self.n_regular = default_n_regular(self.beta)
        self.n_regular = int(self.n_regular)

    @property
    def n_in(self) -> int:
        return self.w_in.shape[0]

    @property
    def n_rec(self) -> int:
        return self.w_in.shape[1]

    @property
    def n_out(self) -> int:
        return self.w_out.shape[1]

    @property
    def n_adaptive(self) -> int:
        return self.n_rec - self.n_regular

    def metadata(self) -> Dict[str, str]:
        """The safetensors metadata lsnn-gpu writes for this network (all keys)."""
        meta = dict(self.extra_metadata)
        meta.update(
            {
                "format": FORMAT,
                "dt": format_f32(self.dt),
                "dampening": format_f32(self.dampening),
                "n_ref": str(self.n_ref),
                "n_delay": str(self.n_delay),
                "tau_out": format_f32(self.tau_out),
                "readout": self.readout.to_metadata(),
                "reg_coeff": format_f32(self.reg_coeff),
                "reg_rate_hz": format_f32(self.reg_rate_hz),
                "noise_std": format_f32(self.noise_std),
                "n_regular": str(self.n_regular),
            }
        )
        meta.update(self.train_metadata)
        return meta

    def check(self, path="<network>") -> None:
        """Raises FormatError for what the Rust reader would refuse (shapes, values)."""
        err = lambda msg: FormatError(f"checkpoint {path}: {msg}")  # noqa: E731
        n_in, n_rec, n_out = self.n_in, self.n_rec, self.n_out
        if min(n_in, n_rec, n_out) < 1:
            raise err("n_in, n_rec and n_out must be at least 1")
        for name, shape in [
            ("w_rec", (n_rec, n_rec)),
            ("w_out", (n_rec, n_out)),
            ("b_out", (n_out,)),
            ("tau_m", (n_rec,)),
            ("tau_a", (n_rec,)),
            ("beta", (n_rec,)),
            ("thr", (n_rec,)),
            ("delay_in", (n_in, n_rec)),
            ("delay_rec", (n_rec, n_rec)),
        ]:
            found = getattr(self, name).shape
            if tuple(found) != shape:
                raise err(f"tensor `{name}`: expected shape {list(shape)}, found {list(found)}")
        for name in ("w_in", "w_rec", "w_out", "b_out", "beta", "thr"):
            if not np.all(np.isfinite(getattr(self, name))):
                raise err(f"tensor `{name}`: non-finite value")
        for name in ("tau_m", "tau_a"):
            a = getattr(self, name)
            if not np.all(np.isfinite(a) & (a > 0)):
                raise err(f"tensor `{name}`: not a positive finite time constant")
        if np.any(np.diag(self.w_rec) != 0):
            raise err("tensor `w_rec`: the diagonal must be 0 (no self-connections)")
        if self.n_delay < 1:
            raise err("metadata `n_delay`: expected an integer ≥ 1")
        for name in ("delay_in", "delay_rec"):
            d = getattr(self, name)
            if d.size and (d.min() < 0 or d.max() >= self.n_delay):
                raise err(f"tensor `{name}`: delays must lie in 0..{self.n_delay} (n_delay = {self.n_delay})")
        if not (np.isfinite(self.dt) and self.dt > 0):
            raise err("metadata `dt`: expected a positive finite number")
        if not (np.isfinite(self.tau_out) and self.tau_out > 0):
            raise err("metadata `tau_out`: expected a positive finite number")
        if not (np.isfinite(self.noise_std) and self.noise_std >= 0):
            raise err("metadata `noise_std`: expected a finite number ≥ 0")
        if self.n_regular > n_rec:
            raise err(f"metadata `n_regular`: expected at most n_rec = {n_rec}, found {self.n_regular}")

    def copy(self) -> "Network":
        import copy

        return copy.deepcopy(self)


def default_n_regular(beta: np.ndarray) -> int:
    """The number of leading neurons with beta = 0 (the regular neurons come first)."""
    nz = np.flatnonzero(np.asarray(beta) != 0)
    return int(nz[0]) if nz.size else int(np.asarray(beta).size)


def _open(path: PathLike, kind: str):
    try:
        return safe_open(str(path), framework="numpy")
    except FileNotFoundError:
        raise FormatError(f"{kind} {path}: cannot read the file: not found")
    except Exception as e:  # safetensors raises its own error types
        raise FormatError(f"{kind} {path}: not a valid safetensors file, truncated or corrupt ({e})")


def _read_all(path: PathLike, kind: str):
    with _open(path, kind) as f:
        meta = f.metadata() or {}
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    return meta, tensors


def _check_format(meta, path, kind):
    if "format" not in meta:
        hint = " (the file has no metadata; was it written by lsnn-gpu?)" if not meta else ""
        raise FormatError(f"{kind} {path}: metadata key `format` is missing{hint}")
    if meta["format"] != FORMAT:
        raise FormatError(f"{kind} {path}: metadata `format`: expected `{FORMAT}`, found `{meta['format']}`")


def _tensor(tensors, name, dtype, ndim, path, kind):
    if name not in tensors:
        raise FormatError(
            f"{kind} {path}: tensor `{name}` is missing (the file holds: {', '.join(sorted(tensors))})"
        )
    t = tensors[name]
    if t.dtype != dtype:
        raise FormatError(
            f"{kind} {path}: tensor `{name}`: expected dtype {np.dtype(dtype).name}, found {t.dtype.name}"
        )
    if t.ndim != ndim:
        raise FormatError(f"{kind} {path}: tensor `{name}`: expected {ndim} dimensions, found shape {list(t.shape)}")
    return t


def load_checkpoint(path: PathLike) -> Network:
    """Reads a checkpoint (docs/formats.md, "Checkpoint"), like `load_checkpoint` in
    src/model/checkpoint.rs. Missing `noise_std` defaults to 0 and missing `n_regular` to
    the number of leading neurons with beta = 0."""
    meta, t = _read_all(path, "checkpoint")
    _check_format(meta, path, "checkpoint")
    K = "checkpoint"
    w_in = _tensor(t, "w_in", np.float32, 2, path, K)
    n_delay = _meta_int(meta, "n_delay", path)
    if n_delay < 1:
        raise FormatError(f"checkpoint {path}: metadata `n_delay`: expected a positive integer (steps), found `0`")

    def delays(name):
        if n_delay == 1 and name not in t:
            return None
        return _tensor(t, name, np.int32, 2, path, K)

    try:
        readout = Readout.parse(meta["readout"]) if "readout" in meta else None
    except ValueError:
        raise FormatError(f"checkpoint {path}: metadata `readout`: expected `framewise` or `window:K`, found `{meta['readout']}`")
    if readout is None:
        raise FormatError(f"checkpoint {path}: metadata key `readout` is missing")
    beta = _tensor(t, "beta", np.float32, 1, path, K)
    net = Network(
        w_in=w_in,
        w_rec=_tensor(t, "w_rec", np.float32, 2, path, K),
        w_out=_tensor(t, "w_out", np.float32, 2, path, K),
        b_out=_tensor(t, "b_out", np.float32, 1, path, K),
        tau_m=_tensor(t, "tau_m", np.float32, 1, path, K),
        tau_a=_tensor(t, "tau_a", np.float32, 1, path, K),
        beta=beta,
        thr=_tensor(t, "thr", np.float32, 1, path, K),
        delay_in=delays("delay_in"),
        delay_rec=delays("delay_rec"),
        dt=_meta_f32(meta, "dt", path),
        dampening=_meta_f32(meta, "dampening", path),
        n_ref=_meta_int(meta, "n_ref", path),
        n_delay=n_delay,
        tau_out=_meta_f32(meta, "tau_out", path),
        readout=readout,
        reg_coeff=_meta_f32(meta, "reg_coeff", path),
        reg_rate_hz=_meta_f32(meta, "reg_rate_hz", path),
        noise_std=_meta_f32(meta, "noise_std", path, default=0.0),
        n_regular=_meta_int(meta, "n_regular", path, default=default_n_regular(beta)),
        train={k: v for k, v in t.items() if k.startswith("train.")},
        train_metadata={k: v for k, v in meta.items() if k.startswith("train.")},
        extra_metadata={k: v for k, v in meta.items() if k not in CHECKPOINT_KEYS and not k.startswith("train.")},
    )
    net.check(path)
    return net


def _write_atomic(path: PathLike, tensors: Dict[str, np.ndarray], meta: Dict[str, str]) -> None:
    """Writes to a temporary file in the same directory, then renames it over `path`
    (as lsnn-gpu does), so an existing file is never half-overwritten."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, tmp, metadata=meta)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_checkpoint(path: PathLike, net: Network, include_train: bool = True) -> None:
    """Writes `net` as lsnn-gpu writes a checkpoint: every metadata key, the delay tensors
    only when n_delay > 1, and (if `include_train`) the `train.*` state it was read with."""
    net.check(path)
    tensors = {
        "w_in": net.w_in,
        "w_rec": net.w_rec,
        "w_out": net.w_out,
        "b_out": net.b_out,
        "tau_m": net.tau_m,
        "tau_a": net.tau_a,
        "beta": net.beta,
        "thr": net.thr,
    }
    if net.n_delay > 1:
        tensors["delay_in"] = net.delay_in
        tensors["delay_rec"] = net.delay_rec
    meta = net.metadata()
    if include_train:
        tensors.update(net.train)
    else:
        meta = {k: v for k, v in meta.items() if not k.startswith("train.")}
    _write_atomic(path, tensors, meta)


# ---------------------------------------------------------------------------------------
# Batch
# ---------------------------------------------------------------------------------------


@dataclass
class Batch:
    """One minibatch (docs/formats.md, "Batch"): ``x`` [T, B, n_in] float32, and exactly one
    of ``labels`` [B] int32 (window readout), ``frame_labels`` [T, B] int32 (framewise, -1 =
    not scored) or ``frame_targets`` [T, B, n_out] float32 (regression, NaN = not scored)."""

    x: np.ndarray
    labels: Optional[np.ndarray] = None
    frame_labels: Optional[np.ndarray] = None
    frame_targets: Optional[np.ndarray] = None

    def __post_init__(self):
        self.x = np.ascontiguousarray(np.asarray(self.x, dtype=np.float32))
        if self.labels is not None:
            self.labels = np.asarray(self.labels, dtype=np.int32)
        if self.frame_labels is not None:
            self.frame_labels = np.asarray(self.frame_labels, dtype=np.int32)
        if self.frame_targets is not None:
            self.frame_targets = np.asarray(self.frame_targets, dtype=np.float32)
        given = [n for n in ("labels", "frame_labels", "frame_targets") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(f"a batch needs exactly one of labels, frame_labels, frame_targets; got {given}")
        if self.x.ndim != 3:
            raise ValueError(f"x must be [T, B, n_in], found shape {list(self.x.shape)}")

    @property
    def steps(self) -> int:
        return self.x.shape[0]

    @property
    def size(self) -> int:
        return self.x.shape[1]

    @property
    def targets(self):
        for n in ("labels", "frame_labels", "frame_targets"):
            if getattr(self, n) is not None:
                return n, getattr(self, n)


def load_batch(path: PathLike) -> Batch:
    """Reads a batch file written by `lsnn-gpu init --batch-out` (or by save_batch)."""
    meta, t = _read_all(path, "batch")
    K = "batch"
    x = _tensor(t, "x", np.float32, 3, path, K)
    T, B, _ = x.shape
    if "labels" in t:
        labels = _tensor(t, "labels", np.int32, 1, path, K)
        if labels.shape != (B,):
            raise FormatError(f"batch {path}: tensor `labels`: expected shape [{B}], found {list(labels.shape)}")
        return Batch(x, labels=labels)
    if "frame_labels" in t:
        fl = _tensor(t, "frame_labels", np.int32, 2, path, K)
        if fl.shape != (T, B):
            raise FormatError(f"batch {path}: tensor `frame_labels`: expected shape [{T}, {B}], found {list(fl.shape)}")
        return Batch(x, frame_labels=fl)
    if "frame_targets" in t:
        ft = _tensor(t, "frame_targets", np.float32, 3, path, K)
        if ft.shape[:2] != (T, B):
            raise FormatError(f"batch {path}: tensor `frame_targets`: expected shape [{T}, {B}, n_out], found {list(ft.shape)}")
        return Batch(x, frame_targets=ft)
    raise FormatError(f"batch {path}: none of the tensors `labels`, `frame_labels`, `frame_targets` (the file holds: {', '.join(sorted(t))})")


def save_batch(path: PathLike, batch: Batch) -> None:
    """Writes a batch as lsnn-gpu does (`x` and its targets, metadata `format`)."""
    name, values = batch.targets
    _write_atomic(path, {"x": batch.x, name: values}, {"format": FORMAT})


# ---------------------------------------------------------------------------------------
# Gradients
# ---------------------------------------------------------------------------------------


@dataclass
class Gradients:
    """A gradient file of `lsnn-gpu grads` (docs/formats.md, "Gradients"): the losses, the
    gradients of the total loss with respect to the effective weights, and the forward
    pass's spikes ``z`` [T, B, n_rec] as 0/1."""

    loss: float
    loss_task: float
    loss_reg: float
    grad_w_in: np.ndarray
    grad_w_rec: np.ndarray
    grad_w_out: np.ndarray
    grad_b_out: np.ndarray
    z: np.ndarray


def load_gradients(path: PathLike) -> Gradients:
    meta, t = _read_all(path, "gradient file")
    _check_format(meta, path, "gradient file")
    K = "gradient file"
    scalar = lambda n: float(_tensor(t, n, np.float32, 1, path, K)[0])  # noqa: E731
    return Gradients(
        loss=scalar("loss"),
        loss_task=scalar("loss_task"),
        loss_reg=scalar("loss_reg"),
        grad_w_in=_tensor(t, "grad_w_in", np.float32, 2, path, K),
        grad_w_rec=_tensor(t, "grad_w_rec", np.float32, 2, path, K),
        grad_w_out=_tensor(t, "grad_w_out", np.float32, 2, path, K),
        grad_b_out=_tensor(t, "grad_b_out", np.float32, 1, path, K),
        z=_tensor(t, "z", np.float32, 3, path, K),
    )


def save_gradients(path: PathLike, g: Gradients) -> None:
    """Writes a gradient file as `lsnn-gpu grads` does (spikes stored as 0/1)."""
    f = lambda a: np.asarray(a, dtype=np.float32)  # noqa: E731
    tensors = {
        "loss": f([g.loss]),
        "loss_task": f([g.loss_task]),
        "loss_reg": f([g.loss_reg]),
        "grad_w_in": f(g.grad_w_in),
        "grad_w_rec": f(g.grad_w_rec),
        "grad_w_out": f(g.grad_w_out),
        "grad_b_out": f(g.grad_b_out),
        "z": (f(g.z) != 0).astype(np.float32),
    }
    _write_atomic(path, tensors, {"format": FORMAT})
