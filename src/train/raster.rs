//! The data of the raster figure, recorded from a trained network: the figure itself
//! (`plot`) draws from this record and never runs the model.

use std::path::Path;

use ndarray::{s, Array2, Axis};

use crate::cpu::alif_forward::{alif_forward, ParamsOf};
use crate::cpu::readout_loss::{outputs_over_time, readout_loss};
use crate::model::{Batch, Network, Targets};
use crate::plot::raster::{nonzero_steps, rows, RasterGroup, RasterInput, RasterRecord};
use crate::plot::run_figures::{self, inhibitory_count};

/// Records the data of the paper's Fig. 1D for the first sequence of `batch`: the input,
/// the spikes of the excitatory, inhibitory and adaptive neurons, the thresholds of up to 8
/// adaptive neurons, and the softmax outputs over time. Simulated by the CPU reference (one
/// sequence, noise seed 0), whichever engine trained the network.
pub fn record_raster(network: &Network, batch: &Batch, constraints: &[u32]) -> RasterRecord {
    let x = batch.x.slice(s![.., 0..1, ..]).to_owned();
    let label = match &batch.targets {
        Targets::Labels(l) => l[0].max(0) as usize,
        Targets::FrameLabels(l) => l[[l.nrows() - 1, 0]].max(0) as usize,
        Targets::FrameValues(_) => 0,
    };
    // The first sequence's own targets (framewise: its column of frame labels).
    let targets = match &batch.targets {
        Targets::Labels(_) => Targets::Labels(ndarray::arr1(&[label as i32])),
        Targets::FrameLabels(l) => Targets::FrameLabels(l.slice(s![.., 0..1]).to_owned()),
        Targets::FrameValues(v) => Targets::FrameValues(v.slice(s![.., 0..1, ..]).to_owned()),
    };
    let params = ParamsOf::<f32>::from_params(&network.params);
    let trace = alif_forward(network, &params, &x, 0);
    let loss = readout_loss(network, &params, &trace, &targets);
    let y = outputs_over_time(&params, &loss.trace_out)
        .index_axis(Axis(1), 0)
        .to_owned();
    // Softmax over classes at every step.
    let mut probs = y.clone();
    for mut row in probs.rows_mut() {
        let max = row.fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        row.mapv_inplace(|v| (v - max).exp());
        let sum = row.sum();
        row.mapv_inplace(|v| v / sum);
    }
    let prediction = probs
        .row(probs.nrows() - 1)
        .iter()
        .enumerate()
        .fold(0, |b, (i, &v)| {
            if v > probs[[probs.nrows() - 1, b]] {
                i
            } else {
                b
            }
        });
    let n = network.n_rec();
    let n_reg = network.n_regular;
    let inhibitory = inhibitory_count(constraints, network.n_in(), n);
    let mut groups = Vec::new();
    if inhibitory > 0 {
        groups.push(("I".to_string(), 0..inhibitory, [214, 39, 40]));
        groups.push(("E".to_string(), inhibitory..n_reg, [31, 119, 180]));
    } else {
        groups.push(("R".to_string(), 0..n_reg, [31, 119, 180]));
    }
    groups.push(("A".to_string(), n_reg..n, [44, 160, 44]));
    let k = (n - n_reg).min(8);
    let thresholds: Array2<f32> = trace
        .thr_adaptive
        .slice(s![.., 0, n_reg..n_reg + k])
        .to_owned();
    let spikes = trace
        .z
        .index_axis(Axis(1), 0)
        .mapv(|z| if z != 0.0 { 1.0 } else { 0.0 });
    // Spikes as 0/1 (a spike may be stored as 1/dt); analog input as it is.
    let raw = x.index_axis(Axis(1), 0);
    let peak = raw.fold(0.0f32, |m, &v| m.max(v));
    let is_spikes = raw.iter().all(|&v| v == 0.0 || v == peak);
    let input = if is_spikes {
        raw.mapv(|v| if v != 0.0 { 1.0 } else { 0.0 })
    } else {
        raw.to_owned()
    };
    RasterRecord {
        title: "LSNN on one test sequence".to_string(),
        dt_ms: network.sim.dt,
        steps: spikes.nrows(),
        input: if is_spikes {
            RasterInput::SpikeSteps(nonzero_steps(&input))
        } else {
            RasterInput::Values(rows(&input))
        },
        spike_steps: nonzero_steps(&spikes),
        groups: groups
            .into_iter()
            .map(|(name, r, color)| RasterGroup {
                name,
                first: r.start,
                end: r.end,
                color,
            })
            .collect(),
        threshold_neurons: (n_reg..n_reg + k).collect(),
        thresholds: rows(&thresholds),
        outputs: rows(&probs),
        label,
        prediction,
    }
}

/// Records the raster of the first sequence of `batch` and writes `raster.json` and
/// `raster.png` into `run_dir` (`plot::run_figures::draw_raster`).
pub fn draw_raster(
    run_dir: &Path,
    network: &Network,
    batch: &Batch,
    constraints: &[u32],
) -> anyhow::Result<()> {
    run_figures::draw_raster(run_dir, &record_raster(network, batch, constraints))
}
