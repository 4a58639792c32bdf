//! One minibatch of input sequences and their targets (docs/formats.md, "Batch").

use ndarray::{Array1, Array2, Array3};

#[derive(Clone, Debug, PartialEq)]
pub enum Targets {
    /// One class per sequence, for the `window:K` readout. [B]
    Labels(Array1<i32>),
    /// One class per step, −1 = not scored, for the `framewise` readout. [T, B]
    FrameLabels(Array2<i32>),
    /// Target values per step and output, NaN = not scored, for the `regression` readout (a
    /// frame is scored against its last step). [T, B, n_out]
    FrameValues(Array3<f32>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// Input per step: spikes as 0/1, or analog values. [T, B, n_in]
    pub x: Array3<f32>,
    pub targets: Targets,
}

impl Batch {
    pub fn steps(&self) -> usize {
        self.x.shape()[0]
    }
    pub fn size(&self) -> usize {
        self.x.shape()[1]
    }
    pub fn n_in(&self) -> usize {
        self.x.shape()[2]
    }
}
