//! The project's figures: learning curves from `metrics.jsonl`, and the spike-raster
//! figure of one example (the layout of Fig. 1D of Bellec et al. 2018).

use std::ops::Range;
use std::path::Path;

use anyhow::{bail, Context};
use ndarray::ArrayView2;
use serde::Deserialize;

use super::canvas::{
    color, data_range, pad_range, text_size, Align, Axes, Canvas, LegendEntry, Mark, Rect, Rgb,
    TEXT_SCALE,
};

// ------------------------------------------------------------------------------------------
// Learning curves
// ------------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct MetricsLine {
    iteration: f64,
    #[serde(default)]
    loss: Option<f64>,
    #[serde(default)]
    loss_task: Option<f64>,
    #[serde(default)]
    train_accuracy: Option<f64>,
    #[serde(default)]
    validation_accuracy: Option<f64>,
    #[serde(default)]
    validation_loss: Option<f64>,
}

/// The columns of a `metrics.jsonl` that the learning curves use, sorted by iteration (a
/// later line for the same iteration, as written by a resumed run, replaces the earlier one).
/// Missing or null values are NaN.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metrics {
    pub iteration: Vec<f64>,
    pub loss: Vec<f64>,
    pub loss_task: Vec<f64>,
    pub train_accuracy: Vec<f64>,
    pub validation_loss: Vec<f64>,
    pub validation_accuracy: Vec<f64>,
}

/// Reads `metrics.jsonl`: one JSON object per line (blank lines are skipped, unknown keys
/// ignored). A line that is not such an object, or lacks a numeric `iteration`, is an error
/// naming the file and the line number.
pub fn read_metrics(path: &Path) -> anyhow::Result<Metrics> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut rows: Vec<MetricsLine> = Vec::new();
    let split = crate::files::split_json_lines(&text);
    if split.torn.is_some() {
        // A run killed while appending; `resume` drops the line too.
        crate::stderr::line!(
            "warning: {}: the last line is torn (a run stopped while writing it); it is left out",
            path.display()
        );
    }
    for (n, line) in split.lines {
        let row: MetricsLine = serde_json::from_str(line)
            .map_err(|e| anyhow::anyhow!("{}: line {n}: {e}", path.display()))?;
        // Lines with none of the plotted values (the final test record) are not points.
        let plotted = [
            row.loss,
            row.loss_task,
            row.train_accuracy,
            row.validation_loss,
            row.validation_accuracy,
        ];
        if plotted.iter().all(Option::is_none) {
            continue;
        }
        rows.push(row);
    }
    // Stable sort, then keep the last record of each iteration.
    rows.sort_by(|a, b| a.iteration.total_cmp(&b.iteration));
    let mut m = Metrics::default();
    for (i, r) in rows.iter().enumerate() {
        if rows.get(i + 1).is_some_and(|n| n.iteration == r.iteration) {
            continue;
        }
        let v = |x: Option<f64>| x.unwrap_or(f64::NAN);
        m.iteration.push(r.iteration);
        m.loss.push(v(r.loss));
        m.loss_task.push(v(r.loss_task));
        m.train_accuracy.push(v(r.train_accuracy));
        m.validation_loss.push(v(r.validation_loss));
        m.validation_accuracy.push(v(r.validation_accuracy));
    }
    Ok(m)
}

/// Centred moving average over `window` samples (shrinking at the ends), ignoring non-finite
/// values; NaN where a window holds no finite value.
pub fn moving_average(ys: &[f64], window: usize) -> Vec<f64> {
    let n = ys.len();
    let half = window.max(1) / 2;
    let mut sum = vec![0.0; n + 1];
    let mut cnt = vec![0usize; n + 1];
    for (i, &y) in ys.iter().enumerate() {
        let ok = y.is_finite();
        sum[i + 1] = sum[i] + if ok { y } else { 0.0 };
        cnt[i + 1] = cnt[i] + ok as usize;
    }
    (0..n)
        .map(|i| {
            let (a, b) = (i.saturating_sub(half), (i + half + 1).min(n));
            let k = cnt[b] - cnt[a];
            if k == 0 {
                f64::NAN
            } else {
                (sum[b] - sum[a]) / k as f64
            }
        })
        .collect()
}

/// The moving-average window worth applying to `ys`: 1 (none) unless the series is long
/// and noisy, i.e. its total variation is several times its range.
pub fn smoothing_window(ys: &[f64]) -> usize {
    let f: Vec<f64> = ys.iter().copied().filter(|v| v.is_finite()).collect();
    if f.len() < 30 {
        return 1;
    }
    let (lo, hi) = f
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let tv: f64 = f.windows(2).map(|w| (w[1] - w[0]).abs()).sum();
    if hi <= lo || tv <= 3.0 * (hi - lo) {
        return 1;
    }
    ((f.len() / 40).clamp(3, 251)) | 1
}

