// alif_forward.wgsl: the batched forward time loop of the LSNN, M1-M5.
// Reference: src/cpu/alif_forward.rs (alif_forward). Host: src/gpu/kernels/alif_forward.rs.
//
// One workgroup per sequence b (workgroup_id.x); invocation lid owns neurons j = lid + k*WG.
// One dispatch simulates one time chunk [t0, t0+len); all state lives in storage buffers
// between chunks, so chunks of any length give the same numbers.
//
// Event-driven input (M1): the non-zero inputs of step t and the spikes of step t-1 are kept
// as bitmasks in workgroup memory; for each set channel, each invocation adds that row of
// W_in / W_rec into the delay rings of its own neurons, at slot (t + d) % n_delay.
//
// Barriers: one workgroupBarrier per step. Spike masks are triple-buffered by t % 3 (read
// z_{t-1}, write z_t, clear the one for t+1) and so are input masks (read x_t, build x_{t+1},
// clear the one for t+2), so that no mask is cleared or built while another invocation
// reads it.
//
// Bindings (declared in src/gpu/kernels/alif_forward.rs): dims, chunk, step (uniform); model = trained params | neuron constants (read);
// delays (read); x = this chunk's input [len, B, n_in] (read); state [B, N, state_stride]
// (rw: v, b, refractory countdown, spike count, delay ring); records [len, B, N] (rw:
// (v_{t-1}, b_t) per step for BPTT); bits [T+1, B, 2, rec_words] (rw: spike bitmask of z_t
// and mask of non-zero pseudo-derivatives, see common.wgsl; row 0 = z_0 = 0).

