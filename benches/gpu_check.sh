#!/usr/bin/env bash
# GPU readiness check (issue 15, item 4): on a machine with a GPU, in under 10 minutes,
#   1. build             cargo build --release (+ the compare_grads example)
#   2. devices           lsnn-gpu devices (which adapters wgpu sees; timestamp support)
#   3. tests             the GPU-vs-reference tests: gpu_matches_reference,
#                        native_matches_reference, deep_r, stream (GPU tests must find an adapter)
#   4. init              lsnn-gpu init configs/synthetic.yaml (parameters + one batch)
#   5. grads_{cpu,gpu,native}   lsnn-gpu grads on each engine
#   6. compare_grads     GPU and native gradients against the CPU reference (Rust, no Python:
#                        examples/compare_grads.rs)
#   7. bench             lsnn-gpu bench --device gpu --batch 64 --batch 256 --connectivity 1
#                        --connectivity 0.12 at the sMNIST size (configs/bench_smnist_size.yaml),
#                        with the native engine beside it and per-kernel GPU timing
# Each step is timed and logged to OUT_DIR/<step>.log; the script always ends with ONE JSON
# line on stdout: pass/fail, seconds and log of each step, the gradient comparison, the bench
# lines. Exit status 0 only when every step passed; a failed step does not stop the steps
# that do not depend on it.
#
# Usage: benches/gpu_check.sh [OUT_DIR]          (default gpu_check_out/)
#
# Without Rust on the GPU machine (the lent NVIDIA machines have none, and no network):
# run benches/gpu_bundle.sh here first and carry gpu_bundle/. When gpu_bundle/manifest.txt
# exists, step 1 checks the bundle instead of building, step 3 runs its test executables
# instead of cargo test, and when the machine has no libvulkan the loaders in
# gpu_bundle/debs are unpacked first (with the NVIDIA driver's Vulkan ICD file named in
# VK_DRIVER_FILES where the machine has it and nothing else names one).
# Environment:
#   GPU_CHECK_QUICK=1      smoke run for software adapters (lavapipe): the bench at the
#                          synthetic config's size (batch 8 and 16, 1 iteration) instead
#   GPU_CHECK_BUDGET_S     total seconds for all steps (default 570): each step's timeout is
#                          cut to what is left, so the summary comes within 10 minutes
#   GPU_CHECK_SKIP_TESTS=1 skip step 3
#   GPU_CHECK_BUNDLE=DIR   the bundle to use (default gpu_bundle/ when it exists; set it
#                          to an empty string to build with cargo even so)
#   GPU_CHECK_ARCHIVE=FILE also pack OUT_DIR into FILE (.tgz) at the end, for a machine
#                          that gives back only a few files
#   WGPU_BACKEND, WGPU_ADAPTER_NAME   passed through to wgpu as usual
#
# Building offline: the GPU machines have no network. With a `vendor/` directory in the
# repository (`cargo vendor vendor` on a machine with network), the build uses it with
# --offline; otherwise it is a plain `cargo build --release`, which needs either the network
# or a ~/.cargo registry that already holds every dependency (and a target/ directory from an
# earlier build makes it quicker). Without either, the build step fails and says so; the
# steps that need the binary then use one already in target/release if there is one (the JSON
# says so under "binary"), else report "skipped: no binary".

set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
OUT=${1:-gpu_check_out}
mkdir -p "$OUT" || exit 2
OUT=$(cd "$OUT" && pwd)
QUICK=${GPU_CHECK_QUICK:-0}
BUDGET=${GPU_CHECK_BUDGET_S:-570}
START=$(date +%s.%N)
BIN="$ROOT/target/release/lsnn-gpu"
CMP="$ROOT/target/release/examples/compare_grads"
BUNDLE=${GPU_CHECK_BUNDLE-}
if [ -z "${GPU_CHECK_BUNDLE+set}" ] && [ -f "$ROOT/gpu_bundle/manifest.txt" ]; then
    BUNDLE="$ROOT/gpu_bundle"
