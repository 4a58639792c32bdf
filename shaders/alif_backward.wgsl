// alif_backward.wgsl: the reverse-time BPTT sweep, B1-B7 of docs/model.md section 3b, with the
// pseudo-derivative M6 and the weight-gradient accumulation of W_in and W_rec.
// Reference: src/cpu/alif_backward.rs (alif_backward). Host: src/gpu/kernels/alif_backward.rs.
//
// One workgroup per sequence b; invocation lid owns neurons j = lid + k*WG. One dispatch
// sweeps one time chunk backwards (t = t0+len-1 down to t0); chunks are dispatched in reverse
// order and carry their state in `bstate`.
//
// Per step t, phase 1 (owned j): dp_t, dz_t (B1), du_t (B2), dv_t (B3), dA_t (B4), db_t (B5),
// dI_t (B6) into the ring of dI_{t..t+n_delay-1}. Phase 2: the gradient of every synapse
// whose source fired into I_{t+d}: x_t[i] -> W_in[i,j], z_{t-1}[k] -> W_rec[k,j]
// (event-driven over the set bits of the input and spike masks), and, for the neurons k whose
// pseudo-derivative at t-1 is non-zero, the dense part of B6,
// dz_{t-1}[k] = sum_j W_rec[k,j] dI_{t+D[k,j]}[j], plus B7. Phase 2 reads other neurons'
// rings, so each step has two barriers (storage + workgroup): after phase 1 (rings complete)
// and after phase 2 (before the next phase 1 overwrites a ring slot).
//
// bstate per (b, j): the slots BSTATE_DV.. of `gpu::layout::BSTATE_LAYOUT` (generated
// constants), then from BSTATE_HEAD the dI ring.
//
// Bindings (declared in src/gpu/kernels/alif_backward.rs): dims, chunk (uniform); model (read); delays (read); x = this chunk's input (read);
// records = this chunk's (v_{t-1}, b_t) (read); bits (read); readout (read: rates, dy);
// bstate (rw); partials [B, P] (rw: this sequence's W_in, W_rec gradients).

var<workgroup> inmask: array<atomic<u32>, 3u * MAX_IN_WORDS>;
// Spike words of z_{t-1} for step t, double-buffered by t % 2.
var<workgroup> zwords: array<u32, 2u * MAX_REC_WORDS>;

