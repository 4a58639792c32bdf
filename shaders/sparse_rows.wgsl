// sparse_rows.wgsl: lists, per row k of W_rec, the columns j with a non-zero weight, packed
// with their delay as j | D_rec[k,j] << 16, into the delay buffer (rows at off_rows, counts at
// off_row_len). The dense part of B6 in alif_backward.wgsl walks these lists instead of whole
// rows: exact (a zero weight adds nothing), and under DEEP R at connectivity p it visits p of
// the row. Rebuilt before every backward sweep, after the weights changed.
// Reference: src/cpu/sparse_rows.rs. Host: src/gpu/engine.rs.
//
// One invocation per row k. Bindings: dims (uniform); model (read); delays (rw).

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> model: array<f32>;
@group(0) @binding(2) var<storage, read_write> delays: array<u32>;

@compute @workgroup_size(WG_ELEMENTWISE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let k = gid.x;
    let n = dims.n_rec;
    if (k >= n) {
        return;
    }
    let row = k * n;
    var count = 0u;
    for (var j = 0u; j < n; j++) {
        if (model[dims.off_w_rec + row + j] != 0.0) {
            delays[dims.off_rows + row + count] = j | (delays[dims.off_delay_rec + row + j] << 16u);
            count += 1u;
        }
    }
    delays[dims.off_row_len + k] = count;
}
