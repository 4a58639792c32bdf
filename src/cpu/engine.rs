//! The CPU reference as a training engine (used with `--device cpu`, or `auto` without an
//! adapter). Slow by design: it is the readable oracle, not a fast path.

use ndarray::Array3;

use super::adam::{adam_step, AdamHyper, AdamState};
use super::alif_backward::alif_backward;
use super::alif_forward::{alif_forward, ParamsOf};
use super::deep_r::{refill, rewire_entries, zero_inactive_gradients};
use super::readout_loss::{predictions, readout_loss, LossOutput};
use crate::engine::{BatchStats, Engine, GradientReport, StepSettings};
use crate::model::deep_r::{DeepR, RewireStats};
use crate::model::init::apply_constraints;
use crate::model::{Batch, Network, Params};

pub struct CpuEngine {
    network: Network,
    constraints: Vec<u32>,
    adam: AdamState,
    deep_r: Option<DeepR>,
    rewire_stats: Option<RewireStats>,
}

impl CpuEngine {
    pub fn new(network: Network, constraints: Vec<u32>) -> CpuEngine {
        let len = network.params.len();
        assert_eq!(constraints.len(), len, "one constraint per parameter");
        CpuEngine {
            network,
            constraints,
            adam: AdamState::new(len),
            deep_r: None,
            rewire_stats: None,
        }
    }

    fn stats(loss: &LossOutput<f32>) -> BatchStats {
        BatchStats {
            loss: loss.loss,
            loss_task: loss.loss_task,
            loss_reg: loss.loss_reg,
            correct: loss.correct,
            scored: loss.scored,
            rates: loss.rates.to_vec(),
        }
    }
}

impl Engine for CpuEngine {
    fn describe(&self) -> String {
        "cpu reference".to_string()
    }

    fn train_step(&mut self, batch: &Batch, s: &StepSettings) -> anyhow::Result<BatchStats> {
        let report = self.gradients(batch, s.noise_seed)?;
        let mut flat = self.network.params.to_flat();
        let hyper = AdamHyper {
            lr: s.lr,
            beta1: s.beta1,
            beta2: s.beta2,
            eps: s.eps,
            step: s.step,
        };
        let before = flat.clone();
        let mut grads = report.grads;
        if self.deep_r.as_ref().is_some_and(|d| !d.dense_gradients) {
            zero_inactive_gradients(&before, &mut grads, &self.constraints);
        }
        adam_step(&mut flat, &grads, &mut self.adam, &hyper);
        apply_constraints(&mut flat, &self.constraints);
        if let Some(d) = &self.deep_r {
            let mut stats = rewire_entries(&before, &mut flat, &self.constraints, d, s.lr, s.step);
            refill(&mut flat, &self.constraints, d, s.step, &mut stats);
            self.rewire_stats = Some(stats);
        }
        let p = &self.network.params;
        self.network.params = Params::from_flat(&flat, p.n_in(), p.n_rec(), p.n_out());
        Ok(report.stats)
    }

    fn evaluate(&mut self, batch: &Batch, noise_seed: u32) -> anyhow::Result<BatchStats> {
        let params = ParamsOf::<f32>::from_params(&self.network.params);
        let trace = alif_forward(&self.network, &params, &batch.x, noise_seed);
        let loss = readout_loss(&self.network, &params, &trace, &batch.targets);
        Ok(Self::stats(&loss))
    }

    fn predict(
        &mut self,
        batch: &Batch,
        noise_seed: u32,
    ) -> anyhow::Result<(BatchStats, ndarray::Array2<i32>)> {
        let params = ParamsOf::<f32>::from_params(&self.network.params);
        let trace = alif_forward(&self.network, &params, &batch.x, noise_seed);
        let loss = readout_loss(&self.network, &params, &trace, &batch.targets);
        Ok((Self::stats(&loss), predictions(&loss.probs)))
    }

    fn frame_outputs(&mut self, batch: &Batch, noise_seed: u32) -> anyhow::Result<Array3<f32>> {
        if !matches!(
            self.network.sim.readout,
            crate::model::Readout::Regression(_)
        ) {
            anyhow::bail!("frame outputs are read back for the regression readout only");
        }
        let params = ParamsOf::<f32>::from_params(&self.network.params);
        let trace = alif_forward(&self.network, &params, &batch.x, noise_seed);
        // For the regression readout `probs` holds the frame outputs themselves.
        Ok(readout_loss(&self.network, &params, &trace, &batch.targets).probs)
    }

    fn gradients(&mut self, batch: &Batch, noise_seed: u32) -> anyhow::Result<GradientReport> {
        let params = ParamsOf::<f32>::from_params(&self.network.params);
        let trace = alif_forward(&self.network, &params, &batch.x, noise_seed);
        let loss = readout_loss(&self.network, &params, &trace, &batch.targets);
        let grads = alif_backward(
            &self.network,
            &params,
            &batch.x,
            &trace,
            &loss,
            &batch.targets,
        );
        let spikes: Array3<f32> = trace.z.mapv(|z| if z != 0.0 { 1.0 } else { 0.0 });
        Ok(GradientReport {
            stats: Self::stats(&loss),
            grads: grads.to_flat(),
            spikes,
        })
    }

    fn network(&self) -> anyhow::Result<Network> {
        Ok(self.network.clone())
    }

    fn adam_moments(&self) -> anyhow::Result<(Vec<f32>, Vec<f32>)> {
        Ok((self.adam.m.clone(), self.adam.v.clone()))
    }

    fn set_adam_moments(&mut self, m: &[f32], v: &[f32]) -> anyhow::Result<()> {
        self.adam.m = m.to_vec();
        self.adam.v = v.to_vec();
        Ok(())
    }

    fn set_rewiring(&mut self, deep_r: DeepR) -> anyhow::Result<()> {
        self.deep_r = Some(deep_r);
        Ok(())
    }

    fn rewire_stats(&self) -> Option<RewireStats> {
        self.rewire_stats
    }
}
