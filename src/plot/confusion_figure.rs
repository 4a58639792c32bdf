//! Confusion matrix and per-class frame error of framewise phone classification (TIMIT, 61
//! phones or the 39 folded classes) as PNG figures.
//!
//! The confusion matrix is drawn row-normalised: each target row is divided by its number of
//! frames, so a cell is the fraction of the target's frames given to the predicted class and
//! every row sums to 1. The colour scale is matplotlib's "Blues" (white → dark blue) on a
//! square-root norm, so that the typical few-percent confusions of a 61-class matrix stay
//! visible; the colour bar is labelled in rates (0 … 1) at their true positions. Rows with no
//! frames are hatched grey.

use std::path::Path;

use anyhow::bail;

use super::canvas::{color, text_size, Align, Axes, Canvas, Rect, Rgb, TEXT_SCALE};

/// matplotlib's "Blues" (ColorBrewer, 9 classes), light to dark.
const BLUES: [Rgb; 9] = [
    [247, 251, 255],
    [222, 235, 247],
    [198, 219, 239],
    [158, 202, 225],
    [107, 174, 214],
    [66, 146, 198],
    [33, 113, 181],
    [8, 81, 156],
    [8, 48, 107],
];
/// Exponent of the power norm from rate to colour position (0.5: square root).
const GAMMA: f64 = 0.5;
/// Background and hatching of rows (or bars) with no frames.
const EMPTY_FILL: Rgb = [245, 245, 245];
const HATCH: Rgb = [200, 200, 200];

/// Matrix side in pixels the cell size aims at (61 classes: 12-px cells).
const GRID_TARGET: i32 = 732;
const MIN_CELL: i32 = 3;
const MAX_CELL: i32 = 64;
/// More classes than this are refused (the canvas would be huge and unreadable).
pub const MAX_CLASSES: usize = 1000;
/// Narrowest confusion figure, so that a small matrix still has room for its title.
const MIN_WIDTH: i32 = 640;
/// Width of the per-class error figure.
const BAR_FIG_WIDTH: i32 = 1000;
/// Plot height the per-class rows aim at (61 classes: 13-px rows).
const BAR_TARGET: i32 = 820;

// ------------------------------------------------------------------------------------------
// Numbers
// ------------------------------------------------------------------------------------------

/// Checks that `counts` is an n × n matrix with n = `labels.len()`, 1 ≤ n ≤ [`MAX_CLASSES`].
pub fn validate(counts: &[Vec<u64>], labels: &[&str]) -> anyhow::Result<()> {
    let n = counts.len();
    if let Some((i, row)) = counts.iter().enumerate().find(|(_, r)| r.len() != n) {
        bail!(
            "confusion matrix is not square: it has {n} rows but row {i} has {} columns",
            row.len()
        );
    }
    if labels.len() != n {
        bail!(
            "confusion matrix is {n} x {n} but there are {} class labels",
            labels.len()
        );
    }
    if n == 0 {
        bail!("confusion matrix is empty (no classes)");
    }
    if n > MAX_CLASSES {
        bail!("confusion matrix has {n} classes, more than the {MAX_CLASSES} that can be drawn");
    }
    Ok(())
}

/// Number of frames of each target class (row sums).
pub fn row_totals(counts: &[Vec<u64>]) -> Vec<u128> {
    counts
        .iter()
        .map(|r| r.iter().map(|&c| c as u128).sum())
        .collect()
}

/// Row-normalised rates: `rates[t][p]` = counts[t][p] / frames of t; `None` for a row with no
/// frames.
pub fn row_rates(counts: &[Vec<u64>]) -> Vec<Option<Vec<f64>>> {
    counts
        .iter()
        .zip(row_totals(counts))
        .map(|(row, total)| {
            (total > 0).then(|| row.iter().map(|&c| c as f64 / total as f64).collect())
        })
        .collect()
}

/// Frame error 1 − trace / total over all frames; `None` when there are no frames. Extra
/// columns of a non-square matrix are counted in the total, missing diagonal entries as 0.
pub fn frame_error(counts: &[Vec<u64>]) -> Option<f64> {
    let total: u128 = row_totals(counts).iter().sum();
    let right: u128 = counts
        .iter()
        .enumerate()
        .map(|(i, r)| r.get(i).copied().unwrap_or(0) as u128)
        .sum();
    (total > 0).then(|| 1.0 - right as f64 / total as f64)
}

