"""Draws smnist_quick_spread.png from smnist_quick_spread.csv (written beside it): the test
accuracy of `lsnn-gpu run configs/smnist_quick.yaml` over seeds and over rounding-level
perturbations of the learning rate, per engine and batch size (the config trains batch 32;
the batch-16 rows are its earlier setting, `--set train.batch_size=16`). See benches/RESULTS.md for the commands.

    python benches/figures/smnist_quick_spread.py   # needs matplotlib
"""
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent
rows = list(csv.DictReader(open(HERE / "smnist_quick_spread.csv")))
def batch(r):
    return int(r["batch"])


groups = [
    ("batch 16\nnative, seeds", lambda r: batch(r) == 16 and r["engine"] == "native" and float(r["lr_rel_perturbation"]) == 0),
    ("batch 16\nnative, seed 0,\nlr x (1 + k 1e-6)", lambda r: batch(r) == 16 and r["engine"] == "native" and float(r["lr_rel_perturbation"]) != 0),
    ("batch 16\nlavapipe, seeds", lambda r: batch(r) == 16 and r["engine"] == "lavapipe"),
    ("batch 32 (the config)\nnative, seeds", lambda r: batch(r) == 32 and r["engine"] == "native"),
    ("batch 32 (the config)\nlavapipe, seeds", lambda r: batch(r) == 32 and r["engine"] == "lavapipe"),
]
fig, ax = plt.subplots(figsize=(9.2, 3.9), dpi=150)
for i, (label, keep) in enumerate(groups):
    acc = [100 * float(r["test_accuracy"]) for r in rows if keep(r)]
    if not acc:
        continue
    xs = [i + 0.08 * ((j % 5) - 2) for j in range(len(acc))]
    ax.scatter(xs, acc, s=22, alpha=0.8)
    mean = sum(acc) / len(acc)
    ax.hlines(mean, i - 0.25, i + 0.25, color="k", lw=1.5)
    ax.text(i + 0.28, mean, f"{mean:.1f} % (n={len(acc)})", va="center", fontsize=8)
ax.axhline(55.7, color="grey", ls="--", lw=0.8)
ax.text(-0.45, 55.9, "issue's baseline 55.7 % (lavapipe, seed 0)", fontsize=7, color="grey", ha="left")
ax.set_xticks(range(len(groups)), [g[0] for g in groups], fontsize=8)
ax.set_xlim(-0.5, len(groups) - 0.2)
ax.set_ylabel("test accuracy (%)")
ax.set_title("smnist_quick.yaml: 2,000 iterations, T = 224", fontsize=9)
fig.tight_layout()
fig.savefig(HERE / "smnist_quick_spread.png")
print(f'{{"figure": "benches/figures/smnist_quick_spread.png", "points": {len(rows)}}}')
