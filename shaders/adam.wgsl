// adam.wgsl: one Adam step (docs/model.md section 6) with the step-decay learning rate (the host
// writes the decayed lr and the bias corrections into `step`), followed by the projection on
// each parameter's sign constraint (Dale's law, no autapses) and, for DEEP R's rewired
// parameters (CONSTRAINT_REWIRED_POSITIVE: w = +theta, CONSTRAINT_REWIRED_NEGATIVE: w = -theta),
// R1-R4 of docs/model.md section 7: an entry inactive before the step stays 0, one whose theta went <= 0 disconnects, active
// ones take theta -= lr*l1 + sqrt(2 lr T) N(0,1) (Philox, stream STREAM_NOISE) and disconnect
// if that makes theta <= 0. Active connections per matrix and disconnections are counted
// into `stats` for the refill (deep_r_refill.wgsl) and the metrics; non-finite gradients and
// updated weights are counted too (STAT_NONFINITE_*): the host then refuses the step and
// restores the weights, as `cpu::engine::optimiser_step` does (the NaN guard).
// Reference: src/cpu/adam.rs (adam_step, apply_constraints),
// src/cpu/deep_r.rs (rewire_entries). Host: src/gpu/kernels/adam.rs.
//
// One invocation per parameter e. Bindings (declared in src/gpu/kernels/adam.rs): dims, step, rewire (uniform); grads (read);
// constraints (read); model (rw: the first P entries); moments (rw: m | v); stats (rw).

// Counts of this workgroup in the slots of `stats` (STATS_LAYOUT), added to `stats` once.
var<workgroup> counts: array<atomic<u32>, STATS_LEN>;

@compute @workgroup_size(WG_ELEMENTWISE)
fn main(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let e = gid.x + gid.y * groups.x * WG_ELEMENTWISE;
    for (var i = lid; i < STATS_LEN; i += WG_ELEMENTWISE) {
        atomicStore(&counts[i], 0u);
    }
    workgroupBarrier();
    if (e < dims.n_params) {
        let before = model[e];
        let g = grads[e];
        if (!is_finite(g)) {
            atomicAdd(&counts[STAT_NONFINITE_GRADS], 1u);
        }
        let m = step.beta1 * moments[e] + (1.0 - step.beta1) * g;
        let v = step.beta2 * moments[dims.n_params + e] + (1.0 - step.beta2) * g * g;
        moments[e] = m;
        moments[dims.n_params + e] = v;
        var w = before - step.lr * (m / step.bias1) / (sqrt(v / step.bias2) + step.eps);
        let c = constraints[e];
        switch c {
            case CONSTRAINT_NON_NEGATIVE, CONSTRAINT_REWIRED_POSITIVE: { w = max(w, 0.0); }
            case CONSTRAINT_NON_POSITIVE, CONSTRAINT_REWIRED_NEGATIVE: { w = min(w, 0.0); }
            case CONSTRAINT_ZERO: { w = 0.0; }
            default: {}
        }
        if (c == CONSTRAINT_REWIRED_POSITIVE || c == CONSTRAINT_REWIRED_NEGATIVE) {
            let s = select(-1.0, 1.0, c == CONSTRAINT_REWIRED_POSITIVE);
            let theta_old = s * before;
            var theta = s * w;
            if (theta_old <= 0.0 || theta <= 0.0) {
                theta = 0.0;
            } else {
                theta -= step.lr * rewire.l1;
                if (rewire.temperature > 0.0) {
                    let r = philox4x32_10(vec4<u32>(rewire.iteration, STREAM_NOISE, e, 0u), vec2<u32>(rewire.seed_lo, rewire.seed_hi));
                    theta += sqrt(2.0 * step.lr * rewire.temperature) * philox_normal(r.x, r.y);
                }
                theta = max(theta, 0.0);
            }
            w = s * theta;
            if (theta > 0.0) {
                // Which rewired matrix: W_in, W_rec or W_out, wherever the packed order
                // puts them (b_out is never rewired).
                var k = 2u;
                if (e >= dims.off_w_in && e < dims.off_w_in + dims.n_in * dims.n_rec) {
                    k = 0u;
                } else if (e >= dims.off_w_rec && e < dims.off_w_rec + dims.n_rec * dims.n_rec) {
                    k = 1u;
                }
                atomicAdd(&counts[STAT_ACTIVE + k], 1u);
            } else if (theta_old > 0.0) {
                atomicAdd(&counts[STAT_DISCONNECTED], 1u);
            }
        }
        if (!is_finite(w)) {
            atomicAdd(&counts[STAT_NONFINITE_WEIGHTS], 1u);
        }
        model[e] = w;
    }
    workgroupBarrier();
    for (var i = lid; i < STATS_LEN; i += WG_ELEMENTWISE) {
        let count = atomicLoad(&counts[i]);
        if (count > 0u) {
            atomicAdd(&stats[i], count);
        }
    }
}
