//! Native losses (docs/model.md §4, M9) from the decisions' outputs of every sequence, and the
//! output errors δy that start BPTT: the twin of the loss half of `src/cpu/readout_loss.rs`
//! and of `output_errors` in `src/cpu/alif_backward.rs`.
//!
//! The sums run in the reference's order (decisions, then sequences, then outputs), with the
//! reference's own softmax, so losses, probabilities and predictions are bit-identical to the
//! f32 reference.

use ndarray::Array3;

use super::alif_forward::SequenceOutput;
use super::tables::Tables;
use crate::cpu::readout_loss::{argmax, softmax};
use crate::engine::BatchStats;
use crate::model::{Readout, Targets};

/// The batch's losses and what the readout decided.
#[derive(Clone, Debug)]
pub struct BatchLoss {
    /// Losses, scores and rates r̄_j (M9), as every engine reports them.
    pub stats: BatchStats,
    /// Softmax probabilities [decisions, B, n_out] (classification) or the outputs
    /// themselves (regression), as [`crate::cpu::LossOutput::probs`].
    pub probs: Array3<f32>,
}

/// Losses of a batch whose sequences produced `outputs` (in batch order) over `steps` steps.
pub fn batch_loss(
    tab: &Tables,
    outputs: &[&SequenceOutput],
    targets: &Targets,
    steps: usize,
) -> BatchLoss {
    let batch = outputs.len();
    let n_out = tab.n_out;
    let decisions = tab.decisions(steps);
    let mut probs = Array3::<f32>::zeros((decisions, batch, n_out));
    let mut loss_task = 0.0f32;
    let mut correct = 0;
    let mut scored = 0;
    let y = |d: usize, b: usize| &outputs[b].y[d * n_out..(d + 1) * n_out];
    match (tab.readout, targets) {
        (Readout::Window(_), Targets::Labels(labels)) => {
            for b in 0..batch {
                let logits = y(0, b);
                let (pr, lse) = softmax(logits);
                let label = labels[b] as usize;
                loss_task += lse - logits[label];
                correct += usize::from(argmax(logits) == label);
                scored += 1;
                for o in 0..n_out {
                    probs[[0, b, o]] = pr[o];
                }
            }
            loss_task /= batch as f32;
        }
        (Readout::Framewise(k), Targets::FrameLabels(labels)) => {
            for f in 0..decisions {
                for b in 0..batch {
                    let logits = y(f, b);
                    let (pr, lse) = softmax(logits);
                    for o in 0..n_out {
                        probs[[f, b, o]] = pr[o];
                    }
                    let label = labels[[f * k + k - 1, b]];
                    if label >= 0 {
                        loss_task += lse - logits[label as usize];
                        correct += usize::from(argmax(logits) == label as usize);
                        scored += 1;
                    }
                }
            }
            loss_task /= scored.max(1) as f32;
        }
        (Readout::Regression(k), Targets::FrameValues(values)) => {
            for f in 0..decisions {
                for b in 0..batch {
                    let out = y(f, b);
                    for o in 0..n_out {
                        probs[[f, b, o]] = out[o];
                    }
                    let last = f * k + k - 1;
                    if values[[last, b, 0]].is_finite() {
                        for o in 0..n_out {
                            let e = out[o] - values[[last, b, o]];
                            loss_task += e * e;
                        }
                        scored += 1;
                    }
                }
            }
            loss_task /= (scored.max(1) * n_out) as f32;
        }
        (readout, _) => unreachable!("targets checked against the {readout:?} readout"),
    }

    // M9: r̄_j = (spikes of j)·(1/dt)/(B·T); L_reg = c·Σ_j (r̄_j − f0)².
    let inv_bt = (1.0 / (batch * steps) as f64) as f32;
    let f0 = tab.reg_rate_per_ms;
    let mut loss_reg = 0.0f32;
    let rates: Vec<f32> = (0..tab.n)
        .map(|j| {
            let count: u32 = outputs.iter().map(|o| o.spike_count[j]).sum();
            let rate = count as f32 * tab.z_value * inv_bt;
            let e = rate - f0;
            loss_reg += e * e;
            rate
        })
        .collect();
    loss_reg *= tab.reg_coeff;
    BatchLoss {
        stats: BatchStats {
            loss: loss_task + loss_reg,
            loss_task,
            loss_reg,
            correct,
            scored,
            rates,
        },
        probs,
    }
}

/// δy of every decision of sequence `b`, [decisions, n_out]: the derivative of the task loss
/// with respect to the output y_t at each step the decision averages (zero for unscored
/// frames). Every step of a decision receives the same δy.
pub fn output_errors(
    tab: &Tables,
    loss: &BatchLoss,
    targets: &Targets,
    b: usize,
    batch: usize,
    out: &mut Vec<f32>,
) {
    let n_out = tab.n_out;
    let (decisions, _, _) = loss.probs.dim();
    out.clear();
    out.resize(decisions * n_out, 0.0);
    match (tab.readout, targets) {
        (Readout::Window(k), Targets::Labels(labels)) => {
            // logits = mean of the last K outputs: δy_t = (softmax − onehot)/(B·K) there.
            let scale = (1.0 / (batch * k) as f64) as f32;
            for o in 0..n_out {
                let onehot = f32::from(labels[b] as usize == o);
                out[o] = (loss.probs[[0, b, o]] - onehot) * scale;
            }
        }
        (Readout::Framewise(k), Targets::FrameLabels(labels)) => {
            let scale = (1.0 / (loss.stats.scored.max(1) * k) as f64) as f32;
            for f in 0..decisions {
                let label = labels[[f * k + k - 1, b]];
                if label < 0 {
                    continue;
                }
                for o in 0..n_out {
                    let onehot = f32::from(label as usize == o);
                    out[f * n_out + o] = (loss.probs[[f, b, o]] - onehot) * scale;
                }
            }
        }
        (Readout::Regression(k), Targets::FrameValues(values)) => {
            let scale = (2.0 / (loss.stats.scored.max(1) * n_out * k) as f64) as f32;
            for f in 0..decisions {
                let last = f * k + k - 1;
                if !values[[last, b, 0]].is_finite() {
                    continue;
                }
                for o in 0..n_out {
                    out[f * n_out + o] = (loss.probs[[f, b, o]] - values[[last, b, o]]) * scale;
                }
            }
        }
        (readout, _) => unreachable!("targets checked against the {readout:?} readout"),
    }
}
