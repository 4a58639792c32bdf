//! The recorded data of the raster figure (the paper's Fig. 1D): one sequence's input, the
//! spikes of every recurrent neuron, the thresholds of a few adaptive neurons and the softmax
//! outputs over time. The training code records it (`train::raster`), the figure is drawn
//! from it, and it is written beside the figure as `raster.json` (docs/formats.md "Figures
//! and their data"), so `lsnn-gpu plot` redraws the figure without running the model and a
//! user can redraw it in matplotlib.

use std::path::Path;

use anyhow::{bail, Context};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::figures::{raster_figure, RasterFigure};

/// One raster panel: neurons `first..end` (columns of the spikes) in `color`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RasterGroup {
    pub name: String,
    pub first: usize,
    pub end: usize,
    pub color: [u8; 3],
}

/// Input channels: spikes as the steps each channel fires at, or analog values per step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RasterInput {
    /// Per input channel, the (0-based) steps it spikes at.
    SpikeSteps(Vec<Vec<u32>>),
    /// [T][n_in] input currents (e.g. TIMIT's z-scored features), drawn as a heat map.
    Values(Vec<Vec<f32>>),
}

/// Everything the raster figure shows. Times are steps of `dt_ms` milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RasterRecord {
    pub title: String,
    pub dt_ms: f32,
    /// T, the sequence's length in steps.
    pub steps: usize,
    pub input: RasterInput,
    /// Per recurrent neuron (n_rec lists), the steps it spikes at.
    pub spike_steps: Vec<Vec<u32>>,
    pub groups: Vec<RasterGroup>,
    /// The neurons whose adaptive thresholds (M3) are shown, and those thresholds, [T][k].
    pub threshold_neurons: Vec<usize>,
    pub thresholds: Vec<Vec<f32>>,
    /// [T][n_out] softmax outputs.
    pub outputs: Vec<Vec<f32>>,
    pub label: usize,
    pub prediction: usize,
}

/// The steps at which each column of `a` [T, n] is non-zero.
pub fn nonzero_steps(a: &Array2<f32>) -> Vec<Vec<u32>> {
    a.columns()
        .into_iter()
        .map(|col| {
            col.iter()
                .enumerate()
                .filter(|(_, &v)| v != 0.0)
                .map(|(t, _)| t as u32)
                .collect()
        })
        .collect()
}

/// Rows of `a` as lists.
pub fn rows(a: &Array2<f32>) -> Vec<Vec<f32>> {
    a.rows().into_iter().map(|r| r.to_vec()).collect()
}

fn dense(name: &str, rows: &[Vec<f32>], steps: usize) -> anyhow::Result<Array2<f32>> {
    let n = rows.first().map_or(0, Vec::len);
    if !rows.is_empty() && rows.len() != steps {
        bail!("`{name}` has {} rows, expected {steps}", rows.len());
    }
    if let Some(t) = rows.iter().position(|r| r.len() != n) {
        bail!(
            "`{name}` row {t} has {} values, expected {n}",
            rows[t].len()
        );
    }
    Ok(Array2::from_shape_fn((rows.len(), n), |(t, k)| rows[t][k]))
}

fn from_steps(name: &str, lists: &[Vec<u32>], steps: usize) -> anyhow::Result<Array2<f32>> {
    let mut a = Array2::zeros((steps, lists.len()));
    for (k, list) in lists.iter().enumerate() {
        for &t in list {
            if t as usize >= steps {
                bail!("`{name}` list {k} has step {t}, beyond the {steps} steps");
            }
            a[[t as usize, k]] = 1.0;
        }
    }
    Ok(a)
}

impl RasterRecord {
    /// Draws the figure (`raster_figure`) to `out_png`.
    pub fn draw(&self, out_png: &Path) -> anyhow::Result<()> {
        let input = match &self.input {
            RasterInput::SpikeSteps(s) => from_steps("input", s, self.steps)?,
            RasterInput::Values(v) => dense("input", v, self.steps)?,
        };
        let spikes = from_steps("spike_steps", &self.spike_steps, self.steps)?;
        let thresholds = dense("thresholds", &self.thresholds, self.steps)?;
        let outputs = dense("outputs", &self.outputs, self.steps)?;
        let groups = self
            .groups
            .iter()
            .map(|g| (g.name.clone(), g.first..g.end, g.color))
            .collect();
        let fig = RasterFigure {
            title: self.title.clone(),
            dt_ms: self.dt_ms,
            input: input.view(),
            spikes: spikes.view(),
            groups,
            thresholds: thresholds.view(),
            outputs: outputs.view(),
            label: self.label,
            prediction: self.prediction,
        };
        raster_figure(&fig, out_png)
    }

    /// Reads a record written by `files::write_json_atomic` (`raster.json`).
    pub fn load(path: &Path) -> anyhow::Result<RasterRecord> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("raster data {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> RasterRecord {
        RasterRecord {
            title: "t".into(),
            dt_ms: 1.0,
            steps: 4,
            input: RasterInput::SpikeSteps(vec![vec![0, 3], vec![]]),
            spike_steps: vec![vec![1], vec![2, 3], vec![]],
            groups: vec![RasterGroup {
                name: "R".into(),
                first: 0,
                end: 3,
                color: [1, 2, 3],
            }],
            threshold_neurons: vec![2],
            thresholds: vec![vec![0.5]; 4],
            outputs: vec![vec![0.25, 0.75]; 4],
            label: 1,
            prediction: 1,
        }
    }

    #[test]
    fn steps_round_trip_and_the_json_reads_back_equal() {
        let spikes = ndarray::arr2(&[[0.0, 1.0], [2.0, 0.0], [0.0, 0.0]]);
        let steps = nonzero_steps(&spikes);
        assert_eq!(steps, vec![vec![1], vec![0]]);
        let back = from_steps("s", &steps, 3).unwrap();
        assert_eq!(back, spikes.mapv(|v| f32::from(v != 0.0)));
        let r = record();
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<RasterRecord>(&text).unwrap(), r);
    }

    #[test]
    fn a_malformed_record_is_an_error_naming_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = record();
        r.spike_steps[0] = vec![9];
        let e = r.draw(&dir.path().join("r.png")).unwrap_err().to_string();
        assert!(e.contains("`spike_steps` list 0 has step 9"), "{e}");
        let mut r = record();
        r.outputs.pop();
        let e = r.draw(&dir.path().join("r.png")).unwrap_err().to_string();
        assert!(e.contains("`outputs` has 3 rows, expected 4"), "{e}");
        r = record();
        r.draw(&dir.path().join("r.png")).unwrap();
        assert!(dir.path().join("r.png").exists());
    }
}
