"""Fixtures: the lsnn-gpu binary and the files it writes (`init`, `grads`).

The binary is `$LSNN_GPU_BIN`, else target/release/lsnn-gpu, else target/debug/lsnn-gpu
of this repository. Tests that need it FAIL when it is missing, unless
LSNN_SKIP_BINARY_TESTS=1 is set (then they are skipped): build it first with
`cargo build --release`.
"""

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SYNTHETIC = REPO / "configs" / "synthetic.yaml"


def find_binary():
    env = os.environ.get("LSNN_GPU_BIN")
    if env:
        return Path(env) if Path(env).is_file() else None
    for build in ("release", "debug"):
        p = REPO / "target" / build / "lsnn-gpu"
        if p.is_file():
            return p
    return None


@pytest.fixture(scope="session")
def binary():
    b = find_binary()
    if b is None:
        where = os.environ.get("LSNN_GPU_BIN") or f"{REPO}/target/{{release,debug}}/lsnn-gpu"
        if os.environ.get("LSNN_SKIP_BINARY_TESTS") == "1":
            pytest.skip(f"lsnn-gpu binary not found at {where} (LSNN_SKIP_BINARY_TESTS=1)")
        pytest.fail(
            f"lsnn-gpu binary not found at {where}: build it with `cargo build --release`, point "
            "LSNN_GPU_BIN at it, or set LSNN_SKIP_BINARY_TESTS=1 to skip the tests that need it",
            pytrace=False,
        )
    return b


def run(binary, *args, cwd=None):
    """Runs the binary; returns stdout. A failure shows stderr."""
    p = subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True, cwd=cwd)
    if p.returncode != 0:
        raise AssertionError(f"lsnn-gpu {' '.join(map(str, args))} failed ({p.returncode}):\n{p.stderr}\n{p.stdout}")
    return p.stdout


class Case:
    """A checkpoint, a batch and the gradient file `grads --device cpu` wrote for them."""

    def __init__(self, directory, params, batch, grads):
        self.dir, self.params, self.batch, self.grads = directory, params, batch, grads


def make_case(binary, directory, name, *sets):
    directory.mkdir(parents=True, exist_ok=True)
    params = directory / f"{name}.safetensors"
    batch = directory / f"{name}_batch.safetensors"
    grads = directory / f"{name}_grads.safetensors"
    set_args = [a for s in sets for a in ("--set", s)]
    run(binary, "init", SYNTHETIC, *set_args, "--out", params, "--batch-out", batch)
    run(binary, "grads", "--params", params, "--batch", batch, "--out", grads, "--device", "cpu")
    return Case(directory, params, batch, grads)


def grads_for(binary, params, batch, out):
    run(binary, "grads", "--params", params, "--batch", batch, "--out", out, "--device", "cpu")
    return out


@pytest.fixture(scope="session")
def synthetic(binary, tmp_path_factory):
    """configs/synthetic.yaml: 24 LIF + 16 ALIF neurons, delays 0..4, n_ref 3, window readout."""
    return make_case(binary, tmp_path_factory.mktemp("synthetic"), "synthetic")


@pytest.fixture(scope="session")
def deep_r(binary, tmp_path_factory):
    """The synthetic config with DEEP R at connectivity 0.2 (sparse signed weights)."""
    return make_case(binary, tmp_path_factory.mktemp("deep_r"), "deep_r", "rewiring.connectivity=0.2")


@pytest.fixture(scope="session")
def noisy(binary, tmp_path_factory):
    """The synthetic config with injected noise sigma = 0.3 (M1)."""
    return make_case(binary, tmp_path_factory.mktemp("noisy"), "noisy", "model.noise_std=0.3")


@pytest.fixture(scope="session")
def lif_only(binary, tmp_path_factory):
    """40 regular LIF neurons, no adaptive ones, n_ref = 0, delays 0..4."""
    return make_case(
        binary,
        tmp_path_factory.mktemp("lif_only"),
        "lif_only",
        "model.n_regular=40",
        "model.n_adaptive=0",
        "model.n_ref=0",
    )
