//! Native BPTT for one sequence, B1–B7 of docs/model.md §3b: the twin of
//! `src/cpu/alif_backward.rs`, written for speed.
//!
//! Three things make it cheap where the reference is dense:
//! - δz_t matters only through δu_t = δz_t·ψ_t/dt (B2), so the recurrent part of B6
//!   (Σ_j W_rec[k,j]·δI_{t+1+d}[j]) is gathered only for the neurons with ψ_t ≠ 0, a few
//!   percent of the neuron-steps, and only over their non-zero synapses.
//! - The weight gradients of B6 are outer products with spikes: each input event and each
//!   spike gathers the δI of the steps its synapses reach, one row of ∂W per event.
//! - The readout's δy is constant over a decision (window or frame), so δy·W_outᵀ and the
//!   readout gradients are computed once per decision, not per step.
//!
//! δI_t is kept for every step, row t of a buffer that runs n_delay steps past T (zeros: no
//! current after the last step), so a synapse of delay d from a spike of step t reads row
//! t + 1 at offset d·n + j ([`Synapses::reach`]) with no index arithmetic per synapse. Sums run
//! in another order than the reference's (the δz gather in four partial sums, to keep the
//! adder busy), so gradients agree within f32 rounding, not bit for bit.

use ndarray::ArrayView2;

use super::alif_forward::{SequenceOutput, SequenceRecord, FLAG_REFRACTORY};
use super::synapses::Synapses;
use super::tables::Tables;
use crate::model::ParamLayout;

/// Gradient sums of the trained parameters, flat like [`crate::model::Params::to_flat`].
#[derive(Clone, Debug)]
pub struct GradientSums {
    pub n_in: usize,
    pub n: usize,
    pub n_out: usize,
    pub flat: Vec<f32>,
}

impl GradientSums {
    pub fn zeros(n_in: usize, n: usize, n_out: usize) -> GradientSums {
        GradientSums {
            n_in,
            n,
            n_out,
            flat: vec![0.0; ParamLayout::new(n_in, n, n_out).len()],
        }
    }

    /// `self` + `other`, entry by entry.
    pub fn plus(mut self, other: GradientSums) -> GradientSums {
        for (a, b) in self.flat.iter_mut().zip(&other.flat) {
            *a += b;
        }
        self
    }

    /// (∂W_in, ∂W_rec, ∂W_out, ∂b_out) as mutable slices.
    /// The blocks are cut in their packed order ([`crate::model::PACKED_ORDER`]), which
    /// tiles the flat vector, and handed back by tensor.
    fn parts(&mut self) -> (&mut [f32], &mut [f32], &mut [f32], &mut [f32]) {
        let layout = ParamLayout::new(self.n_in, self.n, self.n_out);
        let mut by_tensor: [Option<&mut [f32]>; 4] = [None, None, None, None];
        let mut rest = self.flat.as_mut_slice();
        for block in layout.blocks() {
            let (part, tail) = std::mem::take(&mut rest).split_at_mut(block.len());
            by_tensor[block.tensor as usize] = Some(part);
            rest = tail;
        }
        let [w_in, w_rec, w_out, b_out] =
            by_tensor.map(|part| part.expect("PACKED_ORDER lists every tensor"));
        (w_in, w_rec, w_out, b_out)
    }
}

/// Working memory of one backward sweep, reused from sequence to sequence.
#[derive(Clone, Debug, Default)]
pub struct BackwardScratch {
    readout_error: Vec<f32>,
    d_current: Vec<f32>,
    dp_next: Vec<f32>,
    dv_next: Vec<f32>,
    du_next: Vec<f32>,
    thr_next: Vec<f32>,
    db_next: Vec<f32>,
    dz_local: Vec<f32>,
    dz_recurrent: Vec<f32>,
    psi: Vec<f32>,
    z_prev: Vec<f32>,
    active: Vec<u32>,
    zeros: Vec<f32>,
}

