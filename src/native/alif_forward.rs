//! Native forward pass, M1–M8 for one sequence: the twin of `src/cpu/alif_forward.rs` and
//! the forward half of `src/cpu/readout_loss.rs`, written for speed.
//!
//! Event-driven input: only non-zero inputs and the neurons that spiked at the previous step
//! fan out into the delay ring (docs/model.md M1), synapse by synapse, in the same order as
//! the reference (inputs by channel, then spikes by neuron), so every ring slot receives the
//! same f32 products added in the same order. The neuron update that follows is a
//! branch-free loop over neurons that the compiler vectorises, with the reference's
//! expressions term for term. The result is bit-identical to the f32 reference: same spikes,
//! same voltages, same readout.

use ndarray::ArrayView2;

use super::tables::Tables;
use crate::cpu::noise::noise_normal;

/// Flag bits of a neuron-step in [`SequenceRecord::flags`].
pub const FLAG_SPIKE: u8 = 1;
pub const FLAG_REFRACTORY: u8 = 2;

/// The state of one sequence between two steps (docs/model.md §2): what a pass continues
/// from, and what a stream carries from one pass to the next.
#[derive(Clone, Debug, PartialEq)]
pub struct SequenceState {
    /// z_{t−1} [n].
    pub z_prev: Vec<f32>,
    /// v_{t−1} [n].
    pub v: Vec<f32>,
    /// b_{t−1} [n].
    pub b: Vec<f32>,
    /// Steps of refractoriness left [n] (M5).
    pub refractory_left: Vec<u32>,
    /// Delayed input current [n_delay, n], slot s % n_delay holds I_s (M1).
    pub ring: Vec<f32>,
    /// The readout trace p_{t−1} [n] (M7).
    pub p: Vec<f32>,
}

impl SequenceState {
    /// Everything zero: the state before step 1.
    pub fn zeros(n: usize, n_delay: usize) -> SequenceState {
        SequenceState {
            z_prev: vec![0.0; n],
            v: vec![0.0; n],
            b: vec![0.0; n],
            refractory_left: vec![0; n],
            ring: vec![0.0; n_delay * n],
            p: vec![0.0; n],
        }
    }

    pub fn reset(&mut self) {
        self.z_prev.fill(0.0);
        self.v.fill(0.0);
        self.b.fill(0.0);
        self.refractory_left.fill(0);
        self.ring.fill(0.0);
        self.p.fill(0.0);
    }
}

/// What BPTT needs of each step, [T, n] row-major: the voltage the spike was computed from,
/// the adaptive threshold, and whether the neuron spiked or was refractory; and the spikes as
/// lists per step, for the event-driven weight gradients.
#[derive(Clone, Debug, Default)]
pub struct SequenceRecord {
    pub steps: usize,
    /// v_{t−1} (M5).
    pub v_prev: Vec<f32>,
    /// A_t (M3).
    pub thr: Vec<f32>,
    /// [`FLAG_SPIKE`] | [`FLAG_REFRACTORY`].
    pub flags: Vec<u8>,
    /// Step t's spiking neurons (0-based step) are `spikes[spike_start[t]..spike_start[t + 1]]`.
    pub spike_start: Vec<u32>,
    pub spikes: Vec<u32>,
}

impl SequenceRecord {
    fn prepare(&mut self, steps: usize, n: usize) {
        self.steps = steps;
        // Every entry is written by the pass; resize keeps the allocation between iterations.
        self.v_prev.resize(steps * n, 0.0);
        self.thr.resize(steps * n, 0.0);
        self.flags.resize(steps * n, 0);
        self.spike_start.clear();
        self.spike_start.push(0);
        self.spikes.clear();
    }

    /// Neurons that spiked at step index `ti` (0-based).
    #[inline]
    pub fn spikes_at(&self, ti: usize) -> &[u32] {
        &self.spikes[self.spike_start[ti] as usize..self.spike_start[ti + 1] as usize]
    }
}

