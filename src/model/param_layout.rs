//! The packed layout of the trained parameters and the per-neuron constants: one flat vector
//! w_in | w_rec | w_out | b_out (row-major), followed on the GPU by the constants
//! α | ρ | β | thr (M0). The model (`Params::to_flat`), the initialisation, both engines, the
//! checkpoints and the figures all index it through this type; the WGSL kernels get its
//! offsets in `gpu::layout::Dims` and its neuron blocks as generated constants.

use std::ops::Range;

use crate::wgsl::wgsl_consts;

wgsl_consts! {
    /// Blocks of n_rec floats after the P trained scalars in the GPU's model buffer.
    NEURON_CONSTANTS {
        /// α = exp(−dt/τ_m) (M0a)
        NEURON_ALPHA = 0;
        /// ρ = exp(−dt/τ_a) (M0b)
        NEURON_RHO = 1;
        /// β, the adaptation strength (M3)
        NEURON_BETA = 2;
        /// the baseline threshold (M3)
        NEURON_THR = 3;
        /// blocks in all
        NEURON_BLOCKS = 4;
    }
}

/// One trained tensor of the flat parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamBlock {
    pub name: &'static str,
    /// First flat index.
    pub offset: usize,
    pub rows: usize,
    pub cols: usize,
}

impl ParamBlock {
    pub fn len(&self) -> usize {
        self.rows * self.cols
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn range(&self) -> Range<usize> {
        self.offset..self.offset + self.len()
    }
    /// The flat index of entry (row, col).
    pub fn index(&self, row: usize, col: usize) -> usize {
        self.offset + row * self.cols + col
    }
}

/// Shapes and offsets of the packed parameters of a network of n_in inputs, n_rec neurons
/// and n_out outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamLayout {
    pub n_in: usize,
    pub n_rec: usize,
    pub n_out: usize,
}

impl ParamLayout {
    pub fn new(n_in: usize, n_rec: usize, n_out: usize) -> ParamLayout {
        ParamLayout { n_in, n_rec, n_out }
    }

    /// The tensors in their packed order. b_out is one row of n_out.
    pub fn blocks(&self) -> [ParamBlock; 4] {
        let (n_in, n, n_out) = (self.n_in, self.n_rec, self.n_out);
        let w_in = n_in * n;
        let w_rec = w_in + n * n;
        let w_out = w_rec + n * n_out;
        let block = |name, offset, rows, cols| ParamBlock {
            name,
            offset,
            rows,
            cols,
        };
        [
            block("w_in", 0, n_in, n),
            block("w_rec", w_in, n, n),
            block("w_out", w_rec, n, n_out),
            block("b_out", w_out, 1, n_out),
        ]
    }
    pub fn w_in(&self) -> ParamBlock {
        self.blocks()[0]
    }
    pub fn w_rec(&self) -> ParamBlock {
        self.blocks()[1]
    }
    pub fn w_out(&self) -> ParamBlock {
        self.blocks()[2]
    }
    pub fn b_out(&self) -> ParamBlock {
        self.blocks()[3]
    }

    /// P, the number of trained scalars.
    pub fn len(&self) -> usize {
        self.b_out().range().end
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Offset of neuron constant block `k` (`NEURON_ALPHA`..) in the GPU's model buffer.
    pub fn neuron_offset(&self, k: u32) -> usize {
        self.len() + k as usize * self.n_rec
    }

    /// Length of the GPU's model buffer: P trained scalars and the neuron constants.
    pub fn model_len(&self) -> usize {
        self.neuron_offset(NEURON_BLOCKS)
    }

    /// "w_rec[3, 7]": the tensor and index of flat entry `e`.
    pub fn name_of(&self, e: usize) -> String {
        match self.blocks().into_iter().find(|b| b.range().contains(&e)) {
            Some(b) if b.name == "b_out" => format!("b_out[{}]", e - b.offset),
            Some(b) => {
                let i = e - b.offset;
                format!("{}[{}, {}]", b.name, i / b.cols, i % b.cols)
            }
            None => format!("parameter {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_tile_the_flat_vector_in_order() {
        let l = ParamLayout::new(3, 5, 2);
        let mut end = 0;
        for b in l.blocks() {
            assert_eq!(b.offset, end, "{}", b.name);
            end += b.len();
        }
        assert_eq!(end, l.len());
        assert_eq!(l.len(), 3 * 5 + 5 * 5 + 5 * 2 + 2);
        assert_eq!(l.model_len(), l.len() + 4 * 5);
        assert_eq!(l.name_of(0), "w_in[0, 0]");
        assert_eq!(l.name_of(l.w_rec().index(3, 4)), "w_rec[3, 4]");
        assert_eq!(l.name_of(l.len() - 1), "b_out[1]");
        assert_eq!(l.name_of(l.len()), format!("parameter {}", l.len()));
    }
}
