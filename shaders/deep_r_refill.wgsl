// deep_r_refill.wgsl: R5 of DEEP R (docs/model.md section 7): restores the global budget of active
// connections by placing the missing ones at uniformly random inactive positions with
// theta = REFILL_THETA and the position's fixed sign. Draw a is Philox(iteration,
// STREAM_REFILL, a): word x chooses the matrix (proportional to its capacity), word y the
// position; a draw that hits a full matrix, a non-rewired position (the W_rec diagonal) or
// an active one is rejected, which keeps the placement uniform over the free positions.
// Sequential in one invocation, so the placements are the same run after run; the draw
// counter lives in `stats`, so a refill cut short by `max_attempts` (llvmpipe's loop cap)
// continues exactly where it stopped when the host dispatches it again.
// Reference: src/cpu/deep_r.rs (refill). Host: src/gpu/kernels/deep_r_refill.rs.
//
// Bindings (declared in src/gpu/kernels/deep_r_refill.rs): dims, rewire (uniform); constraints (read); model (rw); stats (rw: active per
// matrix counted by adam.wgsl, STAT_PLACED, STAT_DRAWS: the slots of `gpu::layout::STATS_LAYOUT`).

@compute @workgroup_size(1)
fn main() {
    if (rewire.enabled == 0u) {
        return;
    }
    // Active connections per matrix (`active` is reserved in WGSL).
    var live = vec3<u32>(atomicLoad(&stats[STAT_ACTIVE]), atomicLoad(&stats[STAT_ACTIVE + 1u]), atomicLoad(&stats[STAT_ACTIVE + 2u]));
    var total = live.x + live.y + live.z;
    var placed = atomicLoad(&stats[STAT_PLACED]);
    var draws = atomicLoad(&stats[STAT_DRAWS]);
    let key = vec2<u32>(rewire.seed_lo, rewire.seed_hi);
    for (var attempt = 0u; attempt < rewire.max_attempts; attempt++) {
        if (total >= rewire.budget) {
            break;
        }
        let r = philox4x32_10(vec4<u32>(rewire.iteration, STREAM_REFILL, draws, 0u), key);
        draws += 1u;
        var k = 2u;
        if (r.x < rewire.choice.x) {
            k = 0u;
        } else if (r.x < rewire.choice.y) {
            k = 1u;
        }
        if (live[k] >= rewire.capacity[k]) {
            continue;
        }
        let e = rewire.offset[k] + below(r.y, rewire.size[k]);
        if (e >= dims.n_params) {
            continue; // cannot happen with a consistent uniform; never write out of range
        }
        let c = constraints[e];
        if ((c != CONSTRAINT_REWIRED_POSITIVE && c != CONSTRAINT_REWIRED_NEGATIVE) || model[e] != 0.0) {
            continue;
        }
        model[e] = select(-REFILL_THETA, REFILL_THETA, c == CONSTRAINT_REWIRED_POSITIVE);
        live[k] += 1u;
        total += 1u;
        placed += 1u;
    }
    atomicStore(&stats[STAT_ACTIVE], live.x);
    atomicStore(&stats[STAT_ACTIVE + 1u], live.y);
    atomicStore(&stats[STAT_ACTIVE + 2u], live.z);
    atomicStore(&stats[STAT_PLACED], placed);
    atomicStore(&stats[STAT_DRAWS], draws);
}
