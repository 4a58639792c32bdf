#!/usr/bin/env python3
"""lsnn-gpu and its peers side by side: one training iteration of the same LSNN, timed.

Runs, one after the other on the same machine:
  1. `target/release/lsnn-gpu bench --config configs/bench_smnist_size.yaml --batch ...
     --iters K --cpu-iters 0` (plus anything given with --lsnn-args), which prints one JSON
     line per measured engine and batch (field `device`: "gpu", "cpu", "native", ... — any
     value is accepted and kept apart);
  2. each peer script of this folder (jax_lsnn.py; norse_lsnn.py in eager and in
     torch.compile mode) with the same batches and iteration count. A peer whose packages
     are not installed reports itself skipped; that is noted on stderr and in the JSON.

Then prints, as JSON lines on stdout: every measured line, tagged with "source"; for each
lsnn-gpu line and each peer line of the same batch and sequence length a ratio line
  {"ratio": "<peer>/<ours>", "batch": .., "ours": {...}, "peer": {...},
   "speedup": peer_ms / our_ms}
(speedup > 1: lsnn-gpu is faster); and a last summary line ({"summary": ...}).

`--quick` is a smoke test: T = 100 steps, batch 64, 1 timed iteration everywhere.
`--threads N` restricts this process, and so every program it starts, to N cores.
Run it from anywhere; it works from the repository root.
"""

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent  # the repository root
QUICK_STEPS = 100

PEERS = {
    # name: (script, extra arguments)
    "jax": ("jax_lsnn.py", []),
    "norse": ("norse_lsnn.py", []),
    "norse-compile": ("norse_lsnn.py", ["--compile"]),
}


def log(msg):
    print(f"run_peers: {msg}", file=sys.stderr, flush=True)


def emit(record):
    print(json.dumps(record), flush=True)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, action="append", nargs="+", metavar="N",
                    help="batch size(s), repeatable or a list (default 64 and 256)")
    ap.add_argument("--iters", type=int, default=3, help="timed iterations of each (default 3)")
    ap.add_argument("--warmup", type=int, default=1, help="peers' untimed iterations (default 1)")
    ap.add_argument("--threads", type=int, default=None,
                    help="cores for every program (default: all this process may use)")
    ap.add_argument("--quick", action="store_true",
                    help=f"smoke test: T = {QUICK_STEPS}, batch 64, 1 timed iteration")
    ap.add_argument("--peers", default=",".join(PEERS),
                    help=f"comma-separated peers to run (default {','.join(PEERS)}); '' for none")
    ap.add_argument("--no-lsnn", action="store_true", help="do not run lsnn-gpu (peers only)")
    ap.add_argument("--lsnn-bin", default=str(ROOT / "target" / "release" / "lsnn-gpu"),
                    help="the lsnn-gpu binary (default target/release/lsnn-gpu)")
    ap.add_argument("--lsnn-args", default="",
                    help="extra arguments for `lsnn-gpu bench`, one string, e.g. "
                         "\"--cpu-iters 1 --device cpu\"; a flag given here replaces ours")
    ap.add_argument("--peer-args", default="",
                    help="extra arguments for every peer script, one string")
    ap.add_argument("--python", default=sys.executable,
                    help="Python interpreter for the peers (default: this one)")
    ap.add_argument("--timeout", type=float, default=None,
                    help="seconds allowed to each program (default: no limit)")
    args = ap.parse_args()
    args.batches = [b for group in (args.batch or []) for b in group] or ([64] if args.quick else [64, 256])
    if args.quick:
        args.iters = min(args.iters, 1)
        args.warmup = min(args.warmup, 1)
    args.peer_list = [p for p in args.peers.split(",") if p]
    for p in args.peer_list:
        if p not in PEERS:
            ap.error(f"unknown peer {p!r}; known: {', '.join(PEERS)}")
    return args


def run(cmd, timeout):
    """Runs cmd from the repository root; its stderr goes straight to ours (progress), its
    stdout is returned as parsed JSON lines. Returns (records, error or None)."""
    log("$ " + " ".join(shlex.quote(c) for c in cmd))
    try:
        proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=None,
                              text=True, timeout=timeout)
    except FileNotFoundError as e:
        return [], f"not found: {e}"
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        return parse_json_lines(out), f"timed out after {timeout} s"
    records = parse_json_lines(proc.stdout)
    error = None if proc.returncode == 0 else f"exit status {proc.returncode}"
    return records, error


def parse_json_lines(text):
    records = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                log(f"ignoring a line that is not JSON: {line[:200]}")
    return records


def flag_names(argv):
    return {a.split("=", 1)[0] for a in argv if a.startswith("--")}


