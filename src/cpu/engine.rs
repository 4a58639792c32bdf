//! The CPU reference as a training engine (used with `--device cpu`, or `auto` without an
//! adapter). Slow by design: it is the readable oracle, not a fast path.

use ndarray::{Array2, Array3, Axis};

use super::adam::{adam_update, AdamHyper, AdamState};
use super::alif_backward::alif_backward;
use super::alif_forward::{alif_forward, alif_forward_from, ForwardState, ParamsOf};
use super::deep_r::{refill, zero_inactive_gradients};
use super::readout_loss::{predictions, readout_loss, readout_loss_from, LossOutput};
use crate::engine::{
    check_batch, check_stream_shape, running_stream, BatchStats, Engine, GradientReport,
    StepSettings, StreamState,
};
use crate::model::deep_r::{DeepR, RewireStats};
use crate::model::{Batch, Network, Params, Targets};

pub struct CpuEngine {
    network: Network,
    constraints: Vec<u32>,
    adam: AdamState,
    deep_r: Option<DeepR>,
    rewire_stats: Option<RewireStats>,
    stream: Option<CpuStream>,
}

/// A stream of forward passes (`Engine::stream_start`): where the next pass begins.
struct CpuStream {
    batch: usize,
    steps: usize,
    /// The population's state and the readout trace p [B, N] after the last pass.
    state: StreamState<(ForwardState<f32>, Array2<f32>)>,
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
            stream: None,
        }
    }

    fn stream_mut(&mut self) -> anyhow::Result<&mut CpuStream> {
        running_stream(self.stream.as_mut())
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

/// The update that follows the gradients of a training step, shared by the engines that
/// run on the host (this reference and [`crate::native::NativeEngine`]): R1 (which entries
/// are active), the `dense_gradients: false` mask of R2, Adam (docs/model.md §6), the sign and
/// autapse constraints, then R3–R5 under DEEP R. Returns what the rewiring did.
pub fn optimiser_step(
    network: &mut Network,
    constraints: &[u32],
    adam: &mut AdamState,
    deep_r: Option<&DeepR>,
    mut grads: Vec<f32>,
    s: &StepSettings,
) -> anyhow::Result<Option<RewireStats>> {
    if let Some(e) = grads.iter().position(|g| !g.is_finite()) {
        anyhow::bail!(
            "the gradient of {} is not finite ({}) at Adam step {}: the weights are left as they were. Lower train.learning_rate, or check the input scale and model.thr",
            parameter_name(&network.params, e),
            grads[e],
            s.step
        );
    }
    let mut flat = network.params.to_flat();
    let hyper = AdamHyper {
        lr: s.lr,
        beta1: s.beta1,
        beta2: s.beta2,
        eps: s.eps,
        step: s.step,
    };
    if deep_r.is_some_and(|d| !d.dense_gradients) {
        zero_inactive_gradients(&flat, &mut grads, constraints);
    }
    let mut stats = adam_update(&mut flat, &grads, adam, &hyper, constraints, deep_r);
    if let (Some(d), Some(stats)) = (deep_r, stats.as_mut()) {
        refill(&mut flat, constraints, d, s.step, stats);
    }
    if let Some(e) = flat.iter().position(|w| !w.is_finite()) {
        anyhow::bail!(
            "Adam step {} made {} non-finite ({}) at learning rate {}: the weights are left as they were and the checkpoints already written are kept. Lower train.learning_rate",
            s.step,
            parameter_name(&network.params, e),
            flat[e],
            s.lr
        );
    }
    let p = &network.params;
    network.params = Params::from_flat(&flat, p.n_in(), p.n_rec(), p.n_out());
    Ok(stats)
}

/// "w_rec[3, 7]": the tensor and index of entry `e` of the flat parameters.
pub fn parameter_name(p: &Params, e: usize) -> String {
    p.layout().name_of(e)
}

impl Engine for CpuEngine {
    fn describe(&self) -> String {
        "cpu reference".to_string()
    }

    fn train_step(&mut self, batch: &Batch, s: &StepSettings) -> anyhow::Result<BatchStats> {
        let report = self.gradients(batch, s.noise_seed)?;
        self.rewire_stats = optimiser_step(
            &mut self.network,
            &self.constraints,
            &mut self.adam,
            self.deep_r.as_ref(),
            report.grads,
            s,
        )?;
        Ok(report.stats)
    }

    fn evaluate(&mut self, batch: &Batch, noise_seed: u32) -> anyhow::Result<BatchStats> {
        check_batch(&self.network, batch)?;
        self.stream = None;
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
        check_batch(&self.network, batch)?;
        self.stream = None;
        let params = ParamsOf::<f32>::from_params(&self.network.params);
        let trace = alif_forward(&self.network, &params, &batch.x, noise_seed);
        let loss = readout_loss(&self.network, &params, &trace, &batch.targets);
        Ok((Self::stats(&loss), predictions(&loss.probs)))
    }

    fn frame_outputs(&mut self, batch: &Batch, noise_seed: u32) -> anyhow::Result<Array3<f32>> {
        check_batch(&self.network, batch)?;
        self.stream = None;
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
        check_batch(&self.network, batch)?;
        self.stream = None;
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

    fn stream_start(&mut self, batch: usize, steps: usize) -> anyhow::Result<()> {
        check_stream_shape(&self.network, batch, steps)?;
        let n = self.network.n_rec();
        let start = ForwardState::zeros(batch, n, self.network.sim.n_delay as usize);
        self.stream = Some(CpuStream {
            batch,
            steps,
            state: StreamState::new((start, Array2::zeros((batch, n)))),
        });
        Ok(())
    }

    fn stream_advance(&mut self, x: &Array3<f32>, noise_seed: u32) -> anyhow::Result<Array3<f32>> {
        let params = ParamsOf::<f32>::from_params(&self.network.params);
        let net = self.network.clone();
        let stream = self.stream_mut()?;
        let (steps, batch, _) = x.dim();
        anyhow::ensure!(
            (steps, batch) == (stream.steps, stream.batch),
            "a pass of the stream has {} steps of {} sequences, not {steps} of {batch}",
            stream.steps,
            stream.batch
        );
        let unscored =
            Targets::FrameValues(Array3::from_elem((steps, batch, net.n_out()), f32::NAN));
        let trace = alif_forward_from(&net, &params, x, noise_seed, &stream.state.now.0);
        let loss = readout_loss_from(&net, &params, &trace, &unscored, &stream.state.now.1);
        let p_last = loss.trace_out.index_axis(Axis(0), steps - 1).to_owned();
        stream.state.now = (trace.end, p_last);
        // For the regression readout `probs` holds the frame outputs themselves.
        Ok(loss.probs)
    }

    fn stream_save(&mut self) -> anyhow::Result<()> {
        self.stream_mut()?.state.save();
        Ok(())
    }

    fn stream_restore(&mut self) -> anyhow::Result<()> {
        self.stream_mut()?.state.restore()
    }

    fn stream_state(&self) -> anyhow::Result<Vec<u32>> {
        let stream = running_stream(self.stream.as_ref())?;
        let (s, p) = &stream.state.now;
        let floats = s
            .z_prev
            .iter()
            .chain(&s.v)
            .chain(&s.b)
            .chain(&s.ring)
            .chain(p)
            .map(|x| x.to_bits());
        Ok(floats.chain(s.refractory_left.iter().copied()).collect())
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

    fn constraints(&self) -> &[u32] {
        &self.constraints
    }

    fn rewiring(&self) -> Option<&DeepR> {
        self.deep_r.as_ref()
    }
}
