//! The native engine: the same [`Engine`] as the GPU and the reference, computed on the host's
//! cores. Sequences are independent until the loss, so each phase runs over the batch in
//! parallel (rayon): forward (and readout) per sequence, the losses in batch order, then BPTT
//! per sequence with one gradient sum per worker, added at the end. The optimiser step is the
//! reference's own ([`optimiser_step`]: Adam, constraints, DEEP R with the same Philox draws).

use ndarray::{Array2, Array3, Axis};
use rayon::prelude::*;

use super::alif_backward::{backward_sequence, BackwardScratch, GradientSums};
use super::alif_forward::{forward_sequence, SequenceOutput, SequenceRecord, SequenceState};
use super::readout_loss::{batch_loss, output_errors, BatchLoss};
use super::tables::{GradientSupport, Tables};
use crate::cpu::adam::AdamState;
use crate::cpu::engine::optimiser_step;
use crate::cpu::readout_loss::predictions;
use crate::engine::{
    check_batch, check_stream_shape, running_stream, BatchStats, Engine, GradientReport,
    StepSettings, StreamState,
};
use crate::model::deep_r::{DeepR, RewireStats};
use crate::model::{Batch, Network, ParamLayout, Readout};

/// Sequences whose gradients one worker sums before the groups are added (in batch order):
/// fixed, so that the rounding of the sums does not depend on the number of threads.
const SEQUENCES_PER_GROUP: usize = 4;

/// One sequence's memory, kept from one iteration to the next.
#[derive(Clone, Debug)]
struct SequenceWork {
    state: SequenceState,
    output: SequenceOutput,
    record: SequenceRecord,
}

/// A stream of forward passes (`Engine::stream_start`).
struct NativeStream {
    steps: usize,
    /// Every sequence's state after the last pass.
    state: StreamState<Vec<SequenceState>>,
}

pub struct NativeEngine {
    network: Network,
    constraints: Vec<u32>,
    adam: AdamState,
    deep_r: Option<DeepR>,
    rewire_stats: Option<RewireStats>,
    /// The network laid out for the passes; rebuilt when the weights change.
    tables: Tables,
    work: Vec<SequenceWork>,
    stream: Option<NativeStream>,
}

impl NativeEngine {
    pub fn new(network: Network, constraints: Vec<u32>) -> NativeEngine {
        let len = network.params.len();
        assert_eq!(constraints.len(), len, "one constraint per parameter");
        let tables = Tables::new(&network, GradientSupport::All);
        NativeEngine {
            network,
            constraints,
            adam: AdamState::new(len),
            deep_r: None,
            rewire_stats: None,
            tables,
            work: Vec::new(),
            stream: None,
        }
    }

    /// Worker threads the passes run on (rayon's pool: all cores, or RAYON_NUM_THREADS).
    pub fn threads() -> usize {
        rayon::current_num_threads()
    }

    fn gradient_support(&self) -> GradientSupport {
        match &self.deep_r {
            Some(d) if !d.dense_gradients => GradientSupport::Active,
            _ => GradientSupport::All,
        }
    }

    fn rebuild_tables(&mut self) {
        self.tables = Tables::new(&self.network, self.gradient_support());
    }

    fn ensure_work(&mut self, batch: usize) {
        let (n, nd) = (self.tables.n, self.tables.n_delay);
        while self.work.len() < batch {
            self.work.push(SequenceWork {
                state: SequenceState::zeros(n, nd),
                output: SequenceOutput::default(),
                record: SequenceRecord::default(),
            });
        }
    }

    /// Forward pass and losses of `batch` from the zero state; with `record`, keeps what
    /// BPTT needs.
    fn forward(
        &mut self,
        batch: &Batch,
        noise_seed: u32,
        record: bool,
    ) -> anyhow::Result<BatchLoss> {
        check_batch(&self.network, batch)?;
        self.stream = None;
        let (steps, size, _) = batch.x.dim();
        self.ensure_work(size);
        let tables = &self.tables;
        let x = &batch.x;
        self.work[..size]
            .par_iter_mut()
            .enumerate()
            .for_each(|(b, w)| {
                w.state.reset();
                forward_sequence(
                    tables,
                    x.index_axis(Axis(1), b),
                    b as u32,
                    noise_seed,
                    &mut w.state,
                    &mut w.output,
                    record.then_some(&mut w.record),
                );
            });
        let outputs: Vec<&SequenceOutput> = self.work[..size].iter().map(|w| &w.output).collect();
        Ok(batch_loss(tables, &outputs, &batch.targets, steps))
    }

