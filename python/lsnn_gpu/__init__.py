"""Python access to lsnn-gpu's files and model, without the Rust build.

- Files (docs/formats.md): ``load_checkpoint``/``save_checkpoint``, ``load_batch``/
  ``save_batch``, ``load_gradients``/``save_gradients``.
- Model (docs/model.md): ``forward`` (M1-M5), ``readout_loss`` (M7-M9), ``evaluate``;
  the same spikes as ``lsnn-gpu grads --device cpu``, bit for bit.
- Runs: ``load_metrics`` (``metrics.jsonl`` as a pandas DataFrame, or dicts).
- NIR: ``python -m lsnn_gpu.nir export|import`` (see NIR.md; needs the ``nir`` package).
"""

from .files import (
    FORMAT,
    Batch,
    FormatError,
    Gradients,
    Network,
    Readout,
    load_batch,
    load_checkpoint,
    load_gradients,
    save_batch,
    save_checkpoint,
    save_gradients,
)
from .forward import LossOutput, Trace, evaluate, forward, outputs_over_time, readout_loss, readout_trace
from .metrics import load_metrics, metrics_frame, read_metrics

__version__ = "0.1.0"

__all__ = [
    "FORMAT",
    "Batch",
    "FormatError",
    "Gradients",
    "LossOutput",
    "Network",
    "Readout",
    "Trace",
    "evaluate",
    "forward",
    "load_batch",
    "load_checkpoint",
    "load_gradients",
    "load_metrics",
    "metrics_frame",
    "outputs_over_time",
    "read_metrics",
    "readout_loss",
    "readout_trace",
    "save_batch",
    "save_checkpoint",
    "save_gradients",
]
