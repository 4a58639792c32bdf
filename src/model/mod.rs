//! The LSNN model of `docs/model.md`: shapes, per-neuron constants, trained parameters,
//! batches and initialisation. Both engines (`cpu`, `gpu`) consume these types.

pub mod batch;
pub mod checkpoint;
pub mod connectivity;
pub mod deep_r;
pub mod init;
pub mod network;
pub mod param_layout;
pub mod settings;

pub use batch::{Batch, Targets};
pub use network::{Network, NeuronConstants, Params, Readout, SimConstants};
pub use param_layout::{ParamBlock, ParamLayout, Tensor, PACKED_ORDER};