/// Values in the `q0`..`q1` quantile band of the finite values (for ranges that ignore a few
/// outliers); empty when there is no finite value.
fn quantile_band(ys: &[f64], q0: f64, q1: f64) -> Vec<f64> {
    let mut f: Vec<f64> = ys.iter().copied().filter(|v| v.is_finite()).collect();
    if f.is_empty() {
        return f;
    }
    f.sort_by(f64::total_cmp);
    let at = |q: f64| f[((f.len() - 1) as f64 * q).round() as usize];
    vec![at(q0), at(q1)]
}

fn finite_pairs(xs: &[f64], ys: &[f64]) -> (Vec<f64>, Vec<f64>) {
    xs.iter()
        .zip(ys)
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .map(|(&x, &y)| (x, y))
        .unzip()
}

/// A training series drawn raw (faint) and, when noisy, smoothed (bold).
struct TrainSeries<'a> {
    name: &'a str,
    ys: &'a [f64],
    color: Rgb,
    bold: f32,
}

fn draw_panel(
    c: &mut Canvas,
    ax: &mut Axes,
    xs: &[f64],
    train: &[TrainSeries],
    val: Option<(&str, &[f64], &[f64])>,
    title: &str,
    ylabel: &str,
) {
    ax.background(c, color::WHITE);
    ax.draw_x_axis(c, true, true);
    ax.draw_y_axis(c, true);
    let mut legend = Vec::new();
    let mut pts = Vec::new();
    for s in train {
        let w = smoothing_window(s.ys);
        if w > 1 {
            let smooth = moving_average(s.ys, w);
            let faint = color::tint(s.color, 0.6);
            ax.line(c, xs, s.ys, 1.0, faint);
            ax.line(c, xs, &smooth, s.bold, s.color);
            pts.extend(ax.map_series(xs, s.ys));
            legend.push(LegendEntry::new(
                format!("{} (avg {w})", s.name),
                s.color,
                Mark::Line { width: s.bold },
            ));
        } else {
            ax.line(c, xs, s.ys, s.bold, s.color);
            pts.extend(ax.map_series(xs, s.ys));
            legend.push(LegendEntry::new(
                s.name,
                s.color,
                Mark::Line { width: s.bold },
            ));
        }
    }
    if let Some((name, vx, vy)) = val {
        if !vx.is_empty() {
            ax.line(c, vx, vy, 1.5, color::ORANGE);
            ax.scatter(c, vx, vy, 3.5, color::ORANGE);
            pts.extend(ax.map_series(vx, vy));
            legend.push(LegendEntry::new(
                name,
                color::ORANGE,
                Mark::LineDot {
                    width: 1.5,
                    radius: 3.5,
                },
            ));
        }
    }
    ax.frame(c);
    if xs.is_empty() {
        c.text_aligned(
            ax.rect.x + ax.rect.w / 2,
            ax.rect.y + ax.rect.h / 2,
            "no data",
            TEXT_SCALE,
            color::GRAY,
            Align::Center,
            Align::Center,
        );
    } else if !legend.is_empty() {
        let corner = ax.best_corner(&legend, &pts);
        ax.legend(c, &legend, corner);
    }
    ax.title(c, title);
    ax.xlabel(c, "iteration");
    ax.ylabel(c, ylabel, color::TEXT);
}

