// sparse_rows.wgsl: lists, per row of W_in and of W_rec, the columns j with a non-zero
// weight, packed with their delay as j | D[row, j] << 16, into the delay buffer (W_in rows at
// off_in_rows with counts at off_in_row_len, W_rec rows at off_rows with counts at
// off_row_len). The backward sweep walks these lists: the dense B6 sum always (exact: a zero
// weight adds nothing; under DEEP R at connectivity p it visits p of the row), the weight
// gradients with DEEP R's `dense_gradients: false`. Rebuilt before every backward sweep,
// after the weights changed.
// Reference: src/cpu/sparse_rows.rs. Host: src/gpu/kernels/sparse_rows.rs.
//
// One invocation per row: r < n_in is W_in row r, then W_rec row r - n_in.
// Bindings (declared in src/gpu/kernels/sparse_rows.rs): dims (uniform); model (read); delays (rw).

@compute @workgroup_size(WG_ELEMENTWISE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r = gid.x;
    let n = dims.n_rec;
    if (r >= dims.n_in + n) {
        return;
    }
    // W_in rows start at off_w_in and delay index 0; W_rec rows at off_w_rec and
    // off_delay_rec.
    var weights = dims.off_w_in + r * n;
    var delay = r * n;
    var list = dims.off_in_rows + r * n;
    var count_at = dims.off_in_row_len + r;
    if (r >= dims.n_in) {
        let k = r - dims.n_in;
        weights = dims.off_w_rec + k * n;
        delay = dims.off_delay_rec + k * n;
        list = dims.off_rows + k * n;
        count_at = dims.off_row_len + k;
    }
    var count = 0u;
    for (var j = 0u; j < n; j++) {
        if (model[weights + j] != 0.0) {
            delays[list + count] = j | (delays[delay + j] << 16u);
            count += 1u;
        }
    }
    delays[count_at] = count;
}