fi
if [ -n "$BUNDLE" ]; then
    BUNDLE=$(cd "$BUNDLE" && pwd) || exit 2
    BIN="$BUNDLE/bin/lsnn-gpu"
    CMP="$BUNDLE/bin/compare_grads"
fi

CARGO_FLAGS=()
BUILD_NOTE="plain cargo build (no vendor/ directory): needs the network or a filled ~/.cargo registry"
if [ -d "$ROOT/vendor" ]; then
    CARGO_FLAGS=(--offline --config 'source.crates-io.replace-with="vendored-sources"'
        --config "source.vendored-sources.directory=\"$ROOT/vendor\"")
    BUILD_NOTE="offline, from vendor/"
fi

elapsed() { echo "$(date +%s.%N) $START" | awk '{printf "%.1f", $1 - $2}'; }
# JSON string of $1 (one line: backslashes and quotes escaped, control characters dropped).
jstr() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g' | tr -d '\n\r\t')"; }

STEP_JSON=()
FAILED=()

# run_step NAME LIMIT_S COMMAND...: runs COMMAND with its output in OUT/NAME.log, under a
# timeout of min(LIMIT_S, what is left of the budget); records pass/fail and seconds.
run_step() {
    local name=$1 limit=$2
    shift 2
    local log="$OUT/$name.log" left t0 rc status secs
    left=$(echo "$BUDGET $(elapsed)" | awk '{printf "%d", $1 - $2}')
    if [ "$left" -lt "$limit" ]; then limit=$left; fi
    if [ "$limit" -lt 5 ]; then
        STEP_JSON+=("\"$name\":{\"pass\":false,\"status\":\"skipped: out of time (GPU_CHECK_BUDGET_S=$BUDGET)\"}")
        FAILED+=("$name")
        echo "== $name: skipped, out of time" >&2
        return 1
    fi
    echo "== $name (timeout ${limit}s): $*" >&2
    { echo "\$ $*"; echo; } >"$log"
    t0=$(date +%s.%N)
    timeout --kill-after=10 "$limit" "$@" >>"$log" 2>&1
    rc=$?
    secs=$(echo "$(date +%s.%N) $t0" | awk '{printf "%.1f", $1 - $2}')
    if [ $rc -eq 0 ]; then
        status="ok"
    elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        status="timed out after ${limit}s"
    else
        status="failed (exit $rc)"
    fi
    echo "   $status in ${secs}s (log $log)" >&2
    STEP_JSON+=("\"$name\":{\"pass\":$([ $rc -eq 0 ] && echo true || echo false),\"status\":\"$status\",\"rc\":$rc,\"seconds\":$secs,\"log\":$(jstr "$log")}")
    if [ $rc -ne 0 ]; then
        FAILED+=("$name")
        tail -n 15 "$log" | sed 's/^/   | /' >&2
    fi
    return $rc
}

skip_step() {
    STEP_JSON+=("\"$1\":{\"pass\":false,\"status\":$(jstr "skipped: $2")}")
    FAILED+=("$1")
    echo "== $1: skipped, $2" >&2
}

# 0. What machine this is (informational, not a step).
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(uname -a)"
    echo "cpus: $(nproc 2>/dev/null)"
    echo "git: $(git rev-parse HEAD 2>/dev/null) $(git status --porcelain 2>/dev/null | wc -l) changed files"
    echo "cargo: $(cargo --version 2>&1)"
    echo "rustc: $(rustc --version 2>&1)"
    echo "build: $BUILD_NOTE"
    command -v nvidia-smi >/dev/null && nvidia-smi 2>&1
    command -v vulkaninfo >/dev/null && vulkaninfo --summary 2>&1 | head -40
} >"$OUT/machine.log" 2>&1