/// Learning curves of a run: training loss and accuracy (moving average when noisy, raw
/// values faint behind) with the validation points, loss and accuracy side by side.
/// Writes a 1000x700 PNG atomically.
pub fn learning_curves(metrics_jsonl: &Path, out_png: &Path) -> anyhow::Result<()> {
    let m = read_metrics(metrics_jsonl)?;
    let (w, h) = (1000, 700);
    let mut c = Canvas::new(w, h, color::WHITE);

    let run = metrics_jsonl
        .parent()
        .and_then(|p| p.file_name())
        .map(|s| s.to_string_lossy().into_owned());
    let title = match run {
        Some(r) => format!("Learning curves: {r}"),
        None => "Learning curves".to_string(),
    };
    c.text_bold_aligned(
        w as i32 / 2,
        14,
        &title,
        TEXT_SCALE,
        color::TEXT,
        Align::Center,
        Align::Start,
    );

    let xs = &m.iteration;
    let (mut x0, x1) = data_range(xs.iter().copied());
    if x0 >= 0.0 && x0 <= 0.1 * x1 {
        x0 = 0.0;
    }
    let x = (x0, x1);

    let (vx_loss, vy_loss) = finite_pairs(xs, &m.validation_loss);
    let (vx_acc, vy_acc) = finite_pairs(xs, &m.validation_accuracy);

    // Loss panel: show the task loss too when regularisation makes it differ.
    let differs =
        m.loss.iter().zip(&m.loss_task).any(|(a, b)| {
            a.is_finite() && b.is_finite() && (a - b).abs() > 1e-6 * a.abs().max(1e-6)
        });
    let loss_smooth = moving_average(&m.loss, smoothing_window(&m.loss));
    let mut loss_vals: Vec<f64> = quantile_band(&m.loss, 0.01, 0.99);
    loss_vals.extend(loss_smooth.iter().copied());
    loss_vals.extend(vy_loss.iter().copied());
    if differs {
        loss_vals.extend(quantile_band(&m.loss_task, 0.01, 0.99));
    }
    let (mut l0, l1) = data_range(loss_vals);
    if l0 >= 0.0 && l0 <= 0.25 * l1 {
        l0 = 0.0;
    }
    let (l0, l1) = pad_range((l0, l1), 0.04);
    let l0 = if l0 < 0.0 && loss_smooth.iter().all(|v| v.is_nan() || *v >= 0.0) {
        0.0
    } else {
        l0
    };

    let (left, gap, right, top, bottom) = (95, 100, 40, 80, 85);
    let pw = (w as i32 - left - gap - right) / 2;
    let ph = h as i32 - top - bottom;
    let mut loss_ax = Axes::new(Rect::new(left, top, pw, ph), x, (l0, l1));
    let mut train = vec![TrainSeries {
        name: if differs { "train total" } else { "train" },
        ys: &m.loss,
        color: color::BLUE,
        bold: 2.5,
    }];
    if differs {
        train.push(TrainSeries {
            name: "train task",
            ys: &m.loss_task,
            color: color::GREEN,
            bold: 2.0,
        });
    }
    draw_panel(
        &mut c,
        &mut loss_ax,
        xs,
        &train,
        Some(("validation", &vx_loss, &vy_loss)),
        "Loss",
        "loss",
    );

    // Accuracy panel: [0, 1] unless the data say otherwise (e.g. percentages).
    let mut acc_vals = vec![0.0, 1.0];
    acc_vals.extend(m.train_accuracy.iter().copied());
    acc_vals.extend(vy_acc.iter().copied());
    let acc_range = pad_range(data_range(acc_vals), 0.03);
    let mut acc_ax = Axes::new(Rect::new(left + pw + gap, top, pw, ph), x, acc_range);
    draw_panel(
        &mut c,
        &mut acc_ax,
        xs,
        &[TrainSeries {
            name: "train",
            ys: &m.train_accuracy,
            color: color::BLUE,
            bold: 2.5,
        }],
        Some(("validation", &vx_acc, &vy_acc)),
        "Accuracy",
        "accuracy",
    );

    c.save_png(out_png)
}

// ------------------------------------------------------------------------------------------
// Spike raster of one example
// ------------------------------------------------------------------------------------------

/// One example's activity, for [`raster_figure`].
pub struct RasterFigure<'a> {
    pub title: String,
    pub dt_ms: f32,
    /// [T, n_in] input: spikes (0/1), drawn as a raster; any other values (analog input
    /// currents, e.g. TIMIT's z-scored features) are drawn as a heat map.
    pub input: ArrayView2<'a, f32>,
    /// [T, n_rec] recurrent spikes (0/1).
    pub spikes: ArrayView2<'a, f32>,
    /// (name, neuron range into `spikes` columns, colour), one raster panel each; empty
    /// ranges are skipped.
    pub groups: Vec<(String, Range<usize>, [u8; 3])>,
    /// [T, k] adaptive thresholds of k sample neurons (k = 0: no panel).
    pub thresholds: ArrayView2<'a, f32>,
    /// [T, n_out] softmax outputs over time (n_out = 0: no panel).
    pub outputs: ArrayView2<'a, f32>,
    pub label: usize,
    pub prediction: usize,
}

enum Panel {
    Input,
    Group(usize),
    Thresholds,
    Outputs,
}

