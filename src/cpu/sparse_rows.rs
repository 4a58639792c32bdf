//! Reference of `shaders/sparse_rows.wgsl`: per row k of W_rec, the columns j with a
//! non-zero weight in increasing order, packed with their delay as j | D_rec[k,j] << 16, and
//! the count per row. The backward sweep's dense B6 sum walks these lists.

use ndarray::Array2;

/// (lists [n·n] with row k at k·n, the first `counts[k]` entries valid; counts [n]).
pub fn sparse_rows(w_rec: &Array2<f32>, delay_rec: &Array2<u32>) -> (Vec<u32>, Vec<u32>) {
    let n = w_rec.nrows();
    let mut lists = vec![0u32; n * n];
    let mut counts = vec![0u32; n];
    for k in 0..n {
        let mut count = 0;
        for j in 0..n {
            if w_rec[[k, j]] != 0.0 {
                lists[k * n + count] = j as u32 | (delay_rec[[k, j]] << 16);
                count += 1;
            }
        }
        counts[k] = count as u32;
    }
    (lists, counts)
}