/// BPTT through one sequence: `x` [T, n_in] its input, `record` and `out` its forward pass,
/// `dy` [decisions, n_out] the output errors of its decisions, `dz_reg` [n] the regulariser's
/// δz (the same at every step, B1). Adds the sequence's gradients into `grads`.
#[allow(clippy::too_many_arguments)]
pub fn backward_sequence(
    tab: &Tables,
    x: ArrayView2<f32>,
    record: &SequenceRecord,
    out: &SequenceOutput,
    dy: &[f32],
    dz_reg: &[f32],
    grads: &mut GradientSums,
    s: &mut BackwardScratch,
) {
    let n = tab.n;
    let n_out = tab.n_out;
    let t_len = record.steps;
    let k = tab.steps_per_decision();
    let decisions = tab.decisions(t_len);
    let (g_in, g_rec, g_out, g_b) = grads.parts();

    // Readout, once per decision: e_d = δy_d·W_outᵀ; ∂W_out += (Σ_t p_t)ᵀ·δy_d with
    // Σ_t p_t = K·p̄_d over the decision's K steps; ∂b_out += K·δy_d.
    let kf = k as f32;
    s.readout_error.clear();
    s.readout_error.resize(decisions * n, 0.0);
    for d in 0..decisions {
        let dyd = &dy[d * n_out..(d + 1) * n_out];
        if dyd.iter().all(|&g| g == 0.0) {
            continue;
        }
        let mean = &out.p_mean[d * n..(d + 1) * n];
        for j in 0..n {
            let w = &tab.w_out[j * n_out..(j + 1) * n_out];
            let mut e = 0.0f32;
            for o in 0..n_out {
                e += dyd[o] * w[o];
                g_out[j * n_out + o] += kf * mean[j] * dyd[o];
            }
            s.readout_error[d * n + j] = e;
        }
        for o in 0..n_out {
            g_b[o] += kf * dyd[o];
        }
    }
    let reset = |v: &mut Vec<f32>, value: f32| {
        v.clear();
        v.resize(n, value);
    };
    // Row t (1…T + n_delay) holds δI_t; rows past T stay zero.
    s.d_current.clear();
    s.d_current.resize((t_len + tab.n_delay + 1) * n, 0.0);
    reset(&mut s.dp_next, 0.0);
    reset(&mut s.dv_next, 0.0);
    reset(&mut s.du_next, 0.0);
    reset(&mut s.thr_next, 1.0);
    reset(&mut s.db_next, 0.0);
    reset(&mut s.dz_local, 0.0);
    reset(&mut s.dz_recurrent, 0.0);
    reset(&mut s.psi, 0.0);
    reset(&mut s.zeros, 0.0);

    let (zv, dt, inv_dt, gamma) = (tab.z_value, tab.dt, tab.inv_dt, tab.gamma);
    for t in (1..=t_len).rev() {
        let ti = t - 1;
        let row = ti * n..ti * n + n;
        let v_prev = &record.v_prev[row.clone()];
        let thr = &record.thr[row.clone()];
        let flags = &record.flags[row.clone()];
        // M6, B2: ψ_t, zero on refractory steps.
        {
            let (psi, v_prev, thr, flags) = (&mut s.psi[..n], &v_prev[..n], &thr[..n], &flags[..n]);
            for j in 0..n {
                let u = (v_prev[j] - thr[j]) / thr[j];
                let p = (1.0 - u.abs()).max(0.0) * gamma;
                psi[j] = if flags[j] & FLAG_REFRACTORY != 0 {
                    0.0
                } else {
                    p
                };
            }
        }
        s.active.clear();
        s.active
            .extend((0..n as u32).filter(|&j| s.psi[j as usize] != 0.0));
        // B6 (δz part), only where ψ_t ≠ 0: δz_t[k] += Σ_j W_rec[k,j]·δI_{t+1+d}[j].
        let later = &s.d_current[(t + 1) * n..];
        for &kk in &s.active {
            s.dz_recurrent[kk as usize] = gather_dot(&tab.recurrent, kk as usize, later);
        }
        let readout_error = match tab.decision_at(ti, t_len) {
            Some(d) => &s.readout_error[d * n..(d + 1) * n],
            None => &s.zeros[..],
        };
        // z_{t−1} (B4), from the previous step's spikes.
        s.z_prev.clear();
        s.z_prev.resize(n, 0.0);
        if ti > 0 {
            for &j in record.spikes_at(ti - 1) {
                s.z_prev[j as usize] = zv;
            }
        }
        let d_current = &mut s.d_current[t * n..(t + 1) * n];
        {
            let (dp_next, dv_next, du_next, thr_next, db_next) = (
                &mut s.dp_next[..n],
                &mut s.dv_next[..n],
                &mut s.du_next[..n],
                &mut s.thr_next[..n],
                &mut s.db_next[..n],
            );
            let (dz_local, dz_rec, psi, z_prev) = (
                &mut s.dz_local[..n],
                &s.dz_recurrent[..n],
                &s.psi[..n],
                &s.z_prev[..n],
            );
            let (alpha, oma, rho, omr, beta) = (
                &tab.alpha[..n],
                &tab.one_minus_alpha[..n],
                &tab.rho[..n],
                &tab.one_minus_rho[..n],
                &tab.beta[..n],
            );
            let (v_prev, thr, readout_error, dz_reg, d_current) = (
                &v_prev[..n],
                &thr[..n],
                &readout_error[..n],
                &dz_reg[..n],
                &mut d_current[..n],
            );
            for j in 0..n {
                // Readout trace: δp_t = δy_t·W_outᵀ + κ·δp_{t+1}.
                let dp = tab.kappa * dp_next[j] + readout_error[j];
                dp_next[j] = dp;
                // B1.
                let dz = tab.one_minus_kappa * dp + dz_reg[j] + dz_local[j] + dz_rec[j];
                // B2.
                let du = dz * psi[j] * inv_dt;
                // B3.
                let dv = alpha[j] * dv_next[j] + du_next[j] / thr_next[j];
                // B4.
                let d_thr = -du * v_prev[j] / (thr[j] * thr[j]) - z_prev[j] * dt * dv;
                // B5.
                let db = rho[j] * db_next[j] + beta[j] * d_thr;
                // B6: δI_t.
                d_current[j] = oma[j] * dv;
                // B7, for step t − 1.
                dz_local[j] = -thr[j] * dt * dv + omr[j] * db;
                dv_next[j] = dv;
                du_next[j] = du;
                thr_next[j] = thr[j];
                db_next[j] = db;
            }
        }
        for &kk in &s.active {
            s.dz_recurrent[kk as usize] = 0.0;
        }
        // B6 (weight part): each spike of step t reaches I_{t+1+d}, each input I_{t+d}.
        let later = &s.d_current[(t + 1) * n..];
        for &kk in record.spikes_at(ti) {
            let kk = kk as usize;
            gather_axpy(
                &tab.recurrent_grad,
                kk,
                zv,
                later,
                &mut g_rec[kk * n..(kk + 1) * n],
            );
        }
        let now = &s.d_current[t * n..];
        for (i, &xv) in x.row(ti).iter().enumerate() {
            if xv != 0.0 {
                gather_axpy(&tab.input_grad, i, xv, now, &mut g_in[i * n..(i + 1) * n]);
            }
        }
    }
}

