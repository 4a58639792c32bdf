// readout_loss.wgsl: readout trace, output and softmax cross-entropy per sequence (M7, M8,
// docs/model.md section 4), the output errors dy that BPTT needs, and this sequence's share of the
// readout gradients. Reference: src/cpu/readout_loss.rs (readout_loss) and the readout part
// of src/cpu/alif_backward.rs. Host: src/gpu/kernels/readout_loss.rs.
//
// One workgroup per sequence b; p_t is recomputed from the spike bitmasks (cheaper than
// storing it). Invocations own neurons j (trace p) and then classes o (output y). One
// dispatch covers one time chunk; p (and the window mean pbar) carry over in `pstate`.
//
// Readout buffer layout (f32): [0..8) totals written by loss_reduce.wgsl; [off_rates..+N)
// rates; [off_per_seq + 3b ..+3) this sequence's (loss share, correct, scored);
// Regression (dims.regression = 1; frames as the framewise readout): labels holds target
// values as f32 bits [T, B, n_out]; the loss share is the sum of squared errors.
//
// [off_dy ..) dy: [B, n_out] for the window readout (dy_t, the same for each of the last K
// steps), [T, B, n_out] for the framewise readout; [off_pred ..) the predicted class (as f32)
// of each decision: [B] (window), [T/k, B] (framewise, every frame, labelled or not);
// [off_out ..) regression only: every frame's outputs [T/k, B, n_out].
//
// Barriers: workgroupBarrier between writing p (or pbar) and reading it for y, and between
// writing the softmax errors and using them for the W_out gradient.
//
// Bindings (declared in src/gpu/kernels/readout_loss.rs): dims, chunk, step (uniform); model (read); bits (read); labels (read, i32: [B] or
// [T, B]); readout (rw); partials [B, P] (rw: this sequence's W_out, b_out gradient);
// pstate [B, N, 2] (rw: p, pbar).

// Window readout: the trace p (then its window mean). Frame readouts: the running sum of p
// over the frame (then its mean); p itself is private to its owner and stays in pstate, so
// one array fits WebGPU's 16 KiB of workgroup memory.
var<workgroup> trace_out: array<f32, MAX_NEURONS>;
var<workgroup> logits: array<f32, MAX_OUT>;
var<workgroup> errors: array<f32, MAX_OUT>;
var<workgroup> scratch: array<f32, 4>;

// Softmax cross-entropy of `logits` against `label`, by invocation 0. Writes the errors
// (softmax - onehot) * scale into `errors`, the predicted class (argmax) into scratch[3],
// and returns (loss, correct).
fn softmax_errors(label: i32, scale: f32) -> vec2<f32> {
    let n_out = dims.n_out;
    var best = 0u;
    var max_l = logits[0];
    for (var o = 1u; o < n_out; o++) {
        if (logits[o] > max_l) {
            max_l = logits[o];
            best = o;
        }
    }
    var sum = 0.0;
    for (var o = 0u; o < n_out; o++) {
        sum += exp(logits[o] - max_l);
    }
    let lse = max_l + log(sum);
    for (var o = 0u; o < n_out; o++) {
        var onehot = 0.0;
        if (i32(o) == label) {
            onehot = 1.0;
        }
        errors[o] = (exp(logits[o] - max_l) / sum - onehot) * scale;
    }
    var correct = 0.0;
    if (i32(best) == label) {
        correct = 1.0;
    }
    scratch[3] = f32(best);
    return vec2<f32>(lse - logits[u32(label)], correct);
}