/// The readout's view of one pass: the mean readout trace of every decision (window or
/// frame) and its output y = p̄·W_out + b_out (M8), and spike counts per neuron (M9).
#[derive(Clone, Debug, Default)]
pub struct SequenceOutput {
    /// [decisions, n]: mean of p_t over the decision's steps.
    pub p_mean: Vec<f32>,
    /// [decisions, n_out]: logits (classification) or outputs (regression).
    pub y: Vec<f32>,
    /// Spikes per neuron over the pass [n].
    pub spike_count: Vec<u32>,
}

/// Runs one sequence `x` [T, n_in] from `state` (left at the state after step T), numbering
/// its steps 1…T; `seq` is its index in the batch, for the noise of M1. Fills `out` and, for
/// BPTT, `record`.
pub fn forward_sequence(
    tab: &Tables,
    x: ArrayView2<f32>,
    seq: u32,
    noise_seed: u32,
    state: &mut SequenceState,
    out: &mut SequenceOutput,
    mut record: Option<&mut SequenceRecord>,
) {
    let (t_len, n_in) = x.dim();
    let n = tab.n;
    let nd = tab.n_delay;
    assert_eq!(n_in, tab.n_in, "input width does not match the network");
    assert_eq!(state.v.len(), n);

    let k = tab.steps_per_decision();
    let decisions = tab.decisions(t_len);
    out.p_mean.clear();
    out.p_mean.resize(decisions * n, 0.0);
    out.y.clear();
    out.y.resize(decisions * tab.n_out, 0.0);
    out.spike_count.clear();
    out.spike_count.resize(n, 0);
    if let Some(r) = record.as_deref_mut() {
        r.prepare(t_len, n);
    }
    // The 1/K of a decision's mean readout trace.
    let inv_k = (1.0 / k as f64) as f32;
    let SequenceState {
        z_prev,
        v,
        b,
        refractory_left,
        ring,
        p,
    } = state;
    let mut z_now = vec![0.0f32; n];
    // Where the step's v_{t−1} and A_t go when nothing is recorded.
    let (mut scratch_v, mut scratch_thr) = (vec![0.0f32; n], vec![0.0f32; n]);
    let mut slot_of_delay = vec![0usize; nd];
    // Spikes of the previous step, by neuron (the reference's k order).
    let mut prev_spikes: Vec<u32> = (0..n as u32)
        .filter(|&j| z_prev[j as usize] != 0.0)
        .collect();

    for t in 1..=t_len {
        let ti = t - 1;
        for (d, s) in slot_of_delay.iter_mut().enumerate() {
            *s = ((t + d) % nd) * n;
        }
        // M1: x_t reaches I_{t+d}, channel by channel.
        let xt = x.row(ti);
        for (i, &xv) in xt.iter().enumerate() {
            if xv != 0.0 {
                if let Some((reach, w)) = tab.input.contiguous_run(i) {
                    let slot = slot_of_delay[reach / n];
                    for (c, &wv) in ring[slot..slot + n].iter_mut().zip(w) {
                        *c += xv * wv;
                    }
                    continue;
                }
                for e in tab.input.row(i) {
                    let slot = slot_of_delay[tab.input.delay[e] as usize];
                    ring[slot + tab.input.post[e] as usize] += xv * tab.input.weight[e];
                }
            }
        }
        // M1: z_{t−1} reaches I_{t+d}, neuron by neuron.
        for &kk in &prev_spikes {
            let zk = z_prev[kk as usize];
            if let Some((reach, w)) = tab.recurrent.contiguous_run(kk as usize) {
                let slot = slot_of_delay[reach / n];
                for (c, &wv) in ring[slot..slot + n].iter_mut().zip(w) {
                    *c += zk * wv;
                }
                continue;
            }
            for e in tab.recurrent.row(kk as usize) {
                let slot = slot_of_delay[tab.recurrent.delay[e] as usize];
                ring[slot + tab.recurrent.post[e] as usize] += zk * tab.recurrent.weight[e];
            }
        }
        let slot = (t % nd) * n;
        let current = &mut ring[slot..slot + n];
        if tab.noise_std > 0.0 {
            for (j, c) in current.iter_mut().enumerate() {
                *c += tab.noise_std * noise_normal(noise_seed, t as u32, seq, j as u32);
            }
        }
        // M2–M5, every neuron; the same expressions as the reference, term for term, in a
        // loop without branches over slices of one length, which the compiler vectorises.
        let (zv, dt, n_ref) = (tab.z_value, tab.dt, tab.n_ref);
        let row = ti * n..ti * n + n;
        let (v_prev_row, thr_row) = match record.as_deref_mut() {
            Some(r) => {
                for (f, &left) in r.flags[row.clone()].iter_mut().zip(refractory_left.iter()) {
                    *f = u8::from(left > 0) * FLAG_REFRACTORY;
                }
                (&mut r.v_prev[row.clone()], &mut r.thr[row.clone()])
            }
            None => (&mut scratch_v[..], &mut scratch_thr[..]),
        };
        {
            let (v, b, z_prev, left) = (
                &mut v[..n],
                &mut b[..n],
                &z_prev[..n],
                &mut refractory_left[..n],
            );
            let (rho, omr, thr, beta) = (
                &tab.rho[..n],
                &tab.one_minus_rho[..n],
                &tab.thr[..n],
                &tab.beta[..n],
            );
            let (alpha, oma, current) = (&tab.alpha[..n], &tab.one_minus_alpha[..n], &current[..n]);
            let (v_prev_row, thr_row, z_now) =
                (&mut v_prev_row[..n], &mut thr_row[..n], &mut z_now[..n]);
            for j in 0..n {
                let b_t = rho[j] * b[j] + omr[j] * z_prev[j];
                let thr_t = thr[j] + beta[j] * b_t;
                let refractory = left[j] > 0;
                let u = (v[j] - thr_t) / thr_t;
                let z_t = if !refractory && u > 0.0 { zv } else { 0.0 };
                let v_t = alpha[j] * v[j] + oma[j] * current[j] - thr_t * z_prev[j] * dt;
                v_prev_row[j] = v[j];
                thr_row[j] = thr_t;
                left[j] = if z_t != 0.0 {
                    n_ref
                } else {
                    left[j].saturating_sub(1)
                };
                v[j] = v_t;
                b[j] = b_t;
                z_now[j] = z_t;
            }
        }
        current.fill(0.0);
        z_prev.copy_from_slice(&z_now);
        prev_spikes.clear();
        for (j, &z) in z_now.iter().enumerate() {
            if z != 0.0 {
                prev_spikes.push(j as u32);
                out.spike_count[j] += 1;
            }
        }
        if let Some(r) = record.as_deref_mut() {
            for &j in &prev_spikes {
                r.flags[row.start + j as usize] |= FLAG_SPIKE;
            }
            r.spikes.extend_from_slice(&prev_spikes);
            r.spike_start.push(r.spikes.len() as u32);
        }
        // M7: p_t = κ·p_{t−1} + (1 − κ)·z_t, and the decision's mean of p_t.
        for (pj, &z) in p.iter_mut().zip(&z_now) {
            *pj = tab.kappa * *pj + tab.one_minus_kappa * z;
        }
        if let Some(d) = tab.decision_at(ti, t_len) {
            let mean = &mut out.p_mean[d * n..(d + 1) * n];
            for (m, &pj) in mean.iter_mut().zip(p.iter()) {
                *m += pj * inv_k;
            }
        }
    }
    // M8: y = p̄·W_out + b_out, summed over neurons in order as the reference.
    let n_out = tab.n_out;
    for d in 0..decisions {
        let mean = &out.p_mean[d * n..(d + 1) * n];
        for o in 0..n_out {
            let mut y = tab.b_out[o];
            for (j, &m) in mean.iter().enumerate() {
                y += m * tab.w_out[j * n_out + o];
            }
            out.y[d * n_out + o] = y;
        }
    }
}
