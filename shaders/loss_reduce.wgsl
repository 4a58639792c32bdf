// loss_reduce.wgsl: batch totals of the loss and the firing rates (M9), in a fixed order so
// that results are reproducible bit for bit. Reference: src/cpu/readout_loss.rs
// (readout_loss: rates, loss_reg, loss). Host: src/gpu/kernels/loss_reduce.rs.
//
// A single workgroup. Invocations own neurons j for the rates; invocation 0 then sums the
// per-neuron regulariser terms and the per-sequence losses sequentially (B and N are small).
// Barrier: workgroupBarrier between writing the per-neuron terms and summing them.
//
// Readout buffer totals: [0] loss, [1] loss_task, [2] loss_reg, [3] correct, [4] scored.
//
// Bindings (declared in src/gpu/kernels/loss_reduce.rs): dims (uniform); state (read: spike counts); readout (rw).

var<workgroup> reg_terms: array<f32, MAX_NEURONS>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
    let n = dims.n_rec;
    // rate_j = mean of z over batch and time, spikes per ms (z = 1/dt per spike).
    let inv_bt = 1.0 / (f32(dims.batch) * f32(dims.steps));
    for (var j = lid; j < n; j += WG) {
        var count = 0.0;
        for (var b = 0u; b < dims.batch; b++) {
            count += state[(b * n + j) * dims.state_stride + STATE_COUNT];
        }
        let rate = count / dims.dt * inv_bt;
        readout[dims.off_rates + j] = rate;
        let e = rate - dims.reg_rate;
        reg_terms[j] = e * e;
    }
    workgroupBarrier();
    if (lid == 0u) {
        var reg = 0.0;
        for (var j = 0u; j < n; j++) {
            reg += reg_terms[j];
        }
        reg *= dims.reg_coeff;
        var task = 0.0;
        var correct = 0.0;
        var scored = 0.0;
        for (var b = 0u; b < dims.batch; b++) {
            task += readout[dims.off_per_seq + 3u * b];
            correct += readout[dims.off_per_seq + 3u * b + 1u];
            scored += readout[dims.off_per_seq + 3u * b + 2u];
        }
        readout[0] = task + reg;
        readout[1] = task;
        readout[2] = reg;
        readout[3] = correct;
        readout[4] = scored;
    }
}