// logits = trace_out . W_out + b_out (M8), classes shared out over the invocations.
fn compute_logits(lid: u32) {
    let n = dims.n_rec;
    let n_out = dims.n_out;
    for (var o = lid; o < n_out; o += WG) {
        var y = model[dims.off_b_out + o];
        for (var j = 0u; j < n; j++) {
            y += trace_out[j] * model[dims.off_w_out + j * n_out + o];
        }
        logits[o] = y;
    }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let b = wg.x;
    let n = dims.n_rec;
    let n_out = dims.n_out;
    let kappa = dims.kappa;
    let spike_value = 1.0 / dims.dt;
    let part = b * dims.n_params;
    let seq = dims.off_per_seq + 3u * b;
    let t0 = chunk.t0;
    let t_end = t0 + chunk.len - 1u;
    let first = t0 == 1u;
    // A resumed pass (a stream) keeps the trace p of the previous one; its frames and totals
    // start afresh.
    let fresh = first && step.resume == 0u;
    let last = t_end == dims.steps;

    if (dims.window > 0u) {
        // Window readout: logits = mean of y_t over the last K steps = pbar . W_out + b_out.
        let k = dims.window;
        let inv_k = 1.0 / f32(k);
        for (var j = lid; j < n; j += WG) {
            var p = 0.0;
            var pbar = 0.0;
            if (!first) {
                p = pstate[2u * (b * n + j)];
                pbar = pstate[2u * (b * n + j) + 1u];
            }
            for (var t = t0; t <= t_end; t++) {
                var z = 0.0;
                if (bit_of(bits[spike_word(t, b, j / 32u)], j)) {
                    z = spike_value;
                }
                p = kappa * p + (1.0 - kappa) * z;
                if (t > dims.steps - k) {
                    pbar += p * inv_k;
                }
            }
            pstate[2u * (b * n + j)] = p;
            pstate[2u * (b * n + j) + 1u] = pbar;
            trace_out[j] = pbar;
        }
        if (!last) {
            return;
        }
        workgroupBarrier();
        compute_logits(lid);
        workgroupBarrier();
        if (lid == 0u) {
            let label = labels[b];
            // Errors of the mean logits, scaled by 1/B (mean over the batch).
            let r = softmax_errors(label, 1.0 / f32(dims.batch));
            readout[seq] = r.x / f32(dims.batch);
            readout[seq + 1u] = r.y;
            readout[seq + 2u] = 1.0;
            readout[dims.off_pred + b] = scratch[3];
            for (var o = 0u; o < n_out; o++) {
                // dy_t for each of the last K steps.
                readout[dims.off_dy + b * n_out + o] = errors[o] * inv_k;
                partials[part + dims.off_b_out + o] = errors[o];
            }
        }
        workgroupBarrier();
        // dW_out = sum over the window of p_t dy_t = pbar (softmax - onehot) / B.
        for (var j = lid; j < n; j += WG) {
            for (var o = 0u; o < n_out; o++) {
                partials[part + dims.off_w_out + j * n_out + o] = trace_out[j] * errors[o];
            }
        }
        return;
    }

    // Framewise readout: frames of k = dims.steps_per_frame steps; a frame's logits are the
    // mean of y_t over its steps = (mean p) . W_out + b_out, scored by softmax cross-entropy
    // against the label of its last step, mean over the n_scored labelled frames of the
    // batch. Each step of a frame gets dy_t = errors / k. Per-sequence sums and the frame's
    // running sum of p carry over chunks (readout buffer, pstate); a chunk may end inside a
    // frame.
    let k = dims.steps_per_frame;
    let inv_k = 1.0 / f32(k);
    let scale = 1.0 / f32(max(step.n_scored, 1u));
    if (first) {
        for (var j = lid; j < n; j += WG) {
            for (var o = 0u; o < n_out; o++) {
                partials[part + dims.off_w_out + j * n_out + o] = 0.0;
            }
        }
        for (var o = lid; o < n_out; o += WG) {
            partials[part + dims.off_b_out + o] = 0.0;
        }
    }
    if (lid == 0u) {
        if (first) {
            scratch[0] = 0.0;
            scratch[1] = 0.0;
            scratch[2] = 0.0;
        } else {
            scratch[0] = readout[seq];
            scratch[1] = readout[seq + 1u];
            scratch[2] = readout[seq + 2u];
        }
    }
    for (var j = lid; j < n; j += WG) {
        if (first) {
            if (fresh) {
                pstate[2u * (b * n + j)] = 0.0;
            }
            trace_out[j] = 0.0;
        } else {
            trace_out[j] = pstate[2u * (b * n + j) + 1u];
        }
    }
    for (var t = t0; t <= t_end; t++) {
        for (var j = lid; j < n; j += WG) {
            var z = 0.0;
            if (bit_of(bits[spike_word(t, b, j / 32u)], j)) {
                z = spike_value;
            }
            let p = kappa * pstate[2u * (b * n + j)] + (1.0 - kappa) * z;
            pstate[2u * (b * n + j)] = p;
            trace_out[j] += p;
        }
        // t counts from 1: a frame ends at every multiple of k (uniform across the group).
        if (t % k != 0u) {
            continue;
        }
        let frame = t / k - 1u;
        var label = 0;
        if (dims.regression == 0u) {
            label = labels[(t - 1u) * dims.batch + b];
        }
        for (var j = lid; j < n; j += WG) {
            trace_out[j] *= inv_k;
        }
        workgroupBarrier();
        compute_logits(lid);
        workgroupBarrier();
        // Unlabelled frames (label < 0) get zero errors; the branch is taken by invocation 0
        // alone, so the barriers stay in uniform control flow.
        if (lid == 0u) {
            if (dims.regression == 1u) {
                // Squared error of each output against the target of the frame's last step
                // (f32 bits; the pattern of -1 marks a step not scored): dL/dy = 2 e scale,
                // scale = 1 / (scored frames x outputs) from the host.
                let row = ((t - 1u) * dims.batch + b) * n_out;
                let scored = labels[row] != -1;
                for (var o = 0u; o < n_out; o++) {
                    readout[dims.off_out + (frame * dims.batch + b) * n_out + o] = logits[o];
                }
                var sq = 0.0;
                for (var o = 0u; o < n_out; o++) {
                    var e = 0.0;
                    if (scored) {
                        e = logits[o] - bitcast<f32>(labels[row + o]);
                    }
                    sq += e * e;
                    errors[o] = 2.0 * e * scale;
                }
                if (scored) {
                    scratch[0] += sq;
                    scratch[2] += 1.0;
                }
                // The "prediction" of a regression frame: its largest output (as the CPU's).
                var best = 0u;
                for (var o = 1u; o < n_out; o++) {
                    if (logits[o] > logits[best]) {
                        best = o;
                    }
                }
                scratch[3] = f32(best);
            } else if (label >= 0) {
                let r = softmax_errors(label, scale);
                scratch[0] += r.x;
                scratch[1] += r.y;
                scratch[2] += 1.0;
            } else {
                softmax_errors(0, 0.0);
            }
            readout[dims.off_pred + frame * dims.batch + b] = scratch[3];
            for (var s = t + 1u - k; s <= t; s++) {
                for (var o = 0u; o < n_out; o++) {
                    readout[dims.off_dy + ((s - 1u) * dims.batch + b) * n_out + o] = errors[o] * inv_k;
                }
            }
            for (var o = 0u; o < n_out; o++) {
                partials[part + dims.off_b_out + o] += errors[o];
            }
        }
        workgroupBarrier();
        // dW_out = sum over the frame's steps of p_t dy_t = (mean p) errors.
        for (var j = lid; j < n; j += WG) {
            for (var o = 0u; o < n_out; o++) {
                partials[part + dims.off_w_out + j * n_out + o] += trace_out[j] * errors[o];
            }
            trace_out[j] = 0.0;
        }
        // trace_out and errors are rewritten next frame only after the barrier above.
        workgroupBarrier();
    }
    for (var j = lid; j < n; j += WG) {
        pstate[2u * (b * n + j) + 1u] = trace_out[j];
    }
    if (lid == 0u) {
        if (last) {
            readout[seq] = scratch[0] * scale;
        } else {
            readout[seq] = scratch[0];
        }
        readout[seq + 1u] = scratch[1];
        readout[seq + 2u] = scratch[2];
    }
}