# A machine without a Vulkan loader gets the bundle's (unpacked into /, as the GPU machines'
# notes say; only where libvulkan is missing, so a workstation is left alone).
bundle_loaders() {
    # ldconfig lives in /sbin, which a non-root PATH may lack; without it, nothing is unpacked.
    local ldconfig
    ldconfig=$(command -v ldconfig || echo /sbin/ldconfig)
    [ -x "$ldconfig" ] || { echo "no ldconfig: cannot tell whether libvulkan is there"; return 1; }
    if "$ldconfig" -p | grep -q 'libvulkan\.so\.1'; then
        echo "libvulkan present: the bundle's loaders are not needed"
    else
        for f in "$BUNDLE"/debs/*.deb; do
            echo "unpacking $f"
            dpkg -x "$f" / || return 1
        done
        "$ldconfig"
        "$ldconfig" -p | grep 'libvulkan\.so\.1' || return 1
    fi
    if [ -f "$BUNDLE/manifest.txt" ]; then cat "$BUNDLE/manifest.txt"; else return 1; fi
    [ -x "$BIN" ] && [ -x "$CMP" ] || { echo "no $BIN or $CMP"; return 1; }
}

# 1. Build (or, with a bundle, check it and install the loaders it carries).
if [ -n "$BUNDLE" ]; then
    BUILD_NOTE="prebuilt: $BUNDLE ($(sed -n 's/^revision: //p' "$BUNDLE/manifest.txt" 2>/dev/null))"
    NVIDIA_ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    if [ -f "$NVIDIA_ICD" ] && [ -z "${VK_DRIVER_FILES-}" ] && [ -z "${VK_ICD_FILENAMES-}" ]; then
        export VK_DRIVER_FILES=$NVIDIA_ICD
        BUILD_NOTE="$BUILD_NOTE; VK_DRIVER_FILES=$NVIDIA_ICD"
    fi
    export BUNDLE BIN CMP
    export -f bundle_loaders
    run_step build 120 bash -c bundle_loaders
else
    run_step build 420 cargo build --release "${CARGO_FLAGS[@]}" --bin lsnn-gpu --example compare_grads
fi
BUILD_OK=$?
if [ $BUILD_OK -eq 0 ] && [ -n "$BUNDLE" ]; then
    BIN_NOTE="from the bundle"
elif [ $BUILD_OK -eq 0 ]; then
    BIN_NOTE="built by this run"
elif [ -x "$BIN" ]; then
    BIN_NOTE="the build failed: steps below use the binary already in target/release (may be stale)"
else
    BIN_NOTE="the build failed and there is no binary"
fi

# 2. Devices.
HARDWARE_GPU=null
AUTO=null
if [ -x "$BIN" ]; then
    run_step devices 60 "$BIN" devices
    DEV_LINE=$(grep '^{' "$OUT/devices.log" | tail -n 1)
    case "$DEV_LINE" in
        *'"auto":"gpu:'*) HARDWARE_GPU=true ;;
        *'"auto":'*) HARDWARE_GPU=false ;;
    esac
    AUTO=$(printf '%s' "$DEV_LINE" | sed -n 's/.*"auto":\("[^"]*"\).*/\1/p')
    [ -z "$AUTO" ] && AUTO=null
else
    skip_step devices "no binary ($BIN)"
fi

# 3. The GPU-vs-reference tests.
if [ "${GPU_CHECK_SKIP_TESTS:-0}" = 1 ]; then
    STEP_JSON+=("\"tests\":{\"pass\":true,\"status\":\"skipped (GPU_CHECK_SKIP_TESTS=1)\"}")
elif [ $BUILD_OK -eq 0 ] && [ -n "$BUNDLE" ]; then
    run_step tests 360 env -u LSNN_SKIP_GPU_TESTS bash -c 'set -e
        for t in "$0"/tests/*; do
            echo "== $(basename "$t")"
            # The structure test reads the sources through a path baked in at build time.
            "$t" --skip every_shader_has_a_room
        done' "$BUNDLE"
elif [ $BUILD_OK -eq 0 ]; then
    run_step tests 360 env -u LSNN_SKIP_GPU_TESTS cargo test --release "${CARGO_FLAGS[@]}" \
        --test gpu_matches_reference --test native_matches_reference --test deep_r --test stream \
        --test kernels
else
    skip_step tests "the build failed"
fi

# 4-6. Gradients of one batch on the three engines, compared.
P="$OUT/params.safetensors"
B="$OUT/batch.safetensors"
GRADS_JSON=null
if [ -x "$BIN" ]; then
    run_step init 60 "$BIN" init configs/synthetic.yaml --out "$P" --batch-out "$B"
    for d in cpu gpu native; do
        if [ -f "$P" ] && [ -f "$B" ]; then
            run_step "grads_$d" 120 "$BIN" grads --params "$P" --batch "$B" \
                --out "$OUT/grads_$d.safetensors" --device "$d"
        else
            skip_step "grads_$d" "init wrote no parameters"
        fi
    done
    if [ -x "$CMP" ] && [ -f "$OUT/grads_cpu.safetensors" ]; then
        run_step compare_grads 60 "$CMP" "$OUT/grads_cpu.safetensors" \
            "$OUT/grads_gpu.safetensors" "$OUT/grads_native.safetensors"
        GRADS_JSON=$(grep '^{' "$OUT/compare_grads.log" | tail -n 1)
        [ -z "$GRADS_JSON" ] && GRADS_JSON=null
    else
        skip_step compare_grads "no compare_grads binary or no CPU gradients"
    fi
else
    for s in init grads_cpu grads_gpu grads_native compare_grads; do
        skip_step "$s" "no binary ($BIN)"
    done
fi

# 7. Bench: sMNIST size, batch 64 and 256, dense and DEEP R at 12 %, GPU and native engine
# (the CPU reference is skipped: ~36 s per iteration at batch 64).
BENCH_JSON="[]"
if [ -x "$BIN" ]; then
    if [ "$QUICK" = 1 ]; then
        BENCH_ARGS=(--config configs/synthetic.yaml --batch 8 --batch 16 --iters 1 --native-iters 1)
    else
        BENCH_ARGS=(--config configs/bench_smnist_size.yaml --batch 64 --batch 256 --iters 3 --native-iters 3)
    fi
    run_step bench 300 "$BIN" bench --device gpu "${BENCH_ARGS[@]}" \
        --connectivity 1 --connectivity 0.12 --cpu-iters 0
    LINES=$(grep '^{' "$OUT/bench.log" | paste -sd, -)
    [ -n "$LINES" ] && BENCH_JSON="[$LINES]"
else
    skip_step bench "no binary ($BIN)"
fi

PASS=true
[ ${#FAILED[@]} -gt 0 ] && PASS=false
FAILED_JSON=$(printf '"%s",' "${FAILED[@]+"${FAILED[@]}"}" | sed 's/,$//')
[ "$FAILED_JSON" = '""' ] && FAILED_JSON=""
STEPS=$(IFS=,; echo "${STEP_JSON[*]}")
ARCHIVE_JSON=null
if [ -n "${GPU_CHECK_ARCHIVE-}" ]; then
    if tar czf "$GPU_CHECK_ARCHIVE" -C "$(dirname "$OUT")" "$(basename "$OUT")"; then
        ARCHIVE_JSON=$(jstr "$GPU_CHECK_ARCHIVE")
    else
        PASS=false
        echo "could not write the archive $GPU_CHECK_ARCHIVE" >&2
    fi
fi
echo "{\"gpu_check\":\"issue 15 GPU readiness\",\"pass\":$PASS,\"failed\":[$FAILED_JSON],\"quick\":$([ "$QUICK" = 1 ] && echo true || echo false),\"hardware_gpu\":$HARDWARE_GPU,\"auto\":$AUTO,\"build\":$(jstr "$BUILD_NOTE"),\"binary\":$(jstr "$BIN_NOTE"),\"out_dir\":$(jstr "$OUT"),\"archive\":$ARCHIVE_JSON,\"total_seconds\":$(elapsed),\"steps\":{$STEPS},\"grads\":$GRADS_JSON,\"bench\":$BENCH_JSON}"
[ "$PASS" = true ]