/// Σ over row `r`'s synapses of weight·rows[reach]: the δz a presynaptic neuron receives from
/// the currents its synapses feed (B6). Partial sums break the chain of dependent adds.
#[inline]
fn gather_dot(syn: &Synapses, r: usize, rows: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    if let Some((start, w)) = syn.contiguous_run(r) {
        // Eight lanes of partial sums: a loop the compiler vectorises.
        let d = &rows[start..start + w.len()];
        let (mut wc, mut dc) = (w.chunks_exact(8), d.chunks_exact(8));
        for (w8, d8) in (&mut wc).zip(&mut dc) {
            for l in 0..8 {
                acc[l] += w8[l] * d8[l];
            }
        }
        for (&wv, &dv) in wc.remainder().iter().zip(dc.remainder()) {
            acc[0] += wv * dv;
        }
        return acc.iter().sum();
    }
    let range = syn.row(r);
    let w = &syn.weight[range.clone()];
    let reach = &syn.reach[range];
    let mut wc = w.chunks_exact(4);
    let mut rc = reach.chunks_exact(4);
    for (w4, r4) in (&mut wc).zip(&mut rc) {
        for l in 0..4 {
            acc[l] += w4[l] * rows[r4[l] as usize];
        }
    }
    for (&wv, &rv) in wc.remainder().iter().zip(rc.remainder()) {
        acc[0] += wv * rows[rv as usize];
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}

/// grad[post] += value·rows[reach] over row `r`'s synapses: one presynaptic event's row of
/// the weight gradient (B6).
#[inline]
fn gather_axpy(syn: &Synapses, r: usize, value: f32, rows: &[f32], grad: &mut [f32]) {
    if let Some((start, w)) = syn.contiguous_run(r) {
        for (g, &d) in grad.iter_mut().zip(&rows[start..start + w.len()]) {
            *g += value * d;
        }
        return;
    }
    let range = syn.row(r);
    for (&j, &reach) in syn.post[range.clone()].iter().zip(&syn.reach[range]) {
        grad[j as usize] += value * rows[reach as usize];
    }
}
