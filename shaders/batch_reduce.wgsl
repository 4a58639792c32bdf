// batch_reduce.wgsl: sums the per-sequence gradient partials over the batch, in sequence
// order (deterministic, no float atomics), and zeroes the entries that are not parameters
// (the recurrent diagonal: CONSTRAINT_ZERO) and, with DEEP R's `dense_gradients: false`, the
// inactive rewired entries (CONSTRAINT_REWIRED_* with w = 0). Reference: the sums over b in
// src/cpu/alif_backward.rs, src/cpu/deep_r.rs (zero_inactive_gradients). Host:
// src/gpu/kernels/batch_reduce.rs.
//
// One invocation per parameter e (2-D dispatch for more than 65535 workgroups).
// Bindings (declared in src/gpu/kernels/batch_reduce.rs): dims (uniform); partials [B, P] (read); constraints [P] (read); grads [P] (rw);
// model (read).

@compute @workgroup_size(WG_ELEMENTWISE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let e = gid.x + gid.y * groups.x * WG_ELEMENTWISE;
    if (e >= dims.n_params) {
        return;
    }
    var sum = 0.0;
    for (var b = 0u; b < dims.batch; b++) {
        sum += partials[b * dims.n_params + e];
    }
    let c = constraints[e];
    if (c == CONSTRAINT_ZERO || (dims.sparse_gradients == 1u && (c == CONSTRAINT_REWIRED_POSITIVE || c == CONSTRAINT_REWIRED_NEGATIVE) && model[e] == 0.0)) {
        sum = 0.0;
    }
    grads[e] = sum;
}
