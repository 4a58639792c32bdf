//! The figures of a run directory, drawn by `run` as it trains and by `lsnn-gpu plot RUN_DIR`.

use std::path::Path;

use ndarray::{s, Array2, Axis};

use super::connectivity_figure::draw_connectivity;
use super::figures::{learning_curves, raster_figure, RasterFigure};
use crate::cpu::alif_forward::{alif_forward, ParamsOf};
use crate::cpu::readout_loss::{outputs_over_time, readout_loss};
use crate::files::write_json_atomic;
use crate::model::connectivity::connection_probabilities;
use crate::model::init::Constraint;
use crate::model::ParamLayout;
use crate::model::{Batch, Network, Targets};

/// The paper's Fig. 1C: connection probabilities between the populations of `network`, as
/// `connectivity.json` and `connectivity.png`.
pub fn draw_connectivity_files(run_dir: &Path, network: &Network) -> anyhow::Result<()> {
    let c = connection_probabilities(network);
    let json_path = run_dir.join("connectivity.json");
    write_json_atomic(&json_path, &c)?;
    draw_connectivity(&c, &run_dir.join("connectivity.png"))
}

/// `learning_curves.png` from `metrics.jsonl`.
pub fn draw_learning_curves(run_dir: &Path) -> anyhow::Result<()> {
    learning_curves(
        &run_dir.join("metrics.jsonl"),
        &run_dir.join("learning_curves.png"),
    )
}

/// The paper's Fig. 1D for the first sequence of `batch`: input raster, rasters of the
/// excitatory, inhibitory and adaptive neurons, thresholds of up to 8 adaptive neurons, and
/// the softmax outputs over time. Simulated by the CPU reference (one sequence).
pub fn draw_raster(
    run_dir: &Path,
    network: &Network,
    batch: &Batch,
    constraints: &[u32],
) -> anyhow::Result<()> {
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
    let fig = RasterFigure {
        title: "LSNN on one test sequence".to_string(),
        dt_ms: network.sim.dt,
        input: input.view(),
        spikes: spikes.view(),
        groups,
        thresholds: thresholds.view(),
        outputs: probs.view(),
        label,
        prediction,
    };
    raster_figure(&fig, &run_dir.join("raster.png"))
}

/// Number of inhibitory neurons under Dale's law: rows of W_rec constrained non-positive
/// (they come first, docs/model.md §1); 0 without Dale's law.
pub fn inhibitory_count(constraints: &[u32], n_in: usize, n_rec: usize) -> usize {
    // W_rec's place does not depend on n_out.
    let w_rec = ParamLayout::new(n_in, n_rec, 0).w_rec();
    let negative = [
        Constraint::NonPositive as u32,
        Constraint::RewiredNegative as u32,
    ];
    (0..n_rec)
        .filter(|&k| {
            // Dale's law: every off-diagonal entry of row k carries the row's sign (DEEP R
            // without Dale's law draws signs per entry, so its rows are mixed).
            n_rec > 1
                && (0..n_rec).filter(|&j| j != k).all(|j| {
                    constraints
                        .get(w_rec.index(k, j))
                        .is_some_and(|c| negative.contains(c))
                })
        })
        .count()
}
