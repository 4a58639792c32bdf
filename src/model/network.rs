//! Network definition: shapes, constants (M0) and trained parameters.

use ndarray::{Array1, Array2};

use super::param_layout::{ParamLayout, Tensor};

/// How the loss reads the network (docs/model.md §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readout {
    /// Logits = mean of y_t over the last K steps; one label per sequence.
    Window(usize),
    /// Framewise classification: the steps form frames of `k` consecutive steps (k = 1: every
    /// step is a frame); a frame's logits are the mean of y_t over its steps and it is scored
    /// against the label of its last step (−1 = not scored). TIMIT presents each 10 ms
    /// feature frame for k = `steps_per_frame` steps (docs/experiments.md §2).
    Framewise(usize),
    /// Regression (learning-to-learn, docs/model.md §4): frames of `k` steps as `Framewise`; a
    /// frame's output is the mean of y_t over its steps (with a readout trace of τ_out → 0
    /// this is a linear readout of the frame's spike counts), compared by squared error with
    /// the target of its last step; the loss is the mean over scored frames and outputs.
    Regression(usize),
}

impl Readout {
    /// Steps per frame of the frame-based readouts (framewise, regression); None for the
    /// window readout.
    pub fn steps_per_frame(&self) -> Option<usize> {
        match self {
            Readout::Window(_) => None,
            Readout::Framewise(k) | Readout::Regression(k) => Some(*k),
        }
    }

    /// The checkpoint metadata spelling (`window:K`, `framewise`, `framewise:K` for K steps
    /// per frame, or `regression:K`).
    pub fn to_metadata(&self) -> String {
        match self {
            Readout::Window(k) => format!("window:{k}"),
            Readout::Framewise(1) => "framewise".to_string(),
            Readout::Framewise(k) => format!("framewise:{k}"),
            Readout::Regression(k) => format!("regression:{k}"),
        }
    }

    pub fn from_metadata(s: &str) -> Option<Readout> {
        if s == "framewise" {
            return Some(Readout::Framewise(1));
        }
        if let Some(k) = s.strip_prefix("framewise:") {
            return k.parse().ok().filter(|&k| k > 0).map(Readout::Framewise);
        }
        if let Some(k) = s.strip_prefix("regression:") {
            return k.parse().ok().filter(|&k| k > 0).map(Readout::Regression);
        }
        let k = s.strip_prefix("window:")?.parse().ok()?;
        Some(Readout::Window(k))
    }
}

/// Global simulation constants (docs/model.md §1, §4). Not trained.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConstants {
    /// Time step in ms; a spike has the value 1/dt (M5).
    pub dt: f32,
    /// γ of the pseudo-derivative (M6).
    pub dampening: f32,
    /// Refractory period in steps (M5).
    pub n_ref: u32,
    /// Synaptic delays are drawn from 0..n_delay (M1); 1 = no extra delay.
    pub n_delay: u32,
    /// Readout trace time constant in ms (M7).
    pub tau_out: f32,
    pub readout: Readout,
    /// c_reg of the firing-rate regulariser (M9).
    pub reg_coeff: f32,
    /// f0 of M9 in Hz.
    pub reg_rate_hz: f32,
    /// σ of the injected input noise (M1); 0 = none.
    pub noise_std: f32,
}

impl SimConstants {
    /// κ = exp(−dt/τ_out) (M7).
    pub fn kappa(&self) -> f32 {
        (-self.dt / self.tau_out).exp()
    }
    /// f0 in spikes per ms (the unit of z, M9).
    pub fn reg_rate_per_ms(&self) -> f32 {
        self.reg_rate_hz / 1000.0
    }
}

/// Per-neuron constants (vectors of length n_rec, docs/model.md §1).
#[derive(Clone, Debug, PartialEq)]
pub struct NeuronConstants {
    pub tau_m: Array1<f32>,
    pub tau_a: Array1<f32>,
    pub beta: Array1<f32>,
    pub thr: Array1<f32>,
}

impl NeuronConstants {
    pub fn n_rec(&self) -> usize {
        self.tau_m.len()
    }
    /// α = exp(−dt/τ_m) (M0a).
    pub fn alpha(&self, dt: f32) -> Array1<f32> {
        self.tau_m.mapv(|t| (-dt / t).exp())
    }
    /// ρ = exp(−dt/τ_a) (M0b).
    pub fn rho(&self, dt: f32) -> Array1<f32> {
        self.tau_a.mapv(|t| (-dt / t).exp())
    }
}

