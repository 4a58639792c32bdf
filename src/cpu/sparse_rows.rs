//! Reference of `shaders/sparse_rows.wgsl`: per row of a weight matrix (W_in or W_rec), the
//! columns j with a non-zero weight in increasing order, packed with their delay as
//! j | D[row, j] << 16, and the count per row. The backward sweep walks these lists.

use ndarray::Array2;

/// (lists [rows·cols] with row k at k·cols, the first `counts[k]` entries valid; counts
/// [rows]).
pub fn sparse_rows(w: &Array2<f32>, delay: &Array2<u32>) -> (Vec<u32>, Vec<u32>) {
    let (rows, n) = w.dim();
    let mut lists = vec![0u32; rows * n];
    let mut counts = vec![0u32; rows];
    for k in 0..rows {
        let mut count = 0;
        for j in 0..n {
            if w[[k, j]] != 0.0 {
                lists[k * n + count] = j as u32 | (delay[[k, j]] << 16);
                count += 1;
            }
        }
        counts[k] = count as u32;
    }
    (lists, counts)
}