var<workgroup> zmask: array<atomic<u32>, 3u * MAX_REC_WORDS>;
var<workgroup> inmask: array<atomic<u32>, 3u * MAX_IN_WORDS>;
// Neurons with a non-zero pseudo-derivative at step t, buffered like zmask.
var<workgroup> amask: array<atomic<u32>, 3u * MAX_REC_WORDS>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let b = wg.x;
    let n = dims.n_rec;
    let nd = dims.n_delay;
    let stride = dims.state_stride;
    let t0 = chunk.t0;
    let spike_value = 1.0 / dims.dt;

    // Prologue: fresh state at the first chunk, or (step.resume) the state the previous
    // pass left, whose last spikes z_T become row 0; masks for z_{t0-1} and x_{t0}. Each
    // invocation writes row 0 for the words w it reads below, so no barrier is needed.
    if (t0 == 1u && step.resume == 0u) {
        for (var j = lid; j < n; j += WG) {
            let base = (b * n + j) * stride;
            for (var q = 0u; q < stride; q++) {
                state[base + q] = 0.0;
            }
        }
        for (var w = lid; w < dims.rec_words; w += WG) {
            bits[spike_word(0u, b, w)] = 0u;
            bits[active_word(0u, b, w)] = 0u;
        }
    } else if (t0 == 1u) {
        for (var w = lid; w < dims.rec_words; w += WG) {
            bits[spike_word(0u, b, w)] = bits[spike_word(dims.steps, b, w)];
            bits[active_word(0u, b, w)] = bits[active_word(dims.steps, b, w)];
        }
    }
    for (var w = lid; w < dims.rec_words; w += WG) {
        let prev = bits[spike_word(t0 - 1u, b, w)];
        atomicStore(&zmask[((t0 + 2u) % 3u) * MAX_REC_WORDS + w], prev);
        atomicStore(&zmask[(t0 % 3u) * MAX_REC_WORDS + w], 0u);
        atomicStore(&zmask[((t0 + 1u) % 3u) * MAX_REC_WORDS + w], 0u);
        atomicStore(&amask[(t0 % 3u) * MAX_REC_WORDS + w], 0u);
        atomicStore(&amask[((t0 + 1u) % 3u) * MAX_REC_WORDS + w], 0u);
    }
    for (var w = lid; w < dims.in_words; w += WG) {
        for (var q = 0u; q < 3u; q++) {
            atomicStore(&inmask[q * MAX_IN_WORDS + w], 0u);
        }
    }
    workgroupBarrier();
    mark_inputs((t0 % 3u) * MAX_IN_WORDS, 0u, b, lid);
    workgroupBarrier();

    for (var s = 0u; s < chunk.len; s++) {
        let t = t0 + s;
        let cur = (t % 3u) * MAX_REC_WORDS;
        let prev = ((t + 2u) % 3u) * MAX_REC_WORDS;
        let next = ((t + 1u) % 3u) * MAX_REC_WORDS;
        let in_cur = (t % 3u) * MAX_IN_WORDS;
        let t_slot = t % nd;
        let x_base = (s * dims.batch + b) * dims.n_in;

        // M1, inputs: x_t reaches I_{t+d}. Every invocation walks the same event list (uniform
        // across lanes) and adds each event's row of W_in to the rings of its own neurons.
        for (var w = 0u; w < dims.in_words; w++) {
            var m = atomicLoad(&inmask[in_cur + w]);
            while (m != 0u) {
                let i = w * 32u + firstTrailingBit(m);
                m &= m - 1u;
                let xv = x[x_base + i];
                for (var j = lid; j < n; j += WG) {
                    // A zero weight (inactive under DEEP R) adds nothing: skip the delay
                    // lookup and the ring's read-modify-write.
                    let w_ij = model[dims.off_w_in + i * n + j];
                    if (w_ij != 0.0) {
                        let d = delays[i * n + j];
                        state[(b * n + j) * stride + STATE_HEAD + ring_slot(t_slot, d, nd)] += xv * w_ij;
                    }
                }
            }
        }
        // M1, recurrent: z_{t-1} reaches I_{(t-1)+1+d} = I_{t+d}.
        for (var w = 0u; w < dims.rec_words; w++) {
            var m = atomicLoad(&zmask[prev + w]);
            while (m != 0u) {
                let k = w * 32u + firstTrailingBit(m);
                m &= m - 1u;
                for (var j = lid; j < n; j += WG) {
                    let w_kj = model[dims.off_w_rec + k * n + j];
                    if (w_kj != 0.0) {
                        let d = delays[dims.off_delay_rec + k * n + j];
                        state[(b * n + j) * stride + STATE_HEAD + ring_slot(t_slot, d, nd)] += spike_value * w_kj;
                    }
                }
            }
        }
        for (var j = lid; j < n; j += WG) {
            let base = (b * n + j) * stride;
            let ring = base + STATE_HEAD;
            var current = state[ring + t_slot];
            state[ring + t_slot] = 0.0;
            if (dims.noise_std > 0.0) {
                current += dims.noise_std * noise_normal(step.noise_seed, t, b, j);
            }

            let alpha = model[dims.off_neurons + NEURON_ALPHA * n + j];
            let rho = model[dims.off_neurons + NEURON_RHO * n + j];
            let beta = model[dims.off_neurons + NEURON_BETA * n + j];
            let thr = model[dims.off_neurons + NEURON_THR * n + j];
            let v_prev = state[base + STATE_V];
            let b_prev = state[base + STATE_B];
            let refr = state[base + STATE_REFRACTORY];
            var z_prev = 0.0;
            if (bit_of(atomicLoad(&zmask[prev + j / 32u]), j)) {
                z_prev = spike_value;
            }
            // M2, M3.
            let b_t = rho * b_prev + (1.0 - rho) * z_prev;
            let a_t = thr + beta * b_t;
            // M5: spike from the previous voltage, unless refractory.
            let u = (v_prev - a_t) / a_t;
            let spikes = refr <= 0.0 && u > 0.0;
            // M6 support: BPTT needs this neuron's dz_t only if psi(u_t) > 0.
            if (refr <= 0.0 && abs(u) < 1.0) {
                atomicOr(&amask[cur + j / 32u], 1u << (j & 31u));
            }
            // M4: reset by the current adaptive threshold for the previous step's spike.
            let v_t = alpha * v_prev + (1.0 - alpha) * current - a_t * z_prev * dims.dt;

            records[(s * dims.batch + b) * n + j] = vec2<f32>(v_prev, b_t);
            state[base + STATE_V] = v_t;
            state[base + STATE_B] = b_t;
            if (spikes) {
                state[base + STATE_REFRACTORY] = f32(dims.n_ref);
                state[base + STATE_COUNT] += 1.0;
                atomicOr(&zmask[cur + j / 32u], 1u << (j & 31u));
            } else {
                state[base + STATE_REFRACTORY] = max(refr - 1.0, 0.0);
            }
        }
        // Prepare step t+1: its input mask, and empty masks for the step after.
        if (s + 1u < chunk.len) {
            mark_inputs(((t + 1u) % 3u) * MAX_IN_WORDS, s + 1u, b, lid);
        }
        for (var w = lid; w < dims.in_words; w += WG) {
            atomicStore(&inmask[((t + 2u) % 3u) * MAX_IN_WORDS + w], 0u);
        }
        for (var w = lid; w < dims.rec_words; w += WG) {
            atomicStore(&zmask[next + w], 0u);
            atomicStore(&amask[next + w], 0u);
        }
        workgroupBarrier();
        for (var w = lid; w < dims.rec_words; w += WG) {
            bits[spike_word(t, b, w)] = atomicLoad(&zmask[cur + w]);
            bits[active_word(t, b, w)] = atomicLoad(&amask[cur + w]);
        }
    }
}