/// Draws the example as stacked panels sharing the time axis (ms): input raster, one raster
/// per group in its colour, threshold traces, softmax outputs with the label highlighted.
/// Writes a 1200x1000 PNG atomically.
pub fn raster_figure(fig: &RasterFigure, out_png: &Path) -> anyhow::Result<()> {
    let arrays = [
        ("input", fig.input),
        ("spikes", fig.spikes),
        ("thresholds", fig.thresholds),
        ("outputs", fig.outputs),
    ];
    let t_steps = arrays.iter().map(|(_, a)| a.nrows()).max().unwrap_or(0);
    if t_steps == 0 {
        bail!("raster figure: no time steps");
    }
    for (name, a) in &arrays {
        if a.ncols() > 0 && a.nrows() != t_steps {
            bail!(
                "raster figure: {name} has {} time steps, expected {t_steps}",
                a.nrows()
            );
        }
    }
    let n_rec = fig.spikes.ncols();
    for (name, r, _) in &fig.groups {
        if r.start > r.end || r.end > n_rec {
            bail!("raster figure: group {name:?} range {r:?} is outside 0..{n_rec}");
        }
    }
    let dt = if fig.dt_ms.is_finite() && fig.dt_ms > 0.0 {
        fig.dt_ms as f64
    } else {
        1.0
    };

    let (w, h) = (1200u32, 1000u32);
    let mut c = Canvas::new(w, h, color::WHITE);
    let verdict = if fig.label == fig.prediction {
        "correct"
    } else {
        "wrong"
    };
    let title = format!(
        "{}  (label {}, prediction {}: {verdict})",
        fig.title, fig.label, fig.prediction
    );
    c.text_bold_aligned(
        w as i32 / 2,
        14,
        &title,
        TEXT_SCALE,
        color::TEXT,
        Align::Center,
        Align::Start,
    );

    // Layout: fixed heights for input / thresholds / outputs, groups share the rest in
    // proportion to their size; everything rescaled to fill the page.
    let mut panels: Vec<(Panel, f64)> = Vec::new();
    let n_in = fig.input.ncols();
    if n_in > 0 && fig.input.nrows() > 0 {
        panels.push((Panel::Input, (n_in as f64 * 3.0).clamp(70.0, 150.0)));
    }
    let groups: Vec<usize> = (0..fig.groups.len())
        .filter(|&g| !fig.groups[g].1.is_empty())
        .collect();
    let (top, bottom, left, right, gap) = (50, 70, 135, 25, 14);
    let fixed_thr = 130.0;
    let fixed_out = 160.0;
    let n_panels = panels.len()
        + groups.len()
        + (fig.thresholds.ncols() > 0) as usize
        + (fig.outputs.ncols() > 0) as usize;
    if n_panels == 0 {
        bail!("raster figure: nothing to draw");
    }
    let avail = (h as i32 - top - bottom - gap * (n_panels as i32 - 1)) as f64;
    let fixed: f64 = panels.iter().map(|p| p.1).sum::<f64>()
        + if fig.thresholds.ncols() > 0 {
            fixed_thr
        } else {
            0.0
        }
        + if fig.outputs.ncols() > 0 {
            fixed_out
        } else {
            0.0
        };
    let total_neurons: usize = groups.iter().map(|&g| fig.groups[g].1.len()).sum();
    let rest = (avail - fixed).max(0.0);
    for &g in &groups {
        let share = rest * fig.groups[g].1.len() as f64 / total_neurons.max(1) as f64;
        panels.push((Panel::Group(g), share.max(45.0)));
    }
    if fig.thresholds.ncols() > 0 {
        panels.push((Panel::Thresholds, fixed_thr));
    }
    if fig.outputs.ncols() > 0 {
        panels.push((Panel::Outputs, fixed_out));
    }
    let sum: f64 = panels.iter().map(|p| p.1).sum();
    let k = avail / sum;

    let x_range = (0.0, t_steps as f64 * dt);
    let pw = w as i32 - left - right;
    let times: Vec<f64> = (0..t_steps).map(|t| (t as f64 + 0.5) * dt).collect();
    let mut y = top;
    let last = panels.len() - 1;
    for (i, (panel, ph)) in panels.iter().enumerate() {
        let ph = (ph * k).floor() as i32;
        let rect = Rect::new(left, y, pw, ph.max(10));
        y += ph + gap;
        match panel {
            Panel::Input if fig.input.iter().any(|&v| v != 0.0 && v != 1.0) => {
                let mut ax = Axes::new(rect, x_range, (0.0, n_in as f64));
                heat_panel(&mut c, &mut ax, fig.input, dt, "input");
                finish_time_axis(&mut c, &ax, i == last);
            }
            Panel::Input => {
                let mut ax = Axes::new(rect, x_range, (0.0, n_in as f64));
                raster_panel(
                    &mut c,
                    &mut ax,
                    fig.input,
                    0..n_in,
                    dt,
                    color::TEXT,
                    "input",
                );
                finish_time_axis(&mut c, &ax, i == last);
            }
            Panel::Group(g) => {
                let (name, r, col) = &fig.groups[*g];
                let mut ax = Axes::new(rect, x_range, (0.0, r.len() as f64));
                raster_panel(&mut c, &mut ax, fig.spikes, r.clone(), dt, *col, name);
                finish_time_axis(&mut c, &ax, i == last);
            }
            Panel::Thresholds => {
                let th = fig.thresholds;
                let yr = pad_range(data_range(th.iter().map(|&v| v as f64)), 0.08);
                let mut ax = Axes::new(rect, x_range, yr);
                ax.background(&mut c, color::WHITE);
                ax.draw_x_axis(&mut c, false, true);
                ax.draw_y_axis(&mut c, true);
                for j in 0..th.ncols() {
                    let ys: Vec<f64> = th.column(j).iter().map(|&v| v as f64).collect();
                    let col = color::PALETTE[j % color::PALETTE.len()];
                    ax.line(&mut c, &times, &ys, 1.5, col);
                }
                ax.frame(&mut c);
                // The adaptive threshold of (M3), docs/model.md.
                ax.ylabel(&mut c, "A = thr + β·b", color::TEXT);
                finish_time_axis(&mut c, &ax, i == last);
            }
            Panel::Outputs => {
                let out = fig.outputs;
                let mut vals = vec![0.0, 1.0];
                vals.extend(out.iter().map(|&v| v as f64));
                let yr = pad_range(data_range(vals), 0.04);
                let mut ax = Axes::new(rect, x_range, yr);
                ax.background(&mut c, color::WHITE);
                ax.draw_x_axis(&mut c, false, true);
                ax.draw_y_axis(&mut c, true);
                let other = [170, 170, 170];
                let label_col = color::BLACK;
                let pred_col = color::ORANGE;
                let mut pts = Vec::new();
                let series =
                    |j: usize| -> Vec<f64> { out.column(j).iter().map(|&v| v as f64).collect() };
                for j in 0..out.ncols() {
                    if j != fig.label && j != fig.prediction {
                        let ys = series(j);
                        ax.line(&mut c, &times, &ys, 1.25, other);
                        pts.extend(ax.map_series(&times, &ys));
                    }
                }
                let mut legend = Vec::new();
                if fig.prediction != fig.label && fig.prediction < out.ncols() {
                    let ys = series(fig.prediction);
                    ax.line(&mut c, &times, &ys, 2.0, pred_col);
                    pts.extend(ax.map_series(&times, &ys));
                }
                if fig.label < out.ncols() {
                    let ys = series(fig.label);
                    ax.line(&mut c, &times, &ys, 3.0, label_col);
                    pts.extend(ax.map_series(&times, &ys));
                    let name = if fig.prediction == fig.label {
                        format!("label {} (predicted)", fig.label)
                    } else {
                        format!("label {}", fig.label)
                    };
                    legend.push(LegendEntry::new(name, label_col, Mark::Line { width: 3.0 }));
                }
                if fig.label >= out.ncols() {
                    legend.push(LegendEntry::new(
                        format!("label {} (no such output)", fig.label),
                        label_col,
                        Mark::Dot { radius: 0.0 },
                    ));
                }
                if fig.prediction != fig.label && fig.prediction < out.ncols() {
                    legend.push(LegendEntry::new(
                        format!("prediction {}", fig.prediction),
                        pred_col,
                        Mark::Line { width: 2.0 },
                    ));
                }
                if (0..out.ncols()).any(|j| j != fig.label && j != fig.prediction) {
                    legend.push(LegendEntry::new(
                        "other classes",
                        other,
                        Mark::Line { width: 1.5 },
                    ));
                }
                ax.frame(&mut c);
                let corner = ax.best_corner(&legend, &pts);
                ax.legend(&mut c, &legend, corner);
                ax.ylabel(&mut c, "softmax", color::TEXT);
                finish_time_axis(&mut c, &ax, i == last);
            }
        }
    }
    c.save_png(out_png)
}