def lsnn_command(args):
    user = shlex.split(args.lsnn_args)
    given = flag_names(user)
    cmd = [args.lsnn_bin, "bench"]
    if "--config" not in given:
        cmd += ["--config", "configs/bench_smnist_size.yaml"]
    if "--batch" not in given:
        for b in args.batches:
            cmd += ["--batch", str(b)]
    if "--iters" not in given:
        cmd += ["--iters", str(args.iters)]
    if "--cpu-iters" not in given:
        cmd += ["--cpu-iters", "0"]
    if args.quick:
        cmd += ["--set", f"task.steps={QUICK_STEPS}"]
    return cmd + user


def our_label(rec):
    """A name for one lsnn-gpu line: its device, and its connectivity if sparse."""
    label = f"lsnn-gpu:{rec.get('device', '?')}"
    if rec.get("connectivity") is not None:
        label += f"@p={rec['connectivity']}"
    return label


def machine():
    cpu = None
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu or platform.processor(),
        "cores_used": len(os.sched_getaffinity(0)),
        "cores_total": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "platform": platform.platform(),
    }


def main():
    args = parse_args()
    if args.threads:
        cores = sorted(os.sched_getaffinity(0))[:args.threads]
        os.sched_setaffinity(0, cores)  # inherited by every program started below
    conditions = machine()
    log(f"{conditions['cores_used']} cores ({conditions['cpu']}), load average "
        f"{conditions['load_average_at_start'][0]:.2f}, batches {args.batches}, "
        f"{args.iters} timed iterations{', QUICK (T = 100)' if args.quick else ''}")
    started = time.time()
    ours, peers, skipped, failed = [], [], [], []

    # 1. lsnn-gpu
    if not args.no_lsnn:
        if not Path(args.lsnn_bin).exists():
            note = f"{args.lsnn_bin} does not exist; build it with `cargo build --release`"
            log("lsnn-gpu skipped: " + note)
            skipped.append({"source": "lsnn-gpu", "reason": note})
        else:
            records, error = run(lsnn_command(args), args.timeout)
            for r in records:
                if "error" in r:
                    failed.append({"source": "lsnn-gpu", "error": r["error"]})
                elif r.get("ms_per_iter") is not None:
                    r = {"source": "lsnn-gpu", "label": our_label(r), **r}
                    ours.append(r)
                    emit(r)
            if error:
                log(f"lsnn-gpu: {error}")
                failed.append({"source": "lsnn-gpu", "error": error})

    # 2. the peers
    common = ["--iters", str(args.iters), "--warmup", str(args.warmup)]
    common += ["--batch"] + [str(b) for b in args.batches]
    if args.threads:
        common += ["--threads", str(args.threads)]
    if args.quick:
        common += ["--quick"]
    common += shlex.split(args.peer_args)
    for name in args.peer_list:
        script, extra = PEERS[name]
        records, error = run([args.python, str(HERE / script)] + extra + common, args.timeout)
        for r in records:
            r = {"source": "peer", "label": r.get("peer", name), **r}
            if "skipped" in r:
                log(f"peer {name} SKIPPED: {r['skipped']}")
                skipped.append({"source": name, "reason": r["skipped"]})
            elif r.get("ms_per_iter") is None:
                log(f"peer {name} FAILED at batch {r.get('batch')}: {r.get('error')}")
                failed.append({"source": name, "batch": r.get("batch"), "error": r.get("error")})
            else:
                peers.append(r)
            emit(r)
        if error:
            log(f"peer {name}: {error}")
            failed.append({"source": name, "error": error})

    # 3. ratios: every peer line against every lsnn-gpu line of the same batch and length.
    ratios = []
    for o in ours:
        for p in peers:
            if o.get("batch") != p.get("batch") or o.get("steps") != p.get("steps"):
                continue
            speedup = p["ms_per_iter"] / o["ms_per_iter"]
            line = {"ratio": f"{p['label']}/{o['label']}", "batch": o["batch"],
                    "ours": o, "peer": p, "speedup": speedup}
            ratios.append(line)
            emit(line)
            faster = (f"lsnn-gpu is {speedup:.2f}x faster" if speedup >= 1
                      else f"the peer is {1 / speedup:.2f}x faster")
            log(f"batch {o['batch']}: {p['label']} {p['ms_per_iter']:.1f} ms, {o['label']} "
                f"{o['ms_per_iter']:.1f} ms: {faster}"
                + (f" (the peer does less: {p['does_less']})" if p.get("does_less") else ""))

    def brief(r):
        keys = ("label", "batch", "steps", "ms_per_iter", "rate_hz", "adapter", "mode", "does_less")
        return {k: r[k] for k in keys if k in r}

    emit({
        "summary": True,
        "quick": args.quick,
        "iterations_timed": args.iters,
        "batches": args.batches,
        "machine": conditions,
        "wall_s": time.time() - started,
        "ours": [brief(r) for r in ours],
        "peers": [brief(r) for r in peers],
        "speedups": [{"ratio": r["ratio"], "batch": r["batch"], "speedup": r["speedup"]}
                     for r in ratios],
        "skipped": skipped,
        "failed": failed,
    })


if __name__ == "__main__":
    main()
