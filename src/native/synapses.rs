//! A weight matrix as lists of synapses per presynaptic row (compressed rows): what the
//! event-driven passes walk when a neuron spikes (forward, docs/model.md M1) or when BPTT
//! gathers the currents' errors back through the delays (B6).

use ndarray::ArrayView2;

/// The kept synapses of one matrix [rows, cols], row by row, in increasing column order.
#[derive(Clone, Debug, Default)]
pub struct Synapses {
    /// Row r's synapses are `row_start[r]..row_start[r + 1]`.
    pub row_start: Vec<u32>,
    /// Postsynaptic neuron of each synapse.
    pub post: Vec<u32>,
    /// Delay of each synapse in steps (M1).
    pub delay: Vec<u32>,
    /// Effective weight of each synapse.
    pub weight: Vec<f32>,
    /// delay·cols + post: where the synapse lands in a buffer of per-step rows of `cols`
    /// entries, relative to the row of its zero-delay step.
    pub reach: Vec<u32>,
    /// Rows that hold every column in order, all with one delay: their synapses land on one
    /// contiguous run of a row buffer, so the passes use plain slice loops (vectorised)
    /// instead of indexed ones. Every row of a dense matrix without delays is one.
    pub contiguous: Vec<bool>,
}

impl Synapses {
    /// The entries (r, c) of `w` for which `keep(r, c, w[r, c])` holds, with their delays.
    pub fn build(
        w: ArrayView2<f32>,
        delay: ArrayView2<u32>,
        keep: impl Fn(usize, usize, f32) -> bool,
    ) -> Synapses {
        let (rows, cols) = w.dim();
        let mut s = Synapses {
            row_start: Vec::with_capacity(rows + 1),
            ..Synapses::default()
        };
        s.row_start.push(0);
        for r in 0..rows {
            for c in 0..cols {
                let wv = w[[r, c]];
                if keep(r, c, wv) {
                    s.post.push(c as u32);
                    s.delay.push(delay[[r, c]]);
                    s.weight.push(wv);
                    s.reach.push(delay[[r, c]] * cols as u32 + c as u32);
                }
            }
            s.row_start.push(s.post.len() as u32);
            let row = s.row(r);
            let first_delay = s.delay.get(row.start).copied();
            s.contiguous.push(
                row.len() == cols
                    && s.post[row.clone()]
                        .iter()
                        .enumerate()
                        .all(|(c, &p)| p as usize == c)
                    && s.delay[row].iter().all(|&d| Some(d) == first_delay),
            );
        }
        s
    }

    /// Where row `r`'s synapses land when it is [`Synapses::contiguous`]: the offset of the
    /// run in a row buffer, and the weights in column order.
    #[inline]
    pub fn contiguous_run(&self, r: usize) -> Option<(usize, &[f32])> {
        if !self.contiguous[r] {
            return None;
        }
        let row = self.row(r);
        Some((self.reach[row.start] as usize, &self.weight[row]))
    }

    /// The index range of row `r`'s synapses.
    #[inline]
    pub fn row(&self, r: usize) -> std::ops::Range<usize> {
        self.row_start[r] as usize..self.row_start[r + 1] as usize
    }

    /// Number of synapses kept.
    pub fn len(&self) -> usize {
        self.post.len()
    }

    pub fn is_empty(&self) -> bool {
        self.post.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::Synapses;
    use ndarray::array;

    #[test]
    fn keeps_the_chosen_entries_row_by_row_in_column_order() {
        let w = array![[0.0f32, 1.5, -2.0], [3.0, 0.0, 0.0]];
        let d = array![[1u32, 2, 3], [4, 5, 6]];
        let s = Synapses::build(w.view(), d.view(), |_, _, w| w != 0.0);
        assert_eq!(s.row_start, vec![0, 2, 3]);
        assert_eq!(s.post, vec![1, 2, 0]);
        assert_eq!(s.delay, vec![2, 3, 4]);
        assert_eq!(s.weight, vec![1.5, -2.0, 3.0]);
        assert_eq!(s.reach, vec![2 * 3 + 1, 3 * 3 + 2, 4 * 3]);
        assert_eq!(s.contiguous, vec![false, false]);
        let all = Synapses::build(w.view(), d.view(), |r, c, _| r != c);
        assert_eq!(all.len(), 4);
        assert_eq!(all.post, vec![1, 2, 0, 2]);
        let same_delay = array![[0u32, 0, 0], [1, 1, 2]];
        let dense = Synapses::build(w.view(), same_delay.view(), |_, _, _| true);
        assert_eq!(dense.contiguous, vec![true, false]);
        assert_eq!(dense.contiguous_run(0), Some((0, &[0.0f32, 1.5, -2.0][..])));
        assert_eq!(dense.contiguous_run(1), None);
    }
}
