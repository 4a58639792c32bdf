//! Loop budgets: how many time steps one dispatch of each kernel may cover.
//!
//! llvmpipe/lavapipe (Mesa's gallivm, measured on Mesa 22.3.6) stop every loop of an
//! invocation once it has run 65535 loop iterations in total during one dispatch, silently:
//! the kernel then computes garbage. `GpuContext::loop_limit` holds the measured cap. These
//! functions bound, for the worst case (every input non-zero, every neuron spiking), the loop
//! iterations one invocation runs per time step and once per dispatch, loop by loop as written
//! in the kernels; the engine then picks chunk lengths that stay under the cap.

use super::layout::Dims;

/// Worst-case loop iterations of one invocation: `per_step` for each step of the chunk plus
/// `fixed` once per dispatch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoopCost {
    pub per_step: u64,
    pub fixed: u64,
}

impl LoopCost {
    /// Longest chunk whose cost stays within `budget`; None if not even one step fits.
    pub fn max_steps(&self, budget: u64) -> Option<usize> {
        if self.fixed + self.per_step > budget {
            return None;
        }
        Some(((budget - self.fixed) / self.per_step.max(1)) as usize)
    }
}

struct Shape {
    /// Neurons owned by one invocation.
    owned: u64,
    /// Input bitmask words built by one invocation (each scans up to 32 channels).
    in_words_owned: u64,
    rec_words_owned: u64,
    outs_owned: u64,
    n: u64,
    n_in: u64,
    n_out: u64,
    in_words: u64,
    rec_words: u64,
}

fn shape(d: &Dims, wg: u32) -> Shape {
    let wg = wg as u64;
    Shape {
        owned: (d.n_rec as u64).div_ceil(wg),
        in_words_owned: (d.in_words as u64).div_ceil(wg),
        rec_words_owned: (d.rec_words as u64).div_ceil(wg),
        outs_owned: (d.n_out as u64).div_ceil(wg),
        n: d.n_rec as u64,
        n_in: d.n_in as u64,
        n_out: d.n_out as u64,
        in_words: d.in_words as u64,
        rec_words: d.rec_words as u64,
    }
}

/// Walking the input and spike masks once per step (word loops plus one iteration per set
/// bit) and, per event, the invocation's own neurons.
fn event_loops(s: &Shape) -> u64 {
    s.in_words + s.n_in * (1 + s.owned) + s.rec_words + s.n * (1 + s.owned)
}

/// alif_forward.wgsl: per step the event loops, the update of each owned neuron, the input
/// mask of the next step (33 per word) and the spike masks (clear, copy).
pub fn forward(d: &Dims, wg: u32) -> LoopCost {
    let s = shape(d, wg);
    LoopCost {
        per_step: 1 + event_loops(&s) + s.owned + s.in_words_owned * 33 + 2 * s.rec_words_owned,
        fixed: 8
            + s.owned * (1 + d.state_stride as u64)
            + 2 * s.rec_words_owned
            + s.in_words_owned * 33,
    }
}

/// alif_backward.wgsl: phase 1 per owned neuron (the readout classes), the event loops of the
/// weight gradients, phase 2 (worst case every neuron active: ceil(N/WG) rounds, each finding
/// its row in the active mask, up to every word plus 31 bits, then a dense row of W_rec), and
/// the next step's input and spike words.
pub fn backward(d: &Dims, wg: u32) -> LoopCost {
    let s = shape(d, wg);
    LoopCost {
        per_step: 1
            + s.owned * (1 + s.n_out)
            + event_loops(&s)
            + s.owned * (1 + s.rec_words + 31 + s.n)
            + s.in_words_owned * 33
            + s.rec_words_owned,
        fixed: 8
            + s.owned * (1 + d.bstate_stride as u64 + s.n_in + s.n)
            + s.in_words_owned * 33
            + s.rec_words_owned,
    }
}

/// readout_loss.wgsl: the window readout walks each owned neuron's trace over the chunk and,
/// once, computes the logits, softmax (invocation 0: 4 loops over the classes) and the W_out
/// gradient; the framewise readout does all of that at every step.
pub fn readout(d: &Dims, wg: u32) -> LoopCost {
    let s = shape(d, wg);
    let logits = s.outs_owned * (1 + s.n) + 4 * s.n_out + 4 + s.owned * (1 + s.n_out);
    if d.window > 0 {
        LoopCost {
            per_step: s.owned + 1,
            fixed: 8 + 2 * s.owned + logits,
        }
    } else {
        // Counted as if every step ended a frame (k = 1), an upper bound for any k: the
        // trace update, the frame's logits, softmax, its k dy rows (k·n_out per frame = n_out
        // per step), b_out and the W_out partials.
        LoopCost {
            per_step: 1 + 2 * s.owned + logits + 3 * s.n_out + s.owned * (1 + s.n_out),
            fixed: 8 + s.owned * (2 + s.n_out) + s.outs_owned + 4 * s.owned,
        }
    }
}

/// loss_reduce.wgsl (one dispatch, no chunks): rates over the batch, then sequential sums.
pub fn loss_reduce(d: &Dims, wg: u32) -> u64 {
    let s = shape(d, wg);
    8 + s.owned * (1 + d.batch as u64) + s.n + d.batch as u64
}

/// batch_reduce.wgsl: one loop over the batch.
pub fn batch_reduce(d: &Dims) -> u64 {
    2 + d.batch as u64
}

/// Splits steps 1..=steps into chunks of at most `max_len`: (t0, len), t0 1-based.
pub fn chunks(steps: usize, max_len: usize) -> Vec<(usize, usize)> {
    let len = max_len.max(1);
    (0..steps.div_ceil(len))
        .map(|c| (1 + c * len, len.min(steps - c * len)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_every_step_once() {
        for (steps, len) in [(840, 128), (10, 3), (7, 7), (5, 100), (1, 1)] {
            let c = chunks(steps, len);
            assert_eq!(c[0].0, 1);
            assert_eq!(c.iter().map(|x| x.1).sum::<usize>(), steps);
            for w in c.windows(2) {
                assert_eq!(w[0].0 + w[0].1, w[1].0);
            }
            assert!(c.iter().all(|x| x.1 <= len && x.1 > 0));
        }
    }

    #[test]
    fn max_steps_respects_budget() {
        let c = LoopCost {
            per_step: 100,
            fixed: 50,
        };
        assert_eq!(c.max_steps(1050), Some(10));
        assert_eq!(c.max_steps(149), None);
        assert_eq!(c.max_steps(150), Some(1));
    }
}
