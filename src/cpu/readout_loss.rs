//! Reference readout and losses, M7–M9: the twin of `shaders/readout_loss.wgsl`, with the
//! batch totals of M9 in `loss_reduce.rs` (the twin of `shaders/loss_reduce.wgsl`).

use ndarray::{Array1, Array2, Array3};

use super::alif_forward::{ForwardTrace, ParamsOf};
use super::loss_reduce::rates_and_regulariser;
use super::real::Real;
use crate::model::{Network, Readout, Targets};

#[derive(Clone, Debug)]
pub struct LossOutput<S> {
    /// Total loss = task loss + L_reg.
    pub loss: S,
    /// Softmax cross-entropy (mean over sequences, or over scored frames).
    pub loss_task: S,
    /// L_reg of M9.
    pub loss_reg: S,
    /// p_t of M7, [T, B, N].
    pub trace_out: Array3<S>,
    /// Softmax probabilities: [1, B, n_out] for the window readout, [T/k, B, n_out] for the
    /// framewise readout with k steps per frame; for the regression readout the frame
    /// outputs themselves, [T/k, B, n_out].
    pub probs: Array3<S>,
    /// r̄_j of M9, spikes per ms, [N].
    pub rates: Array1<S>,
    /// Correct argmax predictions and the number of scored predictions.
    pub correct: usize,
    pub scored: usize,
}

/// log-sum-exp softmax of one row of logits: returns (probabilities, log Σ exp).
pub fn softmax<S: Real>(logits: &[S]) -> (Vec<S>, S) {
    let mut max = logits[0];
    for &l in logits {
        if l > max {
            max = l;
        }
    }
    let exps: Vec<S> = logits.iter().map(|&l| (l - max).exp()).collect();
    let mut sum = S::zero();
    for &e in &exps {
        sum += e;
    }
    let probs = exps.iter().map(|&e| e / sum).collect();
    (probs, max + sum.ln())
}

pub fn argmax<S: Real>(v: &[S]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best
}

/// y = p·W_out + b_out for one (t, b) (M8).
fn output<S: Real>(params: &ParamsOf<S>, p: &[S]) -> Vec<S> {
    let n_out = params.b_out.len();
    (0..n_out)
        .map(|o| {
            let mut y = params.b_out[o];
            for (j, &pj) in p.iter().enumerate() {
                y += pj * params.w_out[[j, o]];
            }
            y
        })
        .collect()
}

pub fn readout_loss<S: Real>(
    net: &Network,
    params: &ParamsOf<S>,
    trace: &ForwardTrace<S>,
    targets: &Targets,
) -> LossOutput<S> {
    let (_, batch, n) = trace.z.dim();
    readout_loss_from(
        net,
        params,
        trace,
        targets,
        &Array2::from_elem((batch, n), S::zero()),
    )
}

