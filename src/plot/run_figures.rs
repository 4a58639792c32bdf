//! The figures of a run directory, drawn by `run` as it trains and by `lsnn-gpu plot RUN_DIR`.

use std::path::Path;

use super::connectivity_figure::draw_connectivity;
use super::figures::learning_curves;
use super::raster::RasterRecord;
use crate::files::write_json_atomic;
use crate::model::connectivity::connection_probabilities;
use crate::model::init::Constraint;
use crate::model::{Network, ParamLayout};

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

/// The paper's Fig. 1D from its recorded data (`train::raster::record_raster`): the data as
/// `raster.json`, then the figure as `raster.png`.
pub fn draw_raster(run_dir: &Path, record: &RasterRecord) -> anyhow::Result<()> {
    write_json_atomic(&run_dir.join("raster.json"), record)?;
    record.draw(&run_dir.join("raster.png"))
}

/// Redraws `raster.png` from the `raster.json` beside it; `false` when there is none (a run
/// directory written before the data was kept).
pub fn redraw_raster(run_dir: &Path) -> anyhow::Result<bool> {
    let json = run_dir.join("raster.json");
    if !json.exists() {
        return Ok(false);
    }
    RasterRecord::load(&json)?.draw(&run_dir.join("raster.png"))?;
    Ok(true)
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