/// Tick marks on every panel's time axis; labels and the axis name on the bottom one.
fn finish_time_axis(c: &mut Canvas, ax: &Axes, bottom: bool) {
    if bottom {
        ax.draw_x_axis(c, true, false);
        ax.xlabel(c, "time (ms)");
    }
}

/// A spike raster of `data` columns `cols` (one row per neuron, the first at the bottom),
/// spikes as short ticks in `col`, with the first/last neuron index as y ticks.
/// Analog values [T, channels] as a heat map: blue for positive, red for negative, the
/// intensity relative to the largest magnitude (channel 0 at the bottom, as the rasters).
fn heat_panel(c: &mut Canvas, ax: &mut Axes, data: ArrayView2<f32>, dt: f64, name: &str) {
    ax.background(c, color::WHITE);
    ax.draw_x_axis(c, false, true);
    ax.labels_inside = true;
    let n = data.ncols();
    let scale = data
        .iter()
        .fold(
            0.0f32,
            |m, &v| if v.is_finite() { m.max(v.abs()) } else { m },
        )
        .max(f32::MIN_POSITIVE);
    let rect = ax.rect;
    c.with_clip(rect, |c| {
        for (t, row) in data.outer_iter().enumerate() {
            let x0 = ax.px(t as f64 * dt).floor() as i32;
            let x1 = (ax.px((t + 1) as f64 * dt).floor() as i32).max(x0 + 1);
            for (j, &v) in row.iter().enumerate() {
                if !v.is_finite() || v == 0.0 {
                    continue;
                }
                let y1 = ax.py(j as f64).round() as i32;
                let y0 = ax.py(j as f64 + 1.0).round() as i32;
                let hue: Rgb = if v > 0.0 {
                    [33, 102, 172]
                } else {
                    [178, 24, 43]
                };
                let col = color::mix(color::WHITE, hue, (v.abs() / scale).sqrt());
                c.fill_rect(Rect::new(x0, y0, x1 - x0, (y1 - y0).max(1)), col);
            }
        }
    });
    let mut ticks = vec![(0.5, "0".to_string())];
    if n > 1 {
        ticks.push((n as f64 - 0.5, (n - 1).to_string()));
    }
    ax.draw_y_ticks_at(c, &ticks, false);
    ax.frame(c);
    ax.ylabel(c, &format!("{name} ({n})"), color::TEXT);
}

