// input_events.wgsl: included by the two sweeps (alif_forward.wgsl, alif_backward.wgsl),
// which declare `dims`, the chunk's input `x` and the workgroup input masks `inmask`.

// Sets, in the input mask at `mask`, the bits of the non-zero inputs of chunk-local step s;
// invocations share the channels (a cleared mask is required).
fn mark_inputs(mask: u32, s: u32, b: u32, lid: u32) {
    let base = (s * dims.batch + b) * dims.n_in;
    for (var i = lid; i < dims.n_in; i += WG) {
        if (x[base + i] != 0.0) {
            atomicOr(&inmask[mask + i / 32u], 1u << (i & 31u));
        }
    }
}

