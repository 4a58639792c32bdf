"""Thins a run's metrics.jsonl into the learning-curve CSV kept beside its figure.

metrics.jsonl has one line per iteration (10 MB for the 36,000-iteration sMNIST run); the CSV
keeps every EVERY-th iteration and every validation, the columns the learning-curve figure
plots. Usage:

    python benches/figures/learning_curve_csv.py runs/smnist_full_native_20261203 \
        benches/figures/smnist_full_native_learning_curves.csv [--every 50]

Ends with one JSON line on stdout (rows written, last iteration, best validation).
"""

import argparse
import csv
import json
import pathlib

COLUMNS = [
    "iteration",
    "loss",
    "train_accuracy",
    "validation_loss",
    "validation_accuracy",
    "rate_regular_hz",
    "rate_adaptive_hz",
    "connectivity_w_rec",
    "learning_rate",
    "wall_s",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=pathlib.Path)
    parser.add_argument("out_csv", type=pathlib.Path)
    parser.add_argument("--every", type=int, default=50)
    args = parser.parse_args()
    rows, best = [], None
    with open(args.run_dir / "metrics.jsonl") as f:
        for line in f:
            m = json.loads(line)
            it = m.get("iteration")
            if it is None:  # the test-evaluation line at the end of a run
                continue
            validated = m.get("validation_accuracy") is not None
            if validated and (best is None or m["validation_accuracy"] > best[1]):
                best = (it, m["validation_accuracy"])
            if it % args.every == 0 or validated:
                rows.append(["" if m.get(c) is None else m[c] for c in COLUMNS])
    with open(args.out_csv, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(COLUMNS)
        w.writerows(rows)
    print(
        json.dumps(
            {
                "csv": str(args.out_csv),
                "rows": len(rows),
                "last_iteration": rows[-1][0] if rows else None,
                "best_validation": {"iteration": best[0], "accuracy": best[1]} if best else None,
            }
        )
    )


if __name__ == "__main__":
    main()
