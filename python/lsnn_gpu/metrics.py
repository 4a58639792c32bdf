"""`metrics.jsonl` of a run directory: one JSON object per line, appended as training goes
(src/train/metrics.rs). Lines differ in their keys (training iterations, validation, the
final test line), so missing values become NaN in a DataFrame."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import List, Union


def read_metrics(path: Union[str, os.PathLike], strict: bool = False) -> List[dict]:
    """The records of a `metrics.jsonl` (or of the one in a run directory) as dicts.

    A run that is still training, or was killed, may have left a torn last line: it is
    skipped. A bad line anywhere else raises ValueError (or also with ``strict=True``)."""
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.jsonl"
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    records = []
    for n, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as e:
            is_last = all(not rest.strip() for rest in lines[n + 1:])
            if is_last and not strict:
                break
            raise ValueError(f"{path}: line {n + 1}: {e}") from None
    return records


def metrics_frame(path: Union[str, os.PathLike], strict: bool = False):
    """The records of `metrics.jsonl` as a pandas DataFrame (requires pandas), one row per
    line, indexed by position; see read_metrics for torn lines."""
    try:
        import pandas as pd
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("metrics_frame needs pandas (`pip install pandas`); read_metrics returns plain dicts") from e
    return pd.DataFrame.from_records(read_metrics(path, strict=strict))


def load_metrics(path: Union[str, os.PathLike], strict: bool = False):
    """A DataFrame if pandas is installed, else the list of dicts."""
    try:
        import pandas  # noqa: F401
    except ImportError:
        return read_metrics(path, strict=strict)
    return metrics_frame(path, strict=strict)