/// [`readout_loss`] with the output trace p_0 = `p_start` [B, N] (the last p_t of an earlier
/// pass that this one continues; zero for a fresh pass). Frames start at this pass's step 1.
pub fn readout_loss_from<S: Real>(
    net: &Network,
    params: &ParamsOf<S>,
    trace: &ForwardTrace<S>,
    targets: &Targets,
    p_start: &Array2<S>,
) -> LossOutput<S> {
    let (t_len, batch, n) = trace.z.dim();
    let n_out = net.n_out();
    if let Some(k) = net.sim.readout.steps_per_frame() {
        assert!(
            k > 0 && t_len % k == 0,
            "{t_len} steps are not whole frames of {k}"
        );
    }
    let kappa = S::from_f64(net.sim.kappa() as f64);

    // M7: p_t = κ·p_{t−1} + (1 − κ)·z_t.
    let mut p = Array3::from_elem((t_len, batch, n), S::zero());
    for bi in 0..batch {
        let mut prev = p_start.row(bi).to_vec();
        for ti in 0..t_len {
            for j in 0..n {
                prev[j] = kappa * prev[j] + (S::one() - kappa) * trace.z[[ti, bi, j]];
                p[[ti, bi, j]] = prev[j];
            }
        }
    }

    let mut loss_task = S::zero();
    let mut correct = 0;
    let mut scored = 0;
    let probs = match (net.sim.readout, targets) {
        (Readout::Window(k), Targets::Labels(labels)) => {
            let mut probs = Array3::from_elem((1, batch, n_out), S::zero());
            let inv_k = S::from_f64(1.0 / k as f64);
            for bi in 0..batch {
                // Mean of y_t over the last K steps = (mean of p_t)·W_out + b_out.
                let mut pbar = vec![S::zero(); n];
                for ti in t_len - k..t_len {
                    for j in 0..n {
                        pbar[j] += p[[ti, bi, j]] * inv_k;
                    }
                }
                let logits = output(params, &pbar);
                let (pr, lse) = softmax(&logits);
                let label = labels[bi] as usize;
                loss_task += lse - logits[label];
                correct += usize::from(argmax(&logits) == label);
                scored += 1;
                for o in 0..n_out {
                    probs[[0, bi, o]] = pr[o];
                }
            }
            loss_task = loss_task / S::from_f64(batch as f64);
            probs
        }
        (Readout::Framewise(k), Targets::FrameLabels(labels)) => {
            // Frames of k steps: logits = mean of y_t over the frame = (mean of p_t)·W_out +
            // b_out, scored against the label of the frame's last step.
            let frames = t_len / k;
            let inv_k = S::from_f64(1.0 / k as f64);
            let mut probs = Array3::from_elem((frames, batch, n_out), S::zero());
            for f in 0..frames {
                for bi in 0..batch {
                    let label = labels[[f * k + k - 1, bi]];
                    let mut pbar = vec![S::zero(); n];
                    for ti in f * k..(f + 1) * k {
                        for j in 0..n {
                            pbar[j] += p[[ti, bi, j]] * inv_k;
                        }
                    }
                    let logits = output(params, &pbar);
                    let (pr, lse) = softmax(&logits);
                    for o in 0..n_out {
                        probs[[f, bi, o]] = pr[o];
                    }
                    if label >= 0 {
                        loss_task += lse - logits[label as usize];
                        correct += usize::from(argmax(&logits) == label as usize);
                        scored += 1;
                    }
                }
            }
            loss_task = loss_task / S::from_f64(scored.max(1) as f64);
            probs
        }
        (Readout::Regression(k), Targets::FrameValues(values)) => {
            // Frame outputs = mean of y_t over the frame; squared error against the target
            // of the frame's last step, mean over scored frames and outputs.
            let frames = t_len / k;
            let inv_k = S::from_f64(1.0 / k as f64);
            let mut outputs = Array3::from_elem((frames, batch, n_out), S::zero());
            for f in 0..frames {
                for bi in 0..batch {
                    let mut pbar = vec![S::zero(); n];
                    for ti in f * k..(f + 1) * k {
                        for j in 0..n {
                            pbar[j] += p[[ti, bi, j]] * inv_k;
                        }
                    }
                    let y = output(params, &pbar);
                    for o in 0..n_out {
                        outputs[[f, bi, o]] = y[o];
                    }
                    let last = f * k + k - 1;
                    if values[[last, bi, 0]].is_finite() {
                        for o in 0..n_out {
                            let e = y[o] - S::from_f64(values[[last, bi, o]] as f64);
                            loss_task += e * e;
                        }
                        scored += 1;
                    }
                }
            }
            loss_task = loss_task / S::from_f64((scored.max(1) * n_out) as f64);
            outputs
        }
        (readout, _) => panic!("targets do not match the {readout:?} readout"),
    };

    let (rates, loss_reg) = rates_and_regulariser(&trace.z, net);

    LossOutput {
        loss: loss_task + loss_reg,
        loss_task,
        loss_reg,
        trace_out: p,
        probs,
        rates,
        correct,
        scored,
    }
}

/// The readout's output y_t for every step (for figures): [T, B, n_out].
pub fn outputs_over_time<S: Real>(params: &ParamsOf<S>, trace_out: &Array3<S>) -> Array3<S> {
    let (t_len, batch, n) = trace_out.dim();
    let n_out = params.b_out.len();
    let mut y = Array3::from_elem((t_len, batch, n_out), S::zero());
    for ti in 0..t_len {
        for bi in 0..batch {
            let pt: Vec<S> = (0..n).map(|j| trace_out[[ti, bi, j]]).collect();
            for (o, v) in output(params, &pt).into_iter().enumerate() {
                y[[ti, bi, o]] = v;
            }
        }
    }
    y
}

/// The predicted class of every decision the readout makes, from the probabilities of
/// [`LossOutput::probs`]: [1, B] for the window readout, [T/k, B] framewise.
pub fn predictions<S: Real>(probs: &Array3<S>) -> ndarray::Array2<i32> {
    let (decisions, batch, n_out) = probs.dim();
    ndarray::Array2::from_shape_fn((decisions, batch), |(d, b)| {
        let row: Vec<S> = (0..n_out).map(|o| probs[[d, b, o]]).collect();
        argmax(&row) as i32
    })
}