// The index of the q-th (from 0) neuron marked active at step t in sequence b, or n_rec if
// fewer than q + 1 are.
fn nth_active(t: u32, b: u32, q: u32) -> u32 {
    var remaining = q;
    for (var w = 0u; w < dims.rec_words; w++) {
        var m = bits[active_word(t, b, w)];
        let count = countOneBits(m);
        if (remaining < count) {
            for (var r = 0u; r < remaining; r++) {
                m &= m - 1u;
            }
            return w * 32u + firstTrailingBit(m);
        }
        remaining -= count;
    }
    return dims.n_rec;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let b = wg.x;
    let n = dims.n_rec;
    let n_out = dims.n_out;
    let nd = dims.n_delay;
    let bs = dims.bstate_stride;
    let t_last = chunk.t0 + chunk.len - 1u;
    let spike_value = 1.0 / dims.dt;
    let part = b * dims.n_params;
    // M9: dL_reg/dz_t[b, j] = 2c (rate_j - f0) / (B T).
    let reg_scale = 2.0 * dims.reg_coeff / f32(dims.batch * dims.steps);

    if (t_last == dims.steps) {
        for (var j = lid; j < n; j += WG) {
            let base = (b * n + j) * bs;
            for (var q = 0u; q < bs; q++) {
                bstate[base + q] = 0.0;
            }
            bstate[base + BSTATE_A] = 1.0; // A_{T+1}: any non-zero value, du_{T+1} = 0.
            for (var i = 0u; i < dims.n_in; i++) {
                partials[part + dims.off_w_in + i * n + j] = 0.0;
            }
            for (var k = 0u; k < n; k++) {
                partials[part + dims.off_w_rec + k * n + j] = 0.0;
            }
        }
    }
    for (var w = lid; w < dims.in_words; w += WG) {
        for (var q = 0u; q < 3u; q++) {
            atomicStore(&inmask[q * MAX_IN_WORDS + w], 0u);
        }
    }
    workgroupBarrier();
    mark_inputs((t_last % 3u) * MAX_IN_WORDS, chunk.len - 1u, b, lid);
    for (var w = lid; w < dims.rec_words; w += WG) {
        zwords[(t_last % 2u) * MAX_REC_WORDS + w] = bits[spike_word(t_last - 1u, b, w)];
    }
    storageBarrier();
    workgroupBarrier();

    for (var s1 = chunk.len; s1 > 0u; s1--) {
        let s = s1 - 1u;
        let t = chunk.t0 + s;
        let in_cur = (t % 3u) * MAX_IN_WORDS;
        let z_cur = (t % 2u) * MAX_REC_WORDS;
        let t_slot = t % nd;
        let x_base = (s * dims.batch + b) * dims.n_in;

        // Phase 1.
        for (var j = lid; j < n; j += WG) {
            let base = (b * n + j) * bs;
            let ring = base + BSTATE_HEAD;
            let alpha = model[dims.off_neurons + NEURON_ALPHA * n + j];
            let rho = model[dims.off_neurons + NEURON_RHO * n + j];
            let beta = model[dims.off_neurons + NEURON_BETA * n + j];
            let thr = model[dims.off_neurons + NEURON_THR * n + j];
            let rec = records[(s * dims.batch + b) * n + j];
            let v_prev = rec.x;
            let a_t = thr + beta * rec.y;
            let u = (v_prev - a_t) / a_t;
            // The pseudo-derivative is non-zero only where the forward pass marked the neuron
            // active (|u_t| < 1 and not refractory, M5/M6); elsewhere du_t = 0.
            let has_gradient = bit_of(bits[active_word(t, b, j / 32u)], j);
            var z_prev = 0.0;
            if (bit_of(zwords[z_cur + j / 32u], j)) {
                z_prev = spike_value;
            }
            // Readout trace: dp_t = dy_t W_out^T + kappa dp_{t+1}.
            var dp = dims.kappa * bstate[base + BSTATE_DP];
            if (dims.window > 0u) {
                if (t > dims.steps - dims.window) {
                    for (var o = 0u; o < n_out; o++) {
                        dp += readout[dims.off_dy + b * n_out + o] * model[dims.off_w_out + j * n_out + o];
                    }
                }
            } else {
                let dy_base = dims.off_dy + ((t - 1u) * dims.batch + b) * n_out;
                for (var o = 0u; o < n_out; o++) {
                    dp += readout[dy_base + o] * model[dims.off_w_out + j * n_out + o];
                }
            }
            // B1.
            let dz = (1.0 - dims.kappa) * dp
                + reg_scale * (readout[dims.off_rates + j] - dims.reg_rate)
                + bstate[base + BSTATE_DZ_LATER];
            // B2, with the pseudo-derivative M6.
            var du = 0.0;
            if (has_gradient) {
                du = dz * dims.dampening * max(0.0, 1.0 - abs(u)) / dims.dt;
            }
            // B3.
            let dv = alpha * bstate[base + BSTATE_DV] + bstate[base + BSTATE_DU] / bstate[base + BSTATE_A];
            // B4.
            let da = -du * v_prev / (a_t * a_t) - z_prev * dims.dt * dv;
            // B5.
            let db = rho * bstate[base + BSTATE_DB] + beta * da;
            // B6: dI_t joins the ring of dI_{t..t+n_delay-1}.
            let di = (1.0 - alpha) * dv;
            bstate[ring + t_slot] = di;
            bstate[base + BSTATE_DV] = dv;
            bstate[base + BSTATE_DU] = du;
            bstate[base + BSTATE_A] = a_t;
            bstate[base + BSTATE_DB] = db;
            bstate[base + BSTATE_DP] = dp;
            // B7, completed with the B6 sum in phase 2.
            bstate[base + BSTATE_B7] = -a_t * dims.dt * dv + (1.0 - rho) * db;

        }
        storageBarrier();
        workgroupBarrier();

        // Weight gradients, event-driven, after the barrier so that every ring is complete:
        // x_t[i] reached I_{t + D_in[i,j]}; z_{t-1}[k] reached I_{t + D_rec[k,j]}. Every
        // invocation walks the same events. Dense (R2 of the reference): each invocation
        // updates its own neurons j. Sparse (DEEP R, dense_gradients: false): the event's
        // row list (sparse_rows.wgsl) is shared out over the invocations; different events
        // are different rows, so no two invocations write the same entry.
        for (var w = 0u; w < dims.in_words; w++) {
            var m = atomicLoad(&inmask[in_cur + w]);
            while (m != 0u) {
                let i = w * 32u + firstTrailingBit(m);
                m &= m - 1u;
                let xv = x[x_base + i];
                if (dims.sparse_gradients == 1u) {
                    let len = delays[dims.off_in_row_len + i];
                    for (var q = lid; q < len; q += WG) {
                        let entry = delays[dims.off_in_rows + i * n + q];
                        let j = entry & 0xFFFFu;
                        partials[part + dims.off_w_in + i * n + j] += xv * bstate[(b * n + j) * bs + BSTATE_HEAD + ring_slot(t_slot, entry >> 16u, nd)];
                    }
                } else {
                    for (var j = lid; j < n; j += WG) {
                        let d = delays[i * n + j];
                        partials[part + dims.off_w_in + i * n + j] += xv * bstate[(b * n + j) * bs + BSTATE_HEAD + ring_slot(t_slot, d, nd)];
                    }
                }
            }
        }
        for (var w = 0u; w < dims.rec_words; w++) {
            var m = zwords[z_cur + w];
            while (m != 0u) {
                let k = w * 32u + firstTrailingBit(m);
                m &= m - 1u;
                if (dims.sparse_gradients == 1u) {
                    let len = delays[dims.off_row_len + k];
                    for (var q = lid; q < len; q += WG) {
                        let entry = delays[dims.off_rows + k * n + q];
                        let j = entry & 0xFFFFu;
                        partials[part + dims.off_w_rec + k * n + j] += spike_value * bstate[(b * n + j) * bs + BSTATE_HEAD + ring_slot(t_slot, entry >> 16u, nd)];
                    }
                } else {
                    for (var j = lid; j < n; j += WG) {
                        let d = delays[dims.off_delay_rec + k * n + j];
                        partials[part + dims.off_w_rec + k * n + j] += spike_value * bstate[(b * n + j) * bs + BSTATE_HEAD + ring_slot(t_slot, d, nd)];
                    }
                }
            }
        }

        // Phase 2: dz_{t-1}[k] = B7 part + sum_j W_rec[k,j] dI_{t+D[k,j]}[j] (B6), only for
        // neurons whose pseudo-derivative at t-1 is non-zero: for the others dz_{t-1} enters
        // nothing (B2 multiplies it by zero), so their dense rows are skipped and their
        // dz_later is never read. The q-th active neuron (in index order) goes to invocation
        // q % WG, so SIMD lanes run active rows side by side instead of idling beside
        // inactive ones (~3x on lavapipe at 6 % active). Each invocation finds its rows by
        // counting set bits in the forward pass's mask: no atomics, no shared list (a list
        // built with workgroup atomics was as fast but made llvmpipe's GL path spend minutes
        // compiling the kernel: benches/RESULTS.md).
        for (var q = lid; q < n; q += WG) {
            let k = nth_active(t - 1u, b, q);
            if (k >= n) {
                break;
            }
            let kbase = (b * n + k) * bs;
            var acc = bstate[kbase + BSTATE_B7];
            let row = k * n;
            // Only the row's non-zero weights (sparse_rows.wgsl): all of a dense row, p of it
            // under DEEP R.
            let len = delays[dims.off_row_len + k];
            for (var q = 0u; q < len; q++) {
                let entry = delays[dims.off_rows + row + q];
                let j = entry & 0xFFFFu;
                acc += model[dims.off_w_rec + row + j] * bstate[(b * n + j) * bs + BSTATE_HEAD + ring_slot(t_slot, entry >> 16u, nd)];
            }
            bstate[kbase + BSTATE_DZ_LATER] = acc;
        }
        for (var w = lid; w < dims.in_words; w += WG) {
            atomicStore(&inmask[((t + 1u) % 3u) * MAX_IN_WORDS + w], 0u);
        }
        if (s > 0u) {
            mark_inputs(((t - 1u) % 3u) * MAX_IN_WORDS, s - 1u, b, lid);
            for (var w = lid; w < dims.rec_words; w += WG) {
                zwords[((t - 1u) % 2u) * MAX_REC_WORDS + w] = bits[spike_word(t - 2u, b, w)];
            }
        }
        storageBarrier();
        workgroupBarrier();
    }
}