    /// Forward, losses and BPTT: the stats and the flat gradients.
    fn forward_backward(
        &mut self,
        batch: &Batch,
        noise_seed: u32,
    ) -> anyhow::Result<(BatchLoss, Vec<f32>)> {
        let loss = self.forward(batch, noise_seed, true)?;
        let (steps, size, _) = batch.x.dim();
        let tab = &self.tables;
        // M9: ∂L_reg/∂z_t[b, j] = 2c(r̄_j − f0)/(B·T), the same for every step and sequence.
        let reg_scale = (2.0 * tab.reg_coeff as f64 / (size * steps) as f64) as f32;
        let dz_reg: Vec<f32> = loss
            .stats
            .rates
            .iter()
            .map(|&r| reg_scale * (r - tab.reg_rate_per_ms))
            .collect();
        let x = &batch.x;
        let targets = &batch.targets;
        let (n_in, n, n_out) = (tab.n_in, tab.n, tab.n_out);
        // Sequences in fixed groups, each summed in order by one worker, and the groups'
        // sums added in order: the same gradients bit for bit on any number of threads, so
        // runs repeat and resume exactly.
        let group_sums: Vec<GradientSums> = self.work[..size]
            .par_chunks(SEQUENCES_PER_GROUP)
            .enumerate()
            .map(|(g, group)| {
                let mut grads = GradientSums::zeros(n_in, n, n_out);
                let mut scratch = BackwardScratch::default();
                let mut dy = Vec::new();
                for (i, w) in group.iter().enumerate() {
                    let b = g * SEQUENCES_PER_GROUP + i;
                    output_errors(tab, &loss, targets, b, size, &mut dy);
                    backward_sequence(
                        tab,
                        x.index_axis(Axis(1), b),
                        &w.record,
                        &w.output,
                        &dy,
                        &dz_reg,
                        &mut grads,
                        &mut scratch,
                    );
                }
                grads
            })
            .collect();
        let sums = group_sums
            .into_iter()
            .reduce(GradientSums::plus)
            .expect("a batch has at least one sequence");
        let mut grads = sums.flat;
        // No autapses: the diagonal is not a parameter.
        let w_rec = ParamLayout::new(n_in, n, n_out).w_rec();
        for j in 0..n {
            grads[w_rec.index(j, j)] = 0.0;
        }
        Ok((loss, grads))
    }

    fn spikes(&self, steps: usize, size: usize) -> Array3<f32> {
        let n = self.tables.n;
        let mut spikes = Array3::zeros((steps, size, n));
        for (b, w) in self.work[..size].iter().enumerate() {
            for ti in 0..steps {
                for &j in w.record.spikes_at(ti) {
                    spikes[[ti, b, j as usize]] = 1.0;
                }
            }
        }
        spikes
    }

    fn stream_mut(&mut self) -> anyhow::Result<&mut NativeStream> {
        running_stream(self.stream.as_mut())
    }
}

impl Engine for NativeEngine {
    fn describe(&self) -> String {
        format!("native CPU engine ({} threads)", Self::threads())
    }

    fn train_step(&mut self, batch: &Batch, s: &StepSettings) -> anyhow::Result<BatchStats> {
        let (loss, grads) = self.forward_backward(batch, s.noise_seed)?;
        self.rewire_stats = optimiser_step(
            &mut self.network,
            &self.constraints,
            &mut self.adam,
            self.deep_r.as_ref(),
            grads,
            s,
        )?;
        self.rebuild_tables();
        Ok(loss.stats)
    }

    fn evaluate(&mut self, batch: &Batch, noise_seed: u32) -> anyhow::Result<BatchStats> {
        let loss = self.forward(batch, noise_seed, false)?;
        Ok(loss.stats)
    }

