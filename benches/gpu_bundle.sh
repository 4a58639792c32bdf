#!/usr/bin/env bash
# Prepares benches/gpu_check.sh for a GPU machine that has no Rust toolchain and no network
# (the lent NVIDIA machines: CUDA and Python, no cargo; nothing can be fetched there).
# Run it HERE, on an x86-64 Linux machine with cargo and the network; it fills gpu_bundle/
# (ignored by git) with everything the check needs besides the repository itself:
#
#   gpu_bundle/bin/lsnn-gpu, gpu_bundle/bin/compare_grads     release builds, stripped
#   gpu_bundle/tests/<name>      the GPU-vs-reference test executables (cargo test --release
#                                --no-run), stripped: gpu_matches_reference,
#                                native_matches_reference, deep_r, stream, kernels
#   gpu_bundle/debs/*.deb        the Vulkan/EGL loaders (libvulkan1, libegl1, libglvnd0, ...),
#                                unpacked there only if the machine has no libvulkan
#   gpu_bundle/manifest.txt      git revision, rustc, date, sizes
#
# Then the check on the GPU machine (gpu_check.sh finds gpu_bundle/ and uses it instead of
# cargo), with the logs in one archive because only a few files come back:
#   GPU_CHECK_ARCHIVE=$OUT/gpu_check.tgz bash benches/gpu_check.sh
# carrying `gpu_bundle` (the device tool's `carry`). The bundle is ~30 MiB; the machines take 64 MiB with the working tree.
#
# Usage: benches/gpu_bundle.sh [--no-debs]
# Ends with one JSON line on stdout.

set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DEST="$ROOT/gpu_bundle"
TESTS=(gpu_matches_reference native_matches_reference deep_r stream kernels)
DEBS=(libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
WITH_DEBS=1
[ "${1:-}" = "--no-debs" ] && WITH_DEBS=0

if ! git check-ignore -q gpu_bundle; then
    echo "gpu_bundle/ is not ignored by git (.gitignore): refusing to fill it" >&2
    exit 2
fi
rm -rf "$DEST"
mkdir -p "$DEST/bin" "$DEST/tests" "$DEST/debs"

echo "== building lsnn-gpu and compare_grads (release)" >&2
cargo build --release --bin lsnn-gpu --example compare_grads >&2
install -m 755 target/release/lsnn-gpu target/release/examples/compare_grads "$DEST/bin/"

echo "== building the GPU-vs-reference tests (release)" >&2
TEST_ARGS=()
for t in "${TESTS[@]}"; do TEST_ARGS+=(--test "$t"); done
# One JSON message per artifact; the test executables are the ones with "test": true.
cargo test --release --no-run "${TEST_ARGS[@]}" --message-format=json 2>/dev/null |
    jq -r 'select(.reason == "compiler-artifact" and .profile.test == true and .executable != null)
           | "\(.target.name) \(.executable)"' |
    while read -r name exe; do
        install -m 755 "$exe" "$DEST/tests/$name"
    done
for t in "${TESTS[@]}"; do
    [ -x "$DEST/tests/$t" ] || { echo "test executable $t was not built" >&2; exit 1; }
done
strip "$DEST"/bin/* "$DEST"/tests/*

if [ $WITH_DEBS = 1 ]; then
    echo "== downloading the loaders: ${DEBS[*]}" >&2
    LISTS=$(mktemp -d)
    mkdir -p "$LISTS/partial"
    APT=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$LISTS")
    apt-get "${APT[@]}" update >&2
    (cd "$DEST/debs" && apt-get "${APT[@]}" download "${DEBS[@]}" >&2)
    rm -rf "$LISTS"
fi

BYTES=$(du -sb "$DEST" | cut -f1)
{
    echo "revision: $(git rev-parse HEAD) ($(git status --porcelain --untracked-files=no | wc -l) changed tracked files)"
    echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m)"
    echo "rustc: $(rustc --version)"
    echo "tests: ${TESTS[*]}"
    echo "bytes: $BYTES"
} >"$DEST/manifest.txt"
cat "$DEST/manifest.txt" >&2
if [ "$BYTES" -gt $((56 * 1024 * 1024)) ]; then
    echo "warning: the bundle is over 56 MiB; with the working tree it may pass the 64 MiB a GPU machine takes" >&2
fi
printf '{"gpu_bundle":"%s","bytes":%s,"revision":"%s","tests":%s,"debs":%s}\n' \
    "gpu_bundle" "$BYTES" "$(git rev-parse HEAD)" "$(printf '%s\n' "${TESTS[@]}" | jq -R . | jq -sc .)" \
    "$(ls "$DEST/debs" | jq -R . | jq -sc .)"