fn raster_panel(
    c: &mut Canvas,
    ax: &mut Axes,
    data: ArrayView2<f32>,
    cols: Range<usize>,
    dt: f64,
    col: Rgb,
    name: &str,
) {
    ax.background(c, color::WHITE);
    ax.draw_x_axis(c, false, true);
    ax.labels_inside = true;
    let n = cols.len();
    let row_h = ax.rect.h as f64 / n.max(1) as f64;
    let tick_h = if row_h >= 3.0 {
        (row_h * 0.8).round().max(2.0)
    } else {
        row_h.max(1.0).round()
    } as i32;
    let rect = ax.rect;
    c.with_clip(rect, |c| {
        for (t, row) in data.outer_iter().enumerate() {
            let x0 = ax.px(t as f64 * dt).floor() as i32;
            let x1 = ax.px((t + 1) as f64 * dt).floor() as i32;
            let sw = (x1 - x0).clamp(1, 3);
            for j in 0..n {
                if row[cols.start + j] >= 0.5 {
                    let yc = ax.py(j as f64 + 0.5);
                    let y0 = (yc - tick_h as f32 / 2.0).round() as i32;
                    c.fill_rect(Rect::new(x0, y0, sw, tick_h), col);
                }
            }
        }
    });
    let mut ticks = vec![(0.5, cols.start.to_string())];
    if n > 1 {
        ticks.push((n as f64 - 0.5, (cols.end - 1).to_string()));
    }
    // Two labels need two text heights of room.
    if n > 1 && (ax.rect.h as u32) < 2 * text_size("0", TEXT_SCALE).1 + 6 {
        ticks.truncate(1);
    }
    ax.draw_y_ticks_at(c, &ticks, false);
    ax.frame(c);
    let label = format!("{name} ({n})");
    ax.ylabel(
        c,
        &label,
        if col == color::TEXT { color::TEXT } else { col },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::GenericImageView;
    use ndarray::Array2;
    use std::collections::HashSet;
    use std::io::Write;

    fn check_png(path: &Path, w: u32, h: u32) {
        let img = image::open(path).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (w, h));
        let bg = image::Rgb([255u8, 255, 255]);
        let ink = img.pixels().filter(|p| **p != bg).count();
        assert!(
            ink > (w * h / 50) as usize,
            "only {ink} non-background pixels"
        );
        let colours: HashSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
        assert!(colours.len() >= 6, "only {} colours", colours.len());
        assert!(!path.with_extension("png.tmp").exists());
    }

    fn write_metrics(path: &Path, n: usize) {
        let mut f = std::fs::File::create(path).unwrap();
        let mut state = 12345u64;
        let mut noise = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as f64 / (1u64 << 31) as f64 - 0.5
        };
        for i in 1..=n {
            let x = i as f64 / n as f64;
            let loss = 2.3 * (-3.0 * x).exp() + 0.1 + 0.15 * noise();
            let acc = (1.0 - (-4.0 * x).exp()) * 0.9 + 0.08 * noise();
            let val = i % 25 == 0;
            writeln!(
                f,
                "{}",
                serde_json::json!({
                    "iteration": i,
                    "loss": loss + 0.05,
                    "loss_task": loss,
                    "loss_reg": 0.05,
                    "train_accuracy": acc,
                    "validation_loss": if val { Some(loss) } else { None },
                    "validation_accuracy": if val { Some(acc.min(0.95)) } else { None },
                    "learning_rate": 1e-3,
                })
            )
            .unwrap();
        }
    }

    #[test]
    fn learning_curves_png() {
        let dir = tempfile::tempdir().unwrap();
        let metrics = dir.path().join("metrics.jsonl");
        write_metrics(&metrics, 400);
        let out = dir.path().join("curves.png");
        learning_curves(&metrics, &out).unwrap();
        check_png(&out, 1000, 700);
    }

    #[test]
    fn learning_curves_handles_nulls_constant_and_single_points() {
        let dir = tempfile::tempdir().unwrap();
        let metrics = dir.path().join("metrics.jsonl");
        std::fs::write(
            &metrics,
            "{\"iteration\":1,\"loss\":null,\"loss_task\":1.0,\"train_accuracy\":0.5,\
             \"validation_accuracy\":null,\"extra\":[1,2]}\n\n\
             {\"iteration\":2,\"loss\":1.0,\"loss_task\":1.0,\"train_accuracy\":0.5}\n",
        )
        .unwrap();
        let out = dir.path().join("c.png");
        learning_curves(&metrics, &out).unwrap();
        assert_eq!(image::open(&out).unwrap().dimensions(), (1000, 700));
        std::fs::write(&metrics, "").unwrap();
        learning_curves(&metrics, &out).unwrap();
    }

    #[test]
    fn learning_curves_names_the_malformed_line() {
        let dir = tempfile::tempdir().unwrap();
        let metrics = dir.path().join("metrics.jsonl");
        std::fs::write(
            &metrics,
            "{\"iteration\":1,\"loss\":1.0,\"loss_task\":1.0,\"train_accuracy\":0.5}\n\
             {\"iteration\":2,\"loss\":0.9,\"loss_task\":0.9,\"train_accuracy\":0.6}\n\
             {\"iteration\":3,\"loss\":0.8,\n",
        )
        .unwrap();
        let out = dir.path().join("c.png");
        let err = learning_curves(&metrics, &out).unwrap_err().to_string();
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("metrics.jsonl"), "{err}");
        assert!(!out.exists());
    }

    #[test]
    fn metrics_keep_the_last_record_per_iteration_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let metrics = dir.path().join("metrics.jsonl");
        std::fs::write(
            &metrics,
            "{\"iteration\":2,\"loss\":2.0}\n{\"iteration\":1,\"loss\":1.0}\n\
             {\"iteration\":2,\"loss\":3.0}\n",
        )
        .unwrap();
        let m = read_metrics(&metrics).unwrap();
        assert_eq!(m.iteration, vec![1.0, 2.0]);
        assert_eq!(m.loss, vec![1.0, 3.0]);
        assert!(m.train_accuracy.iter().all(|v| v.is_nan()));
    }

    #[test]
    fn smoothing_only_when_noisy() {
        let smooth: Vec<f64> = (0..200).map(|i| (-(i as f64) / 50.0).exp()).collect();
        assert_eq!(smoothing_window(&smooth), 1);
        let noisy: Vec<f64> = (0..200)
            .map(|i| if i % 2 == 0 { 1.0 } else { 0.0 })
            .collect();
        let w = smoothing_window(&noisy);
        assert!(w >= 3 && w % 2 == 1);
        let avg = moving_average(&[1.0, f64::NAN, 3.0, f64::NAN], 3);
        assert_eq!(avg[0], 1.0);
        assert_eq!(avg[1], 2.0);
        assert_eq!(avg[3], 3.0);
        assert!(moving_average(&[f64::NAN; 3], 1).iter().all(|v| v.is_nan()));
    }

    pub(super) struct Synthetic {
        input: Array2<f32>,
        spikes: Array2<f32>,
        thresholds: Array2<f32>,
        outputs: Array2<f32>,
    }

    pub(super) fn synthetic(t: usize) -> Synthetic {
        let (n_in, n_rec, k, n_out) = (40, 220, 4, 10);
        let mut state = 7u64;
        let mut rnd = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as f32 / (1u64 << 31) as f32
        };
        let input = Array2::from_shape_fn((t, n_in), |(s, i)| {
            let p = if (s / 20 + i / 10) % 4 == 0 {
                0.3
            } else {
                0.01
            };
            (rnd() < p) as u8 as f32
        });
        let spikes = Array2::from_shape_fn((t, n_rec), |(_, j)| {
            (rnd() < 0.01 + 0.03 * (j % 3) as f32) as u8 as f32
        });
        let thresholds = Array2::from_shape_fn((t, k), |(s, j)| {
            0.01 + 0.02 * j as f32 + 0.01 * ((s as f32 / 30.0 + j as f32).sin() + 1.0)
        });
        let mut outputs = Array2::from_shape_fn((t, n_out), |(s, c)| {
            let x = s as f32 / t as f32;
            let z = if c == 7 {
                6.0 * x
            } else if c == 3 {
                3.0 * x
            } else {
                rnd()
            };
            z.exp()
        });
        for mut row in outputs.rows_mut() {
            let s: f32 = row.sum();
            row.mapv_inplace(|v| v / s);
        }
        if t > 10 {
            outputs[[5, 2]] = f32::NAN;
        }
        Synthetic {
            input,
            spikes,
            thresholds,
            outputs,
        }
    }

    pub(super) fn figure(s: &Synthetic, prediction: usize) -> RasterFigure<'_> {
        RasterFigure {
            title: "synthetic example".into(),
            dt_ms: 1.0,
            input: s.input.view(),
            spikes: s.spikes.view(),
            groups: vec![
                ("E".into(), 54..120, color::BLUE),
                ("I".into(), 0..54, color::RED),
                ("A".into(), 120..220, color::GREEN),
                ("empty".into(), 10..10, color::PURPLE),
            ],
            thresholds: s.thresholds.view(),
            outputs: s.outputs.view(),
            label: 7,
            prediction,
        }
    }

    #[test]
    fn raster_figure_png() {
        let dir = tempfile::tempdir().unwrap();
        let s = synthetic(200);
        let out = dir.path().join("raster.png");
        raster_figure(&figure(&s, 3), &out).unwrap();
        check_png(&out, 1200, 1000);
    }

    #[test]
    fn raster_figure_is_robust() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("r.png");
        // Constant thresholds, NaN outputs, no input channels, out-of-range label.
        let t = 30;
        let input = Array2::<f32>::zeros((t, 0));
        let spikes = Array2::<f32>::ones((t, 5));
        let thresholds = Array2::<f32>::from_elem((t, 2), 0.5);
        let outputs = Array2::<f32>::from_elem((t, 3), f32::NAN);
        let mut fig = RasterFigure {
            title: "edge cases".into(),
            dt_ms: f32::NAN,
            input: input.view(),
            spikes: spikes.view(),
            groups: vec![("all".into(), 0..5, color::BLUE)],
            thresholds: thresholds.view(),
            outputs: outputs.view(),
            label: 9,
            prediction: 0,
        };
        raster_figure(&fig, &out).unwrap();
        assert_eq!(image::open(&out).unwrap().dimensions(), (1200, 1000));
        fig.groups = vec![("bad".into(), 3..9, color::RED)];
        let err = raster_figure(&fig, &out).unwrap_err().to_string();
        assert!(err.contains("bad"), "{err}");
        let short = Array2::<f32>::zeros((t - 1, 2));
        fig.groups = vec![];
        fig.thresholds = short.view();
        assert!(raster_figure(&fig, &out).is_err());
    }

    /// Writes example figures to `plot_demo/` in the temporary directory for eyeballing:
    /// `cargo test --lib plot::figures::tests::demo -- --ignored`.
    #[test]
    #[ignore]
    fn demo() {
        let root = std::env::temp_dir().join("plot_demo");
        let dir = &root.join("run_demo");
        std::fs::create_dir_all(dir).unwrap();
        let metrics = dir.join("metrics.jsonl");
        write_metrics(&metrics, 2000);
        learning_curves(&metrics, &root.join("learning_curves.png")).unwrap();
        let few = dir.join("few.jsonl");
        write_metrics(&few, 20);
        learning_curves(&few, &root.join("learning_curves_few.png")).unwrap();
        let s = synthetic(600);
        raster_figure(&figure(&s, 3), &root.join("raster.png")).unwrap();
        let s = synthetic(100);
        raster_figure(&figure(&s, 7), &root.join("raster_short.png")).unwrap();
        let t = 30;
        let (input, spikes) = (Array2::<f32>::zeros((t, 0)), Array2::<f32>::ones((t, 5)));
        let thresholds = Array2::<f32>::from_elem((t, 2), 0.5);
        let outputs = Array2::<f32>::from_elem((t, 3), f32::NAN);
        let fig = RasterFigure {
            title: "edge cases".into(),
            dt_ms: f32::NAN,
            input: input.view(),
            spikes: spikes.view(),
            groups: vec![("all".into(), 0..5, color::BLUE)],
            thresholds: thresholds.view(),
            outputs: outputs.view(),
            label: 9,
            prediction: 0,
        };
        raster_figure(&fig, &root.join("raster_edge.png")).unwrap();
        let mut c = Canvas::new(600, 140, color::WHITE);
        let all: String = (32u8..=126).map(|b| b as char).collect();
        for (i, chunk) in all.as_bytes().chunks(24).enumerate() {
            let line = std::str::from_utf8(chunk).unwrap();
            c.text(10, 10 + 32 * i as i32, line, 4, color::BLACK);
        }
        c.save_png(&root.join("font.png")).unwrap();
    }
}