    fn predict(
        &mut self,
        batch: &Batch,
        noise_seed: u32,
    ) -> anyhow::Result<(BatchStats, Array2<i32>)> {
        let loss = self.forward(batch, noise_seed, false)?;
        Ok((loss.stats, predictions(&loss.probs)))
    }

    fn frame_outputs(&mut self, batch: &Batch, noise_seed: u32) -> anyhow::Result<Array3<f32>> {
        anyhow::ensure!(
            matches!(self.network.sim.readout, Readout::Regression(_)),
            "frame outputs are read back for the regression readout only"
        );
        // For the regression readout `probs` holds the frame outputs themselves.
        Ok(self.forward(batch, noise_seed, false)?.probs)
    }

    fn gradients(&mut self, batch: &Batch, noise_seed: u32) -> anyhow::Result<GradientReport> {
        let (loss, grads) = self.forward_backward(batch, noise_seed)?;
        let (steps, size, _) = batch.x.dim();
        Ok(GradientReport {
            stats: loss.stats,
            grads,
            spikes: self.spikes(steps, size),
        })
    }

    fn stream_start(&mut self, batch: usize, steps: usize) -> anyhow::Result<()> {
        check_stream_shape(&self.network, batch, steps)?;
        let (n, nd) = (self.tables.n, self.tables.n_delay);
        self.stream = Some(NativeStream {
            steps,
            state: StreamState::new(vec![SequenceState::zeros(n, nd); batch]),
        });
        Ok(())
    }

    fn stream_advance(&mut self, x: &Array3<f32>, noise_seed: u32) -> anyhow::Result<Array3<f32>> {
        let tables = &self.tables;
        let n_out = tables.n_out;
        let stream = running_stream(self.stream.as_mut())?;
        let (steps, batch, n_in) = x.dim();
        anyhow::ensure!(
            (steps, batch) == (stream.steps, stream.state.now.len()),
            "a pass of the stream has {} steps of {} sequences, not {steps} of {batch}",
            stream.steps,
            stream.state.now.len()
        );
        anyhow::ensure!(
            n_in == tables.n_in,
            "the stream's x has {n_in} input channels, the network {}",
            tables.n_in
        );
        let outputs: Vec<SequenceOutput> = stream
            .state
            .now
            .par_iter_mut()
            .enumerate()
            .map(|(b, state)| {
                let mut out = SequenceOutput::default();
                forward_sequence(
                    tables,
                    x.index_axis(Axis(1), b),
                    b as u32,
                    noise_seed,
                    state,
                    &mut out,
                    None,
                );
                out
            })
            .collect();
        let frames = tables.decisions(steps);
        Ok(Array3::from_shape_fn(
            (frames, batch, n_out),
            |(f, b, o)| outputs[b].y[f * n_out + o],
        ))
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
        let mut bits = Vec::new();
        for s in &stream.state.now {
            let floats = s
                .z_prev
                .iter()
                .chain(&s.v)
                .chain(&s.b)
                .chain(&s.ring)
                .chain(&s.p);
            bits.extend(floats.map(|x| x.to_bits()));
            bits.extend(&s.refractory_left);
        }
        Ok(bits)
    }

    fn network(&self) -> anyhow::Result<Network> {
        Ok(self.network.clone())
    }

    fn adam_moments(&self) -> anyhow::Result<(Vec<f32>, Vec<f32>)> {
        Ok((self.adam.m.clone(), self.adam.v.clone()))
    }

    fn set_adam_moments(&mut self, m: &[f32], v: &[f32]) -> anyhow::Result<()> {
        let len = self.network.params.len();
        anyhow::ensure!(
            m.len() == len && v.len() == len,
            "Adam moments of {} and {} entries for {len} parameters",
            m.len(),
            v.len()
        );
        self.adam.m = m.to_vec();
        self.adam.v = v.to_vec();
        Ok(())
    }

    fn set_rewiring(&mut self, deep_r: DeepR) -> anyhow::Result<()> {
        self.deep_r = Some(deep_r);
        self.rebuild_tables();
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