/// Trained parameters, as effective weights (signs and masks applied).
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// [n_in, n_rec]
    pub w_in: Array2<f32>,
    /// [n_rec, n_rec], zero diagonal.
    pub w_rec: Array2<f32>,
    /// [n_rec, n_out]
    pub w_out: Array2<f32>,
    /// [n_out]
    pub b_out: Array1<f32>,
}

impl Params {
    pub fn zeros(n_in: usize, n_rec: usize, n_out: usize) -> Params {
        Params {
            w_in: Array2::zeros((n_in, n_rec)),
            w_rec: Array2::zeros((n_rec, n_rec)),
            w_out: Array2::zeros((n_rec, n_out)),
            b_out: Array1::zeros(n_out),
        }
    }
    pub fn n_in(&self) -> usize {
        self.w_in.nrows()
    }
    pub fn n_rec(&self) -> usize {
        self.w_rec.nrows()
    }
    pub fn n_out(&self) -> usize {
        self.w_out.ncols()
    }
    /// The packed layout of these parameters.
    pub fn layout(&self) -> ParamLayout {
        ParamLayout::new(self.n_in(), self.n_rec(), self.n_out())
    }
    /// Total number of trained scalars.
    pub fn len(&self) -> usize {
        self.layout().len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// All parameters in one flat vector, in the order of [`ParamLayout`] (row-major). The
    /// GPU keeps them in exactly this layout.
    pub fn to_flat(&self) -> Vec<f32> {
        let mut v = Vec::with_capacity(self.len());
        for block in self.layout().blocks() {
            match block.tensor {
                Tensor::WIn => v.extend(self.w_in.iter()),
                Tensor::WRec => v.extend(self.w_rec.iter()),
                Tensor::WOut => v.extend(self.w_out.iter()),
                Tensor::BOut => v.extend(self.b_out.iter()),
            }
        }
        v
    }
    /// Inverse of [`Params::to_flat`].
    pub fn from_flat(flat: &[f32], n_in: usize, n_rec: usize, n_out: usize) -> Params {
        let mut p = Params::zeros(n_in, n_rec, n_out);
        assert_eq!(
            flat.len(),
            p.len(),
            "flat parameter vector has the wrong length"
        );
        for block in p.layout().blocks() {
            let target = match block.tensor {
                Tensor::WIn => p.w_in.as_slice_mut(),
                Tensor::WRec => p.w_rec.as_slice_mut(),
                Tensor::WOut => p.w_out.as_slice_mut(),
                Tensor::BOut => p.b_out.as_slice_mut(),
            };
            target.unwrap().copy_from_slice(&flat[block.range()]);
        }
        p
    }
}

/// Everything the forward pass needs: constants, delays and parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    pub sim: SimConstants,
    pub neurons: NeuronConstants,
    /// Number of regular (LIF) neurons; neurons n_regular..n_rec are adaptive.
    pub n_regular: usize,
    /// Synaptic delays in steps, [n_in, n_rec] and [n_rec, n_rec], each in 0..n_delay.
    pub delay_in: Array2<u32>,
    pub delay_rec: Array2<u32>,
    pub params: Params,
}

impl Network {
    pub fn n_in(&self) -> usize {
        self.params.n_in()
    }
    pub fn n_rec(&self) -> usize {
        self.params.n_rec()
    }
    pub fn n_out(&self) -> usize {
        self.params.n_out()
    }
}

#[cfg(test)]
mod tests {
    use super::Readout;

    #[test]
    fn readout_metadata_round_trips() {
        for r in [
            Readout::Window(28),
            Readout::Framewise(1),
            Readout::Framewise(5),
            Readout::Regression(20),
        ] {
            assert_eq!(Readout::from_metadata(&r.to_metadata()), Some(r));
        }
        assert_eq!(Readout::Framewise(1).to_metadata(), "framewise");
        for bad in ["framewise:0", "framewise:x", "window", "frames:5"] {
            assert_eq!(Readout::from_metadata(bad), None, "{bad}");
        }
    }
}
