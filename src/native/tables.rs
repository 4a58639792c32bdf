//! Everything the native passes read about the network, laid out for them once per set of
//! weights: per-neuron constants as flat vectors (so the per-step loops over neurons
//! vectorise) and the weight matrices as synapse lists (so spikes fan out event by event).

use super::synapses::Synapses;
use crate::model::{Network, Readout};

/// Which synapses receive a gradient: all of them (dense networks, and DEEP R's R2 as the
/// reference computes it) or only the active ones (DEEP R with `dense_gradients: false`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GradientSupport {
    All,
    Active,
}

#[derive(Clone, Debug)]
pub struct Tables {
    pub n_in: usize,
    pub n: usize,
    pub n_out: usize,
    pub n_delay: usize,
    pub n_ref: u32,
    pub readout: Readout,
    /// The value of a spike, 1/dt (M5), rounded to f32 as the reference does.
    pub z_value: f32,
    pub dt: f32,
    pub inv_dt: f32,
    /// γ of the pseudo-derivative (M6).
    pub gamma: f32,
    /// κ and 1 − κ of the readout trace (M7).
    pub kappa: f32,
    pub one_minus_kappa: f32,
    pub noise_std: f32,
    /// Per neuron: α, 1 − α (M0a, M4), ρ, 1 − ρ (M0b, M2), thr and β (M3).
    pub alpha: Vec<f32>,
    pub one_minus_alpha: Vec<f32>,
    pub rho: Vec<f32>,
    pub one_minus_rho: Vec<f32>,
    pub thr: Vec<f32>,
    pub beta: Vec<f32>,
    /// Synapses with a non-zero weight, for the forward fan-out and B6's δz.
    pub input: Synapses,
    pub recurrent: Synapses,
    /// Synapses that receive a gradient (B6's ∂W_in, ∂W_rec).
    pub input_grad: Synapses,
    pub recurrent_grad: Synapses,
    /// W_out [n, n_out] row-major and b_out.
    pub w_out: Vec<f32>,
    pub b_out: Vec<f32>,
    /// Regulariser constants (M9): c and f0 in spikes per ms.
    pub reg_coeff: f32,
    pub reg_rate_per_ms: f32,
}

impl Tables {
    pub fn new(net: &Network, support: GradientSupport) -> Tables {
        let sim = &net.sim;
        let alpha = net.neurons.alpha(sim.dt).to_vec();
        let rho = net.neurons.rho(sim.dt).to_vec();
        let p = &net.params;
        let kappa = sim.kappa();
        let active = |_: usize, _: usize, w: f32| w != 0.0;
        let (input_grad, recurrent_grad) = match support {
            GradientSupport::All => (
                Synapses::build(p.w_in.view(), net.delay_in.view(), |_, _, _| true),
                // The diagonal is kept so that dense rows stay contiguous; its gradient is
                // zeroed afterwards (no autapses: not a parameter, docs/model.md §1).
                Synapses::build(p.w_rec.view(), net.delay_rec.view(), |_, _, _| true),
            ),
            GradientSupport::Active => (
                Synapses::build(p.w_in.view(), net.delay_in.view(), active),
                Synapses::build(p.w_rec.view(), net.delay_rec.view(), |k, j, w| {
                    k != j && w != 0.0
                }),
            ),
        };
        Tables {
            n_in: net.n_in(),
            n: net.n_rec(),
            n_out: net.n_out(),
            n_delay: sim.n_delay as usize,
            n_ref: sim.n_ref,
            readout: sim.readout,
            z_value: (1.0 / sim.dt as f64) as f32,
            dt: sim.dt,
            inv_dt: (1.0 / sim.dt as f64) as f32,
            gamma: sim.dampening,
            kappa,
            one_minus_kappa: 1.0 - kappa,
            noise_std: sim.noise_std,
            one_minus_alpha: alpha.iter().map(|a| 1.0 - a).collect(),
            one_minus_rho: rho.iter().map(|r| 1.0 - r).collect(),
            alpha,
            rho,
            thr: net.neurons.thr.to_vec(),
            beta: net.neurons.beta.to_vec(),
            input: Synapses::build(p.w_in.view(), net.delay_in.view(), active),
            // The zero diagonal is kept (it adds exact zeros) so that dense rows stay contiguous.
            recurrent: Synapses::build(p.w_rec.view(), net.delay_rec.view(), |k, j, w| {
                w != 0.0 || k == j
            }),
            input_grad,
            recurrent_grad,
            w_out: p.w_out.iter().copied().collect(),
            b_out: p.b_out.to_vec(),
            reg_coeff: sim.reg_coeff,
            reg_rate_per_ms: sim.reg_rate_per_ms(),
        }
    }

    /// Decisions the readout makes over `steps` steps: 1 for the window readout, one per
    /// frame otherwise.
    pub fn decisions(&self, steps: usize) -> usize {
        match self.readout {
            Readout::Window(_) => 1,
            Readout::Framewise(k) | Readout::Regression(k) => steps / k,
        }
    }

    /// The decision whose mean readout step index `ti` (0-based) of `steps` counts towards:
    /// the window's one for its last K steps, else the step's frame; None outside the window.
    #[inline]
    pub fn decision_at(&self, ti: usize, steps: usize) -> Option<usize> {
        match self.readout {
            Readout::Window(k) => (ti + k >= steps).then_some(0),
            Readout::Framewise(k) | Readout::Regression(k) => Some(ti / k),
        }
    }

    /// Steps averaged per decision (K of the window, k of a frame).
    pub fn steps_per_decision(&self) -> usize {
        match self.readout {
            Readout::Window(k) | Readout::Framewise(k) | Readout::Regression(k) => k,
        }
    }
}