/// Per-class error 1 − counts[c][c] / frames of c; `None` for a class with no frames.
pub fn per_class_error(counts: &[Vec<u64>]) -> Vec<Option<f64>> {
    counts
        .iter()
        .zip(row_totals(counts))
        .enumerate()
        .map(|(i, (row, total))| {
            let right = row.get(i).copied().unwrap_or(0) as f64;
            (total > 0).then(|| 1.0 - right / total as f64)
        })
        .collect()
}

/// Colour-scale position (0..=1) of a rate.
fn norm(rate: f64) -> f64 {
    if rate.is_finite() {
        rate.clamp(0.0, 1.0).powf(GAMMA)
    } else {
        0.0
    }
}

/// The "Blues" ramp at position `p` (0 = white end, 1 = dark end), piecewise linear.
fn ramp(p: f64) -> Rgb {
    let p = if p.is_finite() {
        p.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = p * (BLUES.len() - 1) as f64;
    let i = (x.floor() as usize).min(BLUES.len() - 2);
    color::mix(BLUES[i], BLUES[i + 1], (x - i as f64) as f32)
}

/// The colour of a cell with the given rate.
pub fn shade(rate: f64) -> Rgb {
    ramp(norm(rate))
}

/// "33.2%".
fn percent(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

/// A rate inside a cell: "100%", "12%", "3.4%"; empty for 0.
fn cell_percent(r: f64) -> String {
    let v = r * 100.0;
    if r <= 0.0 {
        String::new()
    } else if v >= 9.95 {
        format!("{v:.0}%")
    } else {
        format!("{v:.1}%")
    }
}

/// A colour-bar label without trailing zeros ("0", "0.25", "1").
fn bar_label(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// "<title> — <what> 33.2%" (or "... n/a" without frames).
fn full_title(title: &str, what: &str, err: Option<f64>) -> String {
    let e = match err {
        Some(e) => format!("{what} {}", percent(e)),
        None => format!("{what} n/a (no frames)"),
    };
    let t = title.trim();
    if t.is_empty() {
        e
    } else {
        format!("{t} — {e}")
    }
}

/// Canvas-wide bold title at the top (scale 1 when it does not fit at scale 2).
fn draw_title(cv: &mut Canvas, s: &str) {
    let w = cv.width() as i32;
    let sc = if text_size(s, TEXT_SCALE).0 as i32 + 20 <= w {
        TEXT_SCALE
    } else {
        1
    };
    cv.text_bold_aligned(w / 2, 14, s, sc, color::TEXT, Align::Center, Align::Start);
}

/// A grey subtitle line below the title.
fn draw_subtitle(cv: &mut Canvas, s: &str) {
    let w = cv.width() as i32;
    cv.text_aligned(
        w / 2,
        40,
        s,
        1,
        color::DARK_GRAY,
        Align::Center,
        Align::Start,
    );
}

/// Fills `r` light grey with diagonal hatching (no data).
fn hatch(cv: &mut Canvas, r: Rect) {
    cv.fill_rect(r, EMPTY_FILL);
    cv.with_clip(r, |c| {
        let mut k = -r.h;
        while k < r.w {
            c.line(r.x + k, r.bottom() - 1, r.x + k + r.h - 1, r.y, HATCH);
            k += 6;
        }
    });
}

/// Every how many labels one is drawn so that text of height `text_h` does not overlap in
/// slots of `slot` pixels.
fn label_step(text_h: i32, slot: i32) -> usize {
    ((text_h + 2 + slot - 1) / slot.max(1)).max(1) as usize
}

// ------------------------------------------------------------------------------------------
// Confusion matrix
// ------------------------------------------------------------------------------------------

/// Pixel geometry of the confusion figure, a pure function of the class labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfusionLayout {
    pub n: usize,
    /// Side of one cell in pixels.
    pub cell: i32,
    /// The matrix: row t (target) from the top, column p (predicted) from the left.
    pub grid: Rect,
    /// The colour bar right of the matrix.
    pub bar: Rect,
    pub width: u32,
    pub height: u32,
    /// Text scale of the class labels.
    pub label_scale: u32,
    /// Widest class label at `label_scale`.
    pub label_w: i32,
}

impl ConfusionLayout {
    /// The cell of target `t` (row) and predicted class `p` (column).
    pub fn cell_rect(&self, t: usize, p: usize) -> Rect {
        Rect::new(
            self.grid.x + p as i32 * self.cell,
            self.grid.y + t as i32 * self.cell,
            self.cell,
            self.cell,
        )
    }

    /// The pixel at the centre of a cell.
    pub fn cell_center(&self, t: usize, p: usize) -> (i32, i32) {
        let r = self.cell_rect(t, p);
        (r.x + r.w / 2, r.y + r.h / 2)
    }

    /// Tick values of the colour bar and their pixel rows, thinned so labels do not collide.
    fn bar_ticks(&self) -> Vec<(f64, i32)> {
        let min_gap = text_size("0", TEXT_SCALE).1 as i32 + 4;
        let mut out: Vec<(f64, i32)> = Vec::new();
        for v in [0.0, 1.0, 0.5, 0.25, 0.1, 0.75, 0.05, 0.02, 0.01] {
            let y = self.bar_y(v);
            if out.iter().all(|&(_, y0)| (y - y0).abs() >= min_gap) {
                out.push((v, y));
            }
        }
        out.sort_by(|a, b| a.0.total_cmp(&b.0));
        out
    }

    /// Pixel row of rate `v` on the colour bar.
    fn bar_y(&self, v: f64) -> i32 {
        self.bar.y + ((1.0 - norm(v)) * (self.bar.h - 1) as f64).round() as i32
    }
}

/// Text widths of the colour-bar column: tick labels at scale 2.
const BAR_LABEL_W: i32 = 46;

/// The layout of the confusion figure for these class labels (n = `labels.len()` ≥ 1).
pub fn confusion_layout(labels: &[&str]) -> ConfusionLayout {
    let n = labels.len().max(1);
    let cell = (GRID_TARGET / n as i32).clamp(MIN_CELL, MAX_CELL);
    let label_scale = if cell >= 20 { TEXT_SCALE } else { 1 };
    let label_w = labels
        .iter()
        .map(|l| text_size(l, label_scale).0 as i32)
        .max()
        .unwrap_or(0);
    let th = text_size("0", TEXT_SCALE).1 as i32;
    let side = n as i32 * cell;
    // Left: axis title "target" (vertical), class labels, ticks.
    let left = 16 + th + 12 + label_w + 8;
    // Right: gap, bar, ticks and their labels, the bar's vertical label.
    let right = 28 + 16 + 8 + BAR_LABEL_W + 14 + th + 16;
    let top = 76;
    // Bottom: vertical class labels, axis title "predicted".
    let bottom = 8 + label_w + 14 + th + 20;
    let natural = left + side + right;
    let width = natural.max(MIN_WIDTH);
    let x0 = left + (width - natural) / 2;
    let bar_h = side.max(160);
    let height = top + bar_h.max(side + bottom);
    ConfusionLayout {
        n,
        cell,
        grid: Rect::new(x0, top, side, side),
        bar: Rect::new(x0 + side + 28, top, 16, bar_h),
        width: width as u32,
        height: height as u32,
        label_scale,
        label_w,
    }
}

/// Draws the row-normalised confusion matrix `counts[target][predicted]` (frames) of classes
/// `labels` as a PNG, written atomically. Rows are targets, columns predictions; the title is
/// `title` followed by the overall frame error (1 − trace/total); the colour bar on the right
/// gives the rate (0 … 1, square-root norm). Rows without frames are hatched. Errors when
/// `counts` is not square or does not match `labels`.
pub fn draw_confusion(
    counts: &[Vec<u64>],
    labels: &[&str],
    title: &str,
    path: &Path,
) -> anyhow::Result<()> {
    validate(counts, labels)?;
    let l = confusion_layout(labels);
    let mut cv = Canvas::new(l.width, l.height, color::WHITE);
    draw_title(
        &mut cv,
        &full_title(title, "frame error", frame_error(counts)),
    );
    let total: u128 = row_totals(counts).iter().sum();
    draw_subtitle(
        &mut cv,
        &format!(
            "{total} frames, {} classes; row = target class, normalised to 1; column = predicted class",
            l.n
        ),
    );
    draw_cells(&mut cv, counts, &l);
    draw_axis_labels(&mut cv, counts, labels, &l);
    draw_colour_bar(&mut cv, &l);
    cv.save_png(path)
}

fn draw_cells(cv: &mut Canvas, counts: &[Vec<u64>], l: &ConfusionLayout) {
    let annotate = l.cell >= 28;
    for (t, rates) in row_rates(counts).iter().enumerate() {
        let Some(rates) = rates else {
            let row = Rect::new(l.grid.x, l.cell_rect(t, 0).y, l.grid.w, l.cell);
            hatch(cv, row);
            if l.cell >= 9 {
                let sc = if l.cell >= 20 { TEXT_SCALE } else { 1 };
                let (cx, cy) = (row.x + row.w / 2, row.y + row.h / 2);
                let (tw, th) = text_size("no frames", sc);
                let bg = Rect::new(cx - tw as i32 / 2 - 3, cy - th as i32 / 2 - 2, 0, 0);
                let bg = Rect::new(bg.x, bg.y, tw as i32 + 6, th as i32 + 4);
                cv.fill_rect(bg.intersect(&row), EMPTY_FILL);
                cv.text_aligned(
                    cx,
                    cy,
                    "no frames",
                    sc,
                    color::DARK_GRAY,
                    Align::Center,
                    Align::Center,
                );
            }
            continue;
        };
        for (p, &r) in rates.iter().enumerate() {
            let cell = l.cell_rect(t, p);
            cv.fill_rect(cell, shade(r));
            if annotate {
                let s = cell_percent(r);
                if s.is_empty() {
                    continue;
                }
                let ink = if norm(r) > 0.55 {
                    color::WHITE
                } else {
                    color::TEXT
                };
                let sc = [TEXT_SCALE, 1]
                    .into_iter()
                    .find(|&sc| text_size(&s, sc).0 as i32 <= cell.w - 6);
                if let Some(sc) = sc {
                    let (cx, cy) = l.cell_center(t, p);
                    cv.text_aligned(cx, cy, &s, sc, ink, Align::Center, Align::Center);
                }
            }
        }
    }
    // A faint outline on the diagonal helps the eye along it when cells are large.
    if l.cell >= 28 {
        for (i, total) in row_totals(counts).into_iter().enumerate() {
            if total > 0 {
                cv.rect(l.cell_rect(i, i), color::GRAY);
            }
        }
    }
    cv.rect(l.grid.inset(-1), color::DARK_GRAY);
}

fn draw_axis_labels(cv: &mut Canvas, counts: &[Vec<u64>], labels: &[&str], l: &ConfusionLayout) {
    let g = l.grid;
    let sc = l.label_scale;
    let step = label_step(text_size("0", sc).1 as i32, l.cell);
    let totals = row_totals(counts);
    for (i, name) in labels.iter().enumerate() {
        if i % step != 0 {
            continue;
        }
        let mid = i as i32 * l.cell + l.cell / 2;
        // y: target classes, right-aligned left of the matrix (grey when without frames).
        let y = g.y + mid;
        let ink = if totals[i] == 0 {
            color::GRAY
        } else {
            color::TEXT
        };
        cv.hline(g.x - 5, g.x - 2, y, color::DARK_GRAY);
        cv.text_aligned(g.x - 8, y, name, sc, ink, Align::End, Align::Center);
        // x: predicted classes, vertical (reading upwards), ending just below the matrix.
        let x = g.x + mid;
        cv.vline(x, g.bottom() + 1, g.bottom() + 4, color::DARK_GRAY);
        let w = text_size(name, sc).0 as i32;
        cv.text_vertical(x, g.bottom() + 8 + w / 2, name, sc, color::TEXT);
    }
    let th = text_size("0", TEXT_SCALE).1 as i32;
    cv.text_aligned(
        g.x + g.w / 2,
        g.bottom() + 8 + l.label_w + 14,
        "predicted",
        TEXT_SCALE,
        color::TEXT,
        Align::Center,
        Align::Start,
    );
    let label_x = g.x - 8 - l.label_w - 12 - th / 2;
    cv.text_vertical(label_x, g.y + g.h / 2, "target", TEXT_SCALE, color::TEXT);
}

/// A vertical gradient from rate 0 (bottom) to 1 (top), ticks at round rates.
fn draw_colour_bar(cv: &mut Canvas, l: &ConfusionLayout) {
    let bar = l.bar;
    for i in 0..bar.h {
        let p = 1.0 - i as f64 / (bar.h - 1).max(1) as f64;
        cv.fill_rect(Rect::new(bar.x, bar.y + i, bar.w, 1), ramp(p));
    }
    cv.rect(bar.inset(-1), color::DARK_GRAY);
    let mut widest = 0;
    for (v, y) in l.bar_ticks() {
        cv.hline(bar.right(), bar.right() + 4, y, color::DARK_GRAY);
        let s = bar_label(v);
        widest = widest.max(text_size(&s, TEXT_SCALE).0 as i32);
        cv.text_aligned(
            bar.right() + 8,
            y,
            &s,
            TEXT_SCALE,
            color::TEXT,
            Align::Start,
            Align::Center,
        );
    }
    let s = "fraction of target frames (sqrt scale)";
    let sc = if text_size(s, TEXT_SCALE).0 as i32 <= bar.h {
        TEXT_SCALE
    } else {
        1
    };
    let th = text_size(s, sc).1 as i32;
    let x = bar.right() + 8 + widest.max(BAR_LABEL_W / 2) + 12 + th / 2;
    cv.text_vertical(x, bar.y + bar.h / 2, s, sc, color::TEXT);
}

// ------------------------------------------------------------------------------------------
// Per-class error
// ------------------------------------------------------------------------------------------

/// Pixel geometry of the per-class error figure, a pure function of the class labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PerClassLayout {
    pub n: usize,
    /// Height of one class's row.
    pub row_h: i32,
    /// The plotting area: x = frame error 0..1, class c in row c from the top.
    pub plot: Rect,
    /// Right edge of the frame-count column.
    pub counts_right: i32,
    pub width: u32,
    pub height: u32,
    pub label_scale: u32,
}

impl PerClassLayout {
    /// The band of class `c`.
    pub fn row_rect(&self, c: usize) -> Rect {
        Rect::new(
            self.plot.x,
            self.plot.y + c as i32 * self.row_h,
            self.plot.w,
            self.row_h,
        )
    }

    /// The bar of class `c` with error `e` (0..=1): empty for e = 0.
    pub fn bar_rect(&self, c: usize, e: f64) -> Rect {
        let r = self.row_rect(c);
        let pad = if self.row_h >= 8 { 2 } else { 1 };
        let e = if e.is_finite() {
            e.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let w = (e * self.plot.w as f64).round() as i32;
        Rect::new(r.x, r.y + pad, w, r.h - 2 * pad + 1)
    }
}

/// The layout of the per-class error figure for these labels (n = `labels.len()` ≥ 1).
pub fn per_class_layout(labels: &[&str]) -> PerClassLayout {
    let n = labels.len().max(1);
    let row_h = (BAR_TARGET / n as i32).clamp(MIN_CELL, 40);
    let label_scale = if row_h >= 20 { TEXT_SCALE } else { 1 };
    let label_w = labels
        .iter()
        .map(|l| text_size(l, label_scale).0 as i32)
        .max()
        .unwrap_or(0);
    let th = text_size("0", TEXT_SCALE).1 as i32;
    let left = 20 + label_w + 12;
    // Frame counts up to 10 digits, at scale 1.
    let counts_w = text_size("0000000000", 1).0 as i32;
    let right = 20 + counts_w + 14;
    let top = 84;
    let side = n as i32 * row_h;
    // Bottom: ticks, tick labels, axis label.
    let bottom = 5 + 4 + th + 10 + th + 20;
    PerClassLayout {
        n,
        row_h,
        plot: Rect::new(left, top, BAR_FIG_WIDTH - left - right, side),
        counts_right: BAR_FIG_WIDTH - 20,
        width: BAR_FIG_WIDTH as u32,
        height: (top + side + bottom) as u32,
        label_scale,
    }
}

/// Draws the frame error of each class, 1 − counts[c][c] / frames of c, as horizontal bars in
/// class order (top to bottom) with the class names on the left and each class's number of
/// frames in a column on the right; classes without frames are marked "n/a". A dashed red
/// line marks the overall frame error. Writes a PNG atomically; errors as [`draw_confusion`].
pub fn draw_per_class_error(
    counts: &[Vec<u64>],
    labels: &[&str],
    title: &str,
    path: &Path,
) -> anyhow::Result<()> {
    validate(counts, labels)?;
    let l = per_class_layout(labels);
    let mut cv = Canvas::new(l.width, l.height, color::WHITE);
    let overall = frame_error(counts);
    draw_title(&mut cv, &full_title(title, "overall", overall));
    let errors = per_class_error(counts);
    let totals = row_totals(counts);
    let macro_avg = {
        let v: Vec<f64> = errors.iter().flatten().copied().collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let mut sub = format!(
        "{} frames; bar = 1 - correct / frames of the target class",
        totals.iter().sum::<u128>()
    );
    if let Some(m) = macro_avg {
        sub.push_str(&format!("; mean over classes {}", percent(m)));
    }
    sub.push_str("; dashed = overall");
    draw_subtitle(&mut cv, &sub);

    let ax = Axes::new(l.plot, (0.0, 1.0), (0.0, l.n as f64));
    ax.background(&mut cv, color::WHITE);
    ax.draw_x_axis(&mut cv, true, true);
    let sc = l.label_scale;
    let th1 = text_size("0", sc).1 as i32;
    let step = label_step(th1, l.row_h);
    for (c, name) in labels.iter().enumerate() {
        let row = l.row_rect(c);
        let cy = row.y + row.h / 2;
        match errors[c] {
            Some(e) => {
                let bar = l.bar_rect(c, e);
                if !bar.is_empty() {
                    cv.fill_rect(bar, color::BLUE);
                }
            }
            None => {
                hatch(&mut cv, l.bar_rect(c, 1.0));
            }
        }
        if c % step != 0 {
            continue;
        }
        let ink = if errors[c].is_some() {
            color::TEXT
        } else {
            color::GRAY
        };
        cv.hline(row.x - 5, row.x - 2, cy, color::DARK_GRAY);
        cv.text_aligned(row.x - 8, cy, name, sc, ink, Align::End, Align::Center);
        if errors[c].is_none() {
            let (tw, th) = text_size("n/a", sc);
            cv.fill_rect(
                Rect::new(
                    row.x + 2,
                    cy - th as i32 / 2 - 2,
                    tw as i32 + 6,
                    th as i32 + 4,
                ),
                EMPTY_FILL,
            );
            cv.text_aligned(
                row.x + 5,
                cy,
                "n/a",
                sc,
                color::DARK_GRAY,
                Align::Start,
                Align::Center,
            );
        }
        cv.text_aligned(
            l.counts_right,
            cy,
            &totals[c].to_string(),
            1,
            if totals[c] == 0 {
                color::GRAY
            } else {
                color::DARK_GRAY
            },
            Align::End,
            Align::Center,
        );
    }
    if let Some(e) = overall {
        let x = (ax.px(e).round() as i32).clamp(l.plot.x, l.plot.right() - 1);
        cv.fill_rect(Rect::new(x, l.plot.y, 1, l.plot.h), color::WHITE);
        cv.vline_dashed(x, l.plot.y, l.plot.bottom() - 1, 6, 4, color::RED);
        cv.text_aligned(
            x,
            l.plot.y - 6,
            &format!("overall {}", percent(e)),
            1,
            color::RED,
            Align::Center,
            Align::End,
        );
    }
    ax.frame(&mut cv);
    cv.text_aligned(
        l.counts_right,
        l.plot.y - 6,
        "frames",
        1,
        color::DARK_GRAY,
        Align::End,
        Align::End,
    );
    ax.xlabel(&mut cv, "frame error");
    cv.save_png(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Relative luminance proxy (0 black .. 255 white).
    fn luma(p: [u8; 3]) -> f64 {
        0.2126 * p[0] as f64 + 0.7152 * p[1] as f64 + 0.0722 * p[2] as f64
    }

    fn mean_luma(img: &image::RgbImage, r: Rect) -> f64 {
        let mut s = 0.0;
        for y in r.y..r.bottom() {
            for x in r.x..r.right() {
                s += luma(img.get_pixel(x as u32, y as u32).0);
            }
        }
        s / (r.w * r.h) as f64
    }

    /// The 61 TIMIT phones (a copy, so these tests stand alone).
    const PHONES: [&str; 61] = [
        "aa", "ae", "ah", "ao", "aw", "ax", "ax-h", "axr", "ay", "b", "bcl", "ch", "d", "dcl",
        "dh", "dx", "eh", "el", "em", "en", "eng", "epi", "er", "ey", "f", "g", "gcl", "h#", "hh",
        "hv", "ih", "ix", "iy", "jh", "k", "kcl", "l", "m", "n", "ng", "nx", "ow", "oy", "p",
        "pau", "pcl", "q", "r", "s", "sh", "t", "tcl", "th", "uh", "uw", "ux", "v", "w", "y", "z",
        "zh",
    ];

    fn labels_61() -> Vec<String> {
        PHONES.iter().map(|s| s.to_string()).collect()
    }

    /// A pseudo-random 61-class matrix: mostly diagonal, row 0 all predicted as class 5
    /// (cell (0,5) rate 1, (0,0) rate 0), row 7 without frames.
    fn counts_61() -> Vec<Vec<u64>> {
        let mut state = 12345u64;
        let mut rnd = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state >> 33
        };
        let mut m = vec![vec![0u64; 61]; 61];
        for (t, row) in m.iter_mut().enumerate() {
            for (p, c) in row.iter_mut().enumerate() {
                *c = if t == p {
                    200 + rnd() % 800
                } else if rnd() % 5 == 0 {
                    rnd() % 60
                } else {
                    0
                };
            }
        }
        m[0] = vec![0; 61];
        m[0][5] = 321;
        m[7] = vec![0; 61];
        m
    }

    #[test]
    fn numbers() {
        let m = vec![vec![8, 2, 0], vec![0, 0, 0], vec![1, 1, 8]];
        let e = frame_error(&m).unwrap();
        assert!((e - 4.0 / 20.0).abs() < 1e-12);
        assert_eq!(frame_error(&[vec![0, 0], vec![0, 0]]), None);
        let pe = per_class_error(&m);
        assert!((pe[0].unwrap() - 0.2).abs() < 1e-12);
        assert_eq!(pe[1], None);
        assert!((pe[2].unwrap() - 0.2).abs() < 1e-12);
        let r = row_rates(&m);
        assert_eq!(r[0].as_deref(), Some(&[0.8, 0.2, 0.0][..]));
        assert!(r[1].is_none());
        assert_eq!(cell_percent(1.0), "100%");
        assert_eq!(cell_percent(0.034), "3.4%");
        assert_eq!(cell_percent(0.0), "");
        assert_eq!(bar_label(0.25), "0.25");
        assert_eq!(bar_label(1.0), "1");
        assert_eq!(bar_label(0.0), "0");
        assert_eq!(
            full_title("TIMIT core test, 61 phones", "frame error", Some(0.3321)),
            "TIMIT core test, 61 phones — frame error 33.2%"
        );
        // The colour scale is monotone: darker with the rate.
        let mut last = f64::INFINITY;
        for k in 0..=20 {
            let l = luma(shade(k as f64 / 20.0));
            assert!(l < last, "{k}");
            last = l;
        }
        assert_eq!(shade(f64::NAN), shade(0.0));
    }

    #[test]
    fn confusion_61_classes() {
        let names = labels_61();
        let labels: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        let counts = counts_61();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("confusion_61.png");
        draw_confusion(&counts, &labels, "TIMIT core test, 61 phones", &path).unwrap();
        assert!(path.exists());
        let img = image::open(&path).unwrap().to_rgb8();
        let l = confusion_layout(&labels);
        assert_eq!(img.dimensions(), (l.width, l.height));
        assert!((800..=1300).contains(&l.width), "{}", l.width);
        assert!((800..=1200).contains(&l.height), "{}", l.height);
        assert!((10..=12).contains(&l.cell), "{}", l.cell);
        assert!(l.bar.right() < l.width as i32 && l.grid.x > 0);

        let px = |(x, y): (i32, i32)| img.get_pixel(x as u32, y as u32).0;
        let one = px(l.cell_center(0, 5));
        let zero = px(l.cell_center(0, 0));
        assert_eq!(one, shade(1.0));
        assert_eq!(zero, shade(0.0));
        assert!(luma(one) + 100.0 < luma(zero), "{one:?} vs {zero:?}");
        // The diagonal of a good classifier is dark.
        assert!(luma(px(l.cell_center(10, 10))) < luma(zero) - 50.0);
        // The empty row is hatched grey, not blue.
        let r7 = Rect::new(l.grid.x, l.cell_rect(7, 0).y, l.grid.w, l.cell);
        let mut found_hatch = false;
        for x in r7.x..r7.right() {
            let p = px((x, r7.y + r7.h / 2));
            assert!(p[0] == p[1] && p[1] == p[2], "{p:?} at {x}");
            found_hatch |= p == HATCH;
        }
        assert!(found_hatch);
    }

    #[test]
    fn confusion_3_classes() {
        let labels = ["sil", "aa", "iy"];
        let counts = vec![vec![0, 50, 0], vec![3, 90, 7], vec![0, 0, 0]];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/confusion_3.png");
        draw_confusion(&counts, &labels, "three \u{2014} classes", &path).unwrap();
        assert!(!dir.path().join("sub/confusion_3.png.tmp").exists());
        let img = image::open(&path).unwrap().to_rgb8();
        let l = confusion_layout(&labels);
        assert_eq!(img.dimensions(), (l.width, l.height));
        assert!((600..=900).contains(&l.width), "{}", l.width);
        assert!((300..=700).contains(&l.height), "{}", l.height);
        assert_eq!(l.cell, MAX_CELL);
        // Cell (0,1) has rate 1 (with white text on it), (0,0) rate 0: compare the mean.
        let dark = mean_luma(&img, l.cell_rect(0, 1));
        let light = mean_luma(&img, l.cell_rect(0, 0));
        assert!(dark + 100.0 < light, "{dark} vs {light}");
        let r = l.cell_rect(0, 1);
        assert_eq!(img.get_pixel(r.x as u32 + 3, r.y as u32 + 3).0, shade(1.0));
    }

    #[test]
    fn bad_matrices_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.png");
        let e = draw_confusion(
            &[vec![1, 2], vec![3, 4], vec![5, 6]],
            &["a", "b", "c"],
            "t",
            &path,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("not square"), "{e}");
        let e = draw_per_class_error(&[vec![1, 2], vec![3]], &["a", "b"], "t", &path)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not square") && e.contains("row 1"), "{e}");
        let e = draw_confusion(&[vec![1, 2], vec![3, 4]], &["a", "b", "c"], "t", &path)
            .unwrap_err()
            .to_string();
        assert!(e.contains("2 x 2") && e.contains("3 class labels"), "{e}");
        let e = draw_confusion(&[], &[], "t", &path)
            .unwrap_err()
            .to_string();
        assert!(e.contains("empty"), "{e}");
        assert!(!path.exists());
    }

    #[test]
    fn per_class_error_figure() {
        let names = labels_61();
        let labels: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        let counts = counts_61();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("per_class.png");
        draw_per_class_error(&counts, &labels, "per-phone error", &path).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        let l = per_class_layout(&labels);
        assert_eq!(img.dimensions(), (l.width, l.height));
        assert!((800..=1200).contains(&l.height), "{}", l.height);
        // Class 0 is always wrong: its bar spans the plot (bar colour near the right end,
        // away from the dashed overall line).
        let b = l.bar_rect(0, 1.0);
        let p = img
            .get_pixel((b.right() - 3) as u32, (b.y + b.h / 2) as u32)
            .0;
        assert_eq!(p, color::BLUE);
        // Class 10 is mostly right: no bar near the right end.
        let b = l.bar_rect(10, 1.0);
        let p = img
            .get_pixel((b.right() - 3) as u32, (b.y + b.h / 2) as u32)
            .0;
        assert_ne!(p, color::BLUE);

        // Three classes, one without frames.
        let path3 = dir.path().join("per_class_3.png");
        let counts3 = vec![vec![0, 50, 0], vec![3, 90, 7], vec![0, 0, 0]];
        draw_per_class_error(&counts3, &["sil", "aa", "iy"], "three", &path3).unwrap();
        let img = image::open(&path3).unwrap().to_rgb8();
        let l = per_class_layout(&["sil", "aa", "iy"]);
        assert_eq!(img.dimensions(), (l.width, l.height));
        assert!((200..=500).contains(&l.height), "{}", l.height);
    }

    /// Renders sample figures for a visual check: `cargo test --release --lib
    /// plot::confusion_figure -- --ignored`, then look at lsnn-confusion-*.png in the
    /// temporary directory.
    #[test]
    #[ignore]
    fn render_samples_to_tmp() {
        let names = labels_61();
        let labels: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        let counts = counts_61();
        let tmp = std::env::temp_dir();
        draw_confusion(
            &counts,
            &labels,
            "TIMIT core test, 61 phones",
            &tmp.join("lsnn-confusion-61.png"),
        )
        .unwrap();
        draw_per_class_error(
            &counts,
            &labels,
            "TIMIT core test: frame error per phone (61)",
            &tmp.join("lsnn-confusion-per-class-61.png"),
        )
        .unwrap();
        let counts39: Vec<Vec<u64>> = counts[..39].iter().map(|r| r[..39].to_vec()).collect();
        draw_confusion(
            &counts39,
            &labels[..39],
            "39 classes",
            &tmp.join("lsnn-confusion-39.png"),
        )
        .unwrap();
        let labels3 = ["sil", "aa", "iy"];
        let counts3 = vec![vec![0, 50, 0], vec![3, 90, 7], vec![0, 0, 0]];
        draw_confusion(
            &counts3,
            &labels3,
            "three classes",
            &tmp.join("lsnn-confusion-3.png"),
        )
        .unwrap();
    }
}
