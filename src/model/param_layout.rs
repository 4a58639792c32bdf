//! The packed layout of the trained parameters and the per-neuron constants: one flat vector
//! of the trained tensors in [`PACKED_ORDER`] (w_in | w_rec | w_out | b_out, row-major),
//! followed on the GPU by the constants α | ρ | β | thr (M0). The model (`Params::to_flat`),
//! the initialisation, the engines, the checkpoints and the figures all index it through
//! this type; the WGSL kernels get its offsets in `gpu::layout::Dims` and its neuron blocks
//! as generated constants.

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

/// The trained tensors of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tensor {
    WIn,
    WRec,
    WOut,
    BOut,
}

/// The packed order of the trained tensors in the flat vector: the one place it is written.
/// Every offset (`ParamLayout::blocks`, the GPU's `Dims::off_*`) is computed from it, so
/// reordering this list reorders the model buffer, the gradients and the Adam moments alike.
pub const PACKED_ORDER: [Tensor; 4] = [Tensor::WIn, Tensor::WRec, Tensor::WOut, Tensor::BOut];

impl Tensor {
    /// The tensor's name in checkpoints and messages.
    pub fn name(self) -> &'static str {
        match self {
            Tensor::WIn => "w_in",
            Tensor::WRec => "w_rec",
            Tensor::WOut => "w_out",
            Tensor::BOut => "b_out",
        }
    }
}

/// One trained tensor of the flat parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamBlock {
    pub tensor: Tensor,
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

    /// (rows, cols) of `tensor`, row-major. b_out is one row of n_out.
    pub fn shape(&self, tensor: Tensor) -> (usize, usize) {
        let (n_in, n, n_out) = (self.n_in, self.n_rec, self.n_out);
        match tensor {
            Tensor::WIn => (n_in, n),
            Tensor::WRec => (n, n),
            Tensor::WOut => (n, n_out),
            Tensor::BOut => (1, n_out),
        }
    }

    /// The tensors in their packed order ([`PACKED_ORDER`]), each starting where the one
    /// before it ends.
    pub fn blocks(&self) -> [ParamBlock; 4] {
        let mut offset = 0;
        PACKED_ORDER.map(|tensor| {
            let (rows, cols) = self.shape(tensor);
            let block = ParamBlock {
                tensor,
                name: tensor.name(),
                offset,
                rows,
                cols,
            };
            offset += block.len();
            block
        })
    }
    /// The block of `tensor`, wherever the packed order puts it.
    pub fn block(&self, tensor: Tensor) -> ParamBlock {
        self.blocks()
            .into_iter()
            .find(|b| b.tensor == tensor)
            .expect("PACKED_ORDER lists every tensor")
    }
    pub fn w_in(&self) -> ParamBlock {
        self.block(Tensor::WIn)
    }
    pub fn w_rec(&self) -> ParamBlock {
        self.block(Tensor::WRec)
    }
    pub fn w_out(&self) -> ParamBlock {
        self.block(Tensor::WOut)
    }
    pub fn b_out(&self) -> ParamBlock {
        self.block(Tensor::BOut)
    }

    /// P, the number of trained scalars.
    pub fn len(&self) -> usize {
        self.blocks().iter().map(ParamBlock::len).sum()
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
            Some(b) if b.tensor == Tensor::BOut => format!("b_out[{}]", e - b.offset),
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
        for t in PACKED_ORDER {
            assert_eq!(l.block(t).tensor, t);
            assert_eq!(l.block(t).name, t.name());
            assert_eq!((l.block(t).rows, l.block(t).cols), l.shape(t));
        }
        assert_eq!(l.name_of(l.w_in().index(0, 0)), "w_in[0, 0]");
        assert_eq!(l.name_of(l.w_in().index(2, 4)), "w_in[2, 4]");
        assert_eq!(l.name_of(l.w_rec().index(3, 4)), "w_rec[3, 4]");
        assert_eq!(l.name_of(l.w_out().index(4, 1)), "w_out[4, 1]");
        assert_eq!(l.name_of(l.b_out().index(0, 1)), "b_out[1]");
        assert_eq!(l.name_of(l.len()), format!("parameter {}", l.len()));
    }
}
