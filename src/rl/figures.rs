//! Figures of the meta-RL experiment (`docs/experiments.md` §4, the paper's
//! Fig. 3): the agent's paths in the arena ([`draw_paths`], Fig. 3C/D, before and after
//! training), goals per episode over training against the random walk and the oracle
//! ([`draw_goal_curve`], Fig. 3A), and the lengths of the first, second and last path of an
//! episode ([`draw_path_lengths`], Fig. 3B).

use std::path::Path;

use anyhow::{bail, Context};

use super::arena::ArenaSettings;
use super::trace::EpisodeTrace;
use crate::plot::canvas::{
    color, data_range, draw_legend, pad_range, text_size, Align, Axes, Canvas, LegendEntry, Mark,
    Rect, Rgb, TEXT_SCALE,
};
use crate::plot::figures::moving_average;

// ------------------------------------------------------------------------------------------
// Paths in the arena (Fig. 3C/D)
// ------------------------------------------------------------------------------------------

/// Side of one arena panel, pixels.
const PANEL: i32 = 300;
/// Horizontal and vertical gaps between panels (the vertical one holds a panel title).
const GAP_X: i32 = 30;
const GAP_Y: i32 = 60;
/// Left margin, and the top of the first row of panels (below the figure title).
const LEFT: i32 = 30;
const TOP: i32 = 90;
/// Panels per row.
const PER_ROW: usize = 4;
/// The arena's border sits this fraction of the radius inside the panel's edge.
const PANEL_PAD: f64 = 0.06;

/// Fill of the goal disc: the tab10 green, lightened (drawn opaque so the arena's border and
/// the paths stay visible on top of it).
const GOAL_FILL: Rgb = [150, 207, 150];
/// Colours of the middle paths (after the second, before the last): tab10 without the
/// colours taken by the first (blue), second (orange) and last (red) path, the goal (green)
/// and the unfinished path (gray).
const MIDDLE_PATHS: [Rgb; 5] = [
    color::PURPLE,
    color::BROWN,
    color::PINK,
    color::OLIVE,
    color::CYAN,
];
/// The path after the last goal, cut short by the episode's end.
const UNFINISHED: Rgb = color::GRAY;

/// Colour of completed path `j` (0-based) of `completed`: blue, orange, then the palette, the
/// last of three or more red.
fn path_color(j: usize, completed: usize) -> Rgb {
    match j {
        0 => color::BLUE,
        1 => color::ORANGE,
        _ if j + 1 == completed => color::RED,
        _ => MIDDLE_PATHS[(j - 2) % MIDDLE_PATHS.len()],
    }
}

/// Width of the legend beside the arena panels.
fn paths_legend_width() -> i32 {
    let widest = paths_legend_labels()
        .iter()
        .map(|s| text_size(s, TEXT_SCALE).0 as i32)
        .max()
        .unwrap_or(0);
    8 + 28 + 8 + widest + 10
}

fn paths_legend_labels() -> [&'static str; 8] {
    [
        "path 1 (to the goal)",
        "path 2",
        "paths 3, 4, ...",
        "last path (of 3 or more)",
        "unfinished (episode end)",
        "goal",
        "start",
        "respawn after a goal",
    ]
}

/// (width, height) of the path figure for `n` panels with `title`.
fn paths_size(n: usize, title: &str) -> (u32, u32) {
    let cols = n.clamp(1, PER_ROW) as i32;
    let rows = n.max(1).div_ceil(PER_ROW) as i32;
    let panels_w = LEFT + cols * (PANEL + GAP_X);
    let w = (panels_w + paths_legend_width() + 20).max(text_size(title, TEXT_SCALE).0 as i32 + 40);
    let h = TOP + rows * PANEL + (rows - 1) * GAP_Y + 30;
    (w as u32, h as u32)
}

/// The axes of panel `k`: a square showing the arena (radius `r`) with a small margin.
fn panel_axes(k: usize, r: f64) -> Axes {
    let (row, col) = ((k / PER_ROW) as i32, (k % PER_ROW) as i32);
    let rect = Rect::new(
        LEFT + col * (PANEL + GAP_X),
        TOP + row * (PANEL + GAP_Y),
        PANEL,
        PANEL,
    );
    let e = r * (1.0 + PANEL_PAD);
    Axes::new(rect, (-e, e), (-e, e))
}

/// A circle of `radius` about `centre` as a closed polyline in pixel coordinates.
fn circle_points(ax: &Axes, centre: [f64; 2], radius: f64) -> Vec<(f32, f32)> {
    let n = 256;
    (0..=n)
        .map(|i| {
            let t = std::f64::consts::TAU * i as f64 / n as f64;
            ax.map(centre[0] + radius * t.cos(), centre[1] + radius * t.sin())
        })
        .collect()
}

/// One square panel per trace (up to 4 in a row, as many rows as needed): the arena's border
/// (thin dark gray), the goal as a disc of `goal_radius` (light green with a green outline),
/// each path from a (re)spawn to the goal as a polyline of its own colour (first blue, second
/// orange, later ones from the palette, the last of three or more red; the stretch after the
/// last goal, cut short by the episode's end, gray), respawn points as small rings in the
/// colour of the path they start, the start as a black dot. Panel k (1-based) is titled
/// "episode k: n goals". The paper's Fig. 3C/D.
///
/// Errors (nothing is written) if there is no trace, the settings are invalid, or a trace is
/// malformed ([`EpisodeTrace::validate`]).
pub fn draw_paths(
    arena: &ArenaSettings,
    traces: &[EpisodeTrace],
    title: &str,
    out_png: &Path,
) -> anyhow::Result<()> {
    if traces.is_empty() {
        bail!("draw_paths: no episode traces to draw");
    }
    arena.validate().map_err(anyhow::Error::msg)?;
    for (k, t) in traces.iter().enumerate() {
        t.validate()
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("draw_paths: trace {k} is malformed"))?;
    }
    let (w, h) = paths_size(traces.len(), title);
    let mut c = Canvas::new(w, h, color::WHITE);
    c.text_bold_aligned(
        w as i32 / 2,
        16,
        title,
        TEXT_SCALE,
        color::TEXT,
        Align::Center,
        Align::Start,
    );
    let r = arena.arena_radius;
    for (k, t) in traces.iter().enumerate() {
        let ax = panel_axes(k, r);
        let scale = ax.rect.w as f64 / (ax.x1 - ax.x0);
        let clip = ax.rect.inset(-6);
        c.with_clip(clip, |c| {
            let (gx, gy) = ax.map(t.goal[0], t.goal[1]);
            c.dot(gx, gy, (arena.goal_radius * scale) as f32, GOAL_FILL);
            c.polyline(&circle_points(&ax, [0.0, 0.0], r), 1.5, color::DARK_GRAY);
            c.polyline(
                &circle_points(&ax, t.goal, arena.goal_radius),
                1.5,
                color::GREEN,
            );
            let polylines = t.path_polylines();
            let completed = t.goal_hits.len();
            let colours: Vec<Rgb> = (0..polylines.len())
                .map(|j| {
                    if j < completed {
                        path_color(j, completed)
                    } else {
                        UNFINISHED
                    }
                })
                .collect();
            // The unfinished stretch first, so that the paths to the goal lie on top.
            for (j, path) in polylines.iter().enumerate().rev() {
                let pts: Vec<(f32, f32)> = path.iter().map(|p| ax.map(p[0], p[1])).collect();
                let width = if j < completed { 2.0 } else { 1.5 };
                c.polyline(&pts, width, colours[j]);
            }
            for (j, p) in t.respawns.iter().enumerate() {
                let (x, y) = ax.map(p[0], p[1]);
                c.ring(
                    x,
                    y,
                    4.5,
                    colours[(j + 1).min(colours.len() - 1)],
                    color::WHITE,
                );
            }
            if let Some(p) = t.positions.first() {
                let (x, y) = ax.map(p[0], p[1]);
                c.dot(x, y, 4.5, color::BLACK);
            }
        });
        let n = t.goals();
        ax.title(
            &mut c,
            &format!(
                "episode {}: {n} goal{}",
                k + 1,
                if n == 1 { "" } else { "s" }
            ),
        );
    }
    let lx = LEFT + traces.len().min(PER_ROW) as i32 * (PANEL + GAP_X);
    paths_legend(&mut c, lx, TOP);
    c.save_png(out_png)
}

/// The legend of [`draw_paths`], its top-left corner at (`x`, `y`).
fn paths_legend(c: &mut Canvas, x: i32, y: i32) {
    let labels = paths_legend_labels();
    let (_, th) = text_size("0", TEXT_SCALE);
    let row = th as i32 + 10;
    let r = Rect::new(
        x,
        y,
        paths_legend_width(),
        6 + row * labels.len() as i32 + 2,
    );
    c.fill_rect(r, color::WHITE);
    c.rect(r, color::LIGHT_GRAY);
    for (i, label) in labels.iter().enumerate() {
        let cy = y + 6 + row * i as i32 + th as i32 / 2;
        let (sx0, sx1) = (x + 8, x + 36);
        let (mid, ycf) = ((sx0 + sx1) as f32 / 2.0, cy as f32 + 0.5);
        let line = |c: &mut Canvas, col: Rgb, width: f32| {
            c.line_aa((sx0 as f32, ycf), (sx1 as f32, ycf), width, col)
        };
        match i {
            0 => line(c, color::BLUE, 2.0),
            1 => line(c, color::ORANGE, 2.0),
            2 => line(c, MIDDLE_PATHS[0], 2.0),
            3 => line(c, color::RED, 2.0),
            4 => line(c, UNFINISHED, 1.5),
            5 => {
                c.dot(mid, ycf, 7.0, GOAL_FILL);
                let ring: Vec<(f32, f32)> = (0..=64)
                    .map(|k| {
                        let t = std::f32::consts::TAU * k as f32 / 64.0;
                        (mid + 7.0 * t.cos(), ycf + 7.0 * t.sin())
                    })
                    .collect();
                c.polyline(&ring, 1.5, color::GREEN);
            }
            6 => c.dot(mid, ycf, 4.5, color::BLACK),
            _ => c.ring(mid, ycf, 4.5, color::DARK_GRAY, color::WHITE),
        }
        c.text_aligned(
            sx1 + 8,
            cy,
            label,
            TEXT_SCALE,
            color::TEXT,
            Align::Start,
            Align::Center,
        );
    }
}

// ------------------------------------------------------------------------------------------
// Goals per episode over training (Fig. 3A)
// ------------------------------------------------------------------------------------------

/// One evaluation of the agent during training.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CurvePoint {
    /// Training episodes so far.
    pub episodes: f64,
    /// Mean goals reached per episode.
    pub goals_per_episode: f64,
    /// Mean sum of rewards per episode.
    pub mean_return: f64,
}

/// The moving-average window for `n` points: about 1/20 of them, odd, 1 to 101.
fn curve_window(n: usize) -> usize {
    (n / 20).clamp(1, 101) | 1
}

/// Goals per episode against training episodes (the paper's Fig. 3A): the agent's value at
/// each point (thin) and its moving average (thick), the random walk and the oracle as
/// dashed horizontal lines (left out where NaN), y from 0; below, the mean return per
/// episode. Points are sorted by `episodes`; points whose `episodes` is not finite are
/// dropped, non-finite values break the curves.
///
/// Errors if no point has a finite `episodes`.
pub fn draw_goal_curve(
    points: &[CurvePoint],
    random_walk: f64,
    oracle: f64,
    out_png: &Path,
) -> anyhow::Result<()> {
    let mut pts: Vec<CurvePoint> = points
        .iter()
        .copied()
        .filter(|p| p.episodes.is_finite())
        .collect();
    if pts.is_empty() {
        bail!(
            "draw_goal_curve: no curve point with a finite episode count (got {} points)",
            points.len()
        );
    }
    pts.sort_by(|a, b| a.episodes.total_cmp(&b.episodes));
    let xs: Vec<f64> = pts.iter().map(|p| p.episodes).collect();
    let goals: Vec<f64> = pts.iter().map(|p| p.goals_per_episode).collect();
    let returns: Vec<f64> = pts.iter().map(|p| p.mean_return).collect();
    let window = curve_window(pts.len());
    let goals_ma = moving_average(&goals, window);
    let returns_ma = moving_average(&returns, window);
    let xr = data_range(xs.iter().copied());

    let (w, h) = (1000, 800);
    let mut c = Canvas::new(w, h, color::WHITE);

    // Top: goals per episode.
    let top_max = goals
        .iter()
        .chain(&goals_ma)
        .chain([&random_walk, &oracle])
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let y1 = if top_max > 0.0 { top_max * 1.1 } else { 1.0 };
    let mut ax = Axes::new(Rect::new(110, 60, 850, 420), xr, (0.0, y1));
    ax.background(&mut c, color::WHITE);
    ax.draw_x_axis(&mut c, true, true);
    ax.draw_y_axis(&mut c, true);
    let agent_color = color::BLUE;
    let mut entries = Vec::new();
    if window > 1 {
        ax.line(&mut c, &xs, &goals, 1.0, color::tint(agent_color, 0.55));
    }
    let (hx0, hx1) = (ax.rect.x, ax.rect.right() - 1);
    for (value, col, name) in [
        (oracle, color::GREEN, "oracle (knows the goal)"),
        (random_walk, color::GRAY, "random walk"),
    ] {
        if value.is_finite() && value >= ax.y0 && value <= ax.y1 {
            let y = ax.py(value).round() as i32;
            let y = y.clamp(ax.rect.y, ax.rect.bottom() - 2);
            c.hline_dashed(hx0, hx1, y, 10, 6, col);
            c.hline_dashed(hx0, hx1, y + 1, 10, 6, col);
            entries.push(LegendEntry::new(
                format!("{name}: {value:.2}"),
                col,
                Mark::Line { width: 2.0 },
            ));
        }
    }
    ax.line(&mut c, &xs, &goals_ma, 3.0, agent_color);
    ax.scatter(&mut c, &xs, &goals_ma, 1.5, agent_color);
    let agent_label = if window > 1 {
        format!("LSNN agent (moving average over {window})")
    } else {
        "LSNN agent".to_string()
    };
    entries.insert(
        0,
        LegendEntry::new(agent_label, agent_color, Mark::Line { width: 3.0 }),
    );
    if window > 1 {
        entries.insert(
            1,
            LegendEntry::new(
                "LSNN agent, each evaluation",
                color::tint(agent_color, 0.55),
                Mark::Line { width: 1.0 },
            ),
        );
    }
    ax.frame(&mut c);
    ax.title(&mut c, "Goals reached per episode during training");
    ax.ylabel(&mut c, "goals per episode", color::TEXT);
    let mut occupied = ax.map_series(&xs, &goals);
    occupied.extend(ax.map_series(&xs, &goals_ma));
    let corner = ax.best_corner(&entries, &occupied);
    ax.legend(&mut c, &entries, corner);

    // Bottom: mean return per episode.
    let (r0, r1) = pad_range(
        data_range(returns.iter().chain(&returns_ma).copied().chain([0.0])),
        0.05,
    );
    let mut bx = Axes::new(Rect::new(110, 570, 850, 150), xr, (r0, r1));
    bx.background(&mut c, color::WHITE);
    bx.draw_x_axis(&mut c, true, true);
    bx.draw_y_axis(&mut c, true);
    if r0 < 0.0 && r1 > 0.0 {
        let y = bx.py(0.0).round() as i32;
        c.hline(bx.rect.x, bx.rect.right() - 1, y, color::LIGHT_GRAY);
    }
    if window > 1 {
        bx.line(&mut c, &xs, &returns, 1.0, color::tint(color::PURPLE, 0.55));
    }
    bx.line(&mut c, &xs, &returns_ma, 2.5, color::PURPLE);
    bx.scatter(&mut c, &xs, &returns_ma, 1.25, color::PURPLE);
    if !returns.iter().any(|v| v.is_finite()) {
        c.text_aligned(
            bx.rect.x + bx.rect.w / 2,
            bx.rect.y + bx.rect.h / 2,
            "no return recorded",
            TEXT_SCALE,
            color::GRAY,
            Align::Center,
            Align::Center,
        );
    }
    bx.frame(&mut c);
    bx.title(&mut c, "Mean return per episode");
    bx.ylabel(&mut c, "return", color::TEXT);
    bx.xlabel(&mut c, "training episodes");
    c.save_png(out_png)
}

// ------------------------------------------------------------------------------------------
// Path lengths (Fig. 3B)
// ------------------------------------------------------------------------------------------

/// Mean number of actions of the first, second and last path of an episode, for one agent
/// (NaN where no episode has such a path).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PathLengthStats {
    /// The agent ("LSNN agent", "random walk", "oracle", ...).
    pub name: String,
    /// Mean actions of the first path.
    pub first: f64,
    /// Mean actions of the second path.
    pub second: f64,
    /// Mean actions of the last path.
    pub last: f64,
}

/// Colours of the first, second and last path's bars (as the paths in [`draw_paths`]).
const BAR_COLORS: [Rgb; 3] = [color::BLUE, color::ORANGE, color::RED];

/// (width, height) of the path-length figure for `n` agents.
fn path_lengths_size(n: usize) -> (u32, u32) {
    ((160 + 240 * n.max(1) as i32).max(800) as u32, 560)
}

/// Grouped bars (first, second, last path) per agent: the mean number of actions per path
/// (the paper's Fig. 3B), its value above each bar; a NaN (or infinite) value has no bar but
/// an "n/a" label.
///
/// Errors if `stats` is empty.
pub fn draw_path_lengths(stats: &[PathLengthStats], out_png: &Path) -> anyhow::Result<()> {
    if stats.is_empty() {
        bail!("draw_path_lengths: no agent to draw");
    }
    let (w, h) = path_lengths_size(stats.len());
    let mut c = Canvas::new(w, h, color::WHITE);
    let values = |s: &PathLengthStats| [s.first, s.second, s.last];
    let top = stats
        .iter()
        .flat_map(values)
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    // Head room above the tallest bar for its label and the legend.
    let y1 = if top > 0.0 { top * 1.45 } else { 1.0 };
    let n = stats.len();
    let mut ax = Axes::new(
        Rect::new(110, 60, w as i32 - 150, h as i32 - 120),
        (-0.5, n as f64 - 0.5),
        (0.0, y1),
    );
    ax.background(&mut c, color::WHITE);
    ax.draw_y_axis(&mut c, true);
    let ticks: Vec<(f64, String)> = stats
        .iter()
        .enumerate()
        .map(|(g, s)| (g as f64, s.name.clone()))
        .collect();
    ax.draw_x_ticks_at(&mut c, &ticks, true, false);
    let (bar_w, offsets) = (0.24, [-0.27, 0.0, 0.27]);
    let base = ax.py(0.0).round() as i32;
    for (g, s) in stats.iter().enumerate() {
        for (b, v) in values(s).into_iter().enumerate() {
            let xc = g as f64 + offsets[b];
            let (px0, px1) = (
                ax.px(xc - bar_w / 2.0).round() as i32,
                ax.px(xc + bar_w / 2.0).round() as i32,
            );
            let cx = (px0 + px1) / 2;
            if v.is_finite() {
                let top_px = ax.py(v.clamp(0.0, ax.y1)).round() as i32;
                c.with_clip(ax.rect, |c| {
                    c.fill_rect(
                        Rect::new(px0, top_px, px1 - px0, base - top_px),
                        BAR_COLORS[b],
                    )
                });
                c.text_aligned(
                    cx,
                    top_px - 4,
                    &format!("{v:.1}"),
                    TEXT_SCALE,
                    color::TEXT,
                    Align::Center,
                    Align::End,
                );
            } else {
                c.text_aligned(
                    cx,
                    base - 4,
                    "n/a",
                    TEXT_SCALE,
                    color::GRAY,
                    Align::Center,
                    Align::End,
                );
            }
        }
    }
    ax.frame(&mut c);
    ax.title(
        &mut c,
        "Length of the first, second and last path of an episode",
    );
    ax.ylabel(&mut c, "actions per path (mean)", color::TEXT);
    let entries: Vec<LegendEntry> = ["first path", "second path", "last path"]
        .iter()
        .zip(BAR_COLORS)
        .map(|(l, col)| LegendEntry::new(*l, col, Mark::Block))
        .collect();
    let (lw, _) = Axes::legend_size(&entries);
    draw_legend(&mut c, ax.rect.right() - 8 - lw, ax.rect.y + 8, &entries);
    c.save_png(out_png)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rl::arena::Arena;
    use crate::rl::baselines::oracle_velocity;
    use crate::rl::trace::TraceRecorder;
    use image::GenericImageView;
    use std::collections::HashSet;

    fn check_png(path: &Path, w: u32, h: u32) -> image::RgbImage {
        let img = image::open(path).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (w, h));
        let bg = image::Rgb([255u8, 255, 255]);
        let ink = img.pixels().filter(|p| **p != bg).count();
        assert!(
            ink > (w * h / 100) as usize,
            "only {ink} non-background pixels"
        );
        let colours: HashSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
        assert!(colours.len() >= 6, "only {} colours", colours.len());
        assert!(!path.with_extension("png.tmp").exists());
        img
    }

    /// Oracle traces of `n` episodes (with exact hit points).
    fn oracle_traces(n: u64) -> Vec<EpisodeTrace> {
        traces_of(n, |_, p, g, v| oracle_velocity(p, g, v))
    }

    /// Traces of `n` episodes under `policy(action index, position, goal, top speed)`.
    fn traces_of(
        n: u64,
        policy: impl Fn(usize, [f64; 2], [f64; 2], f64) -> [f32; 2],
    ) -> Vec<EpisodeTrace> {
        let s = ArenaSettings::default();
        let indices: Vec<u64> = (0..n).collect();
        let mut arena = Arena::new(s, 4, &indices).unwrap();
        let mut recs: Vec<TraceRecorder> = (0..n as usize)
            .map(|e| TraceRecorder::start(&arena, e))
            .collect();
        while !arena.done() {
            let k = arena.actions_taken();
            let actions: Vec<[f32; 2]> = arena
                .positions()
                .iter()
                .zip(arena.goals())
                .map(|(&p, &g)| policy(k, p, g, s.max_speed))
                .collect();
            let r = arena.step(&actions);
            for rec in recs.iter_mut() {
                rec.after_step_with_actions(&arena, &actions, &r);
            }
        }
        recs.into_iter().map(TraceRecorder::finish).collect()
    }

    /// A hand-made trace that stays in the left half of the arena, away from its goal at
    /// (0, 1)... and the point inside the goal disc the tests look at.
    fn far_trace() -> EpisodeTrace {
        EpisodeTrace {
            goal: [0.0, 1.0],
            positions: vec![
                [-0.3, -0.2],
                [-0.4, -0.2],
                [-0.5, -0.1],
                [-0.6, 0.0],
                [-0.6, 0.1],
            ],
            goal_hits: vec![2],
            respawns: vec![[-0.5, -0.5]],
            rewards: vec![0.0, 1.0, 0.0, 0.0],
        }
    }

    #[test]
    fn path_figure_has_the_expected_size_for_one_to_nine_panels() {
        let dir = tempfile::tempdir().unwrap();
        let s = ArenaSettings::default();
        let traces = oracle_traces(9);
        for t in &traces {
            assert!(t.goals() >= 3, "the oracle reaches several goals");
        }
        let title = "Agent paths after training (weights frozen)";
        // One panel: the legend and the title set the width.
        let out = dir.path().join("one.png");
        draw_paths(&s, &traces[..1], title, &out).unwrap();
        let (w1, h1) = paths_size(1, title);
        assert_eq!(h1, (TOP + PANEL + 30) as u32);
        assert!(w1 >= (LEFT + PANEL + GAP_X + paths_legend_width()) as u32);
        check_png(&out, w1, h1);
        // Nine panels: three rows of (at most) four.
        let out = dir.path().join("nine.png");
        draw_paths(&s, &traces, title, &out).unwrap();
        let (w9, h9) = paths_size(9, title);
        assert_eq!(h9, (TOP + 3 * PANEL + 2 * GAP_Y + 30) as u32);
        assert_eq!(
            w9,
            (LEFT + 4 * (PANEL + GAP_X) + paths_legend_width() + 20) as u32
        );
        assert_eq!(paths_size(4, title).0, w9);
        assert_eq!(paths_size(4, title).1, h1);
        check_png(&out, w9, h9);
    }

    #[test]
    fn goal_disc_is_drawn_at_the_goal() {
        let dir = tempfile::tempdir().unwrap();
        let s = ArenaSettings::default();
        let t = far_trace();
        let out = dir.path().join("far.png");
        // The trace in the second panel, to check the panel placement too.
        draw_paths(&s, &[far_trace(), t.clone()], "goal test", &out).unwrap();
        let img = image::open(&out).unwrap().to_rgb8();
        let ax = panel_axes(1, s.arena_radius);
        let px = |x: f64, y: f64| {
            let (a, b) = ax.map(x, y);
            img.get_pixel(a.floor() as u32, b.floor() as u32).0
        };
        // Inside the goal disc, half its radius in from the border (the border line itself
        // crosses the goal's centre).
        let inner = 1.0 - s.goal_radius / 2.0;
        assert_eq!(px(t.goal[0] * inner, t.goal[1] * inner), GOAL_FILL);
        assert_eq!(px(0.04, 1.0 - s.goal_radius * 0.6), GOAL_FILL);
        // Outside the goal, nothing is drawn there; the start is a black dot.
        assert_eq!(px(0.5, 0.5), [255, 255, 255]);
        assert_eq!(px(t.positions[0][0], t.positions[0][1]), color::BLACK);
        // The first panel (the same trace) has its disc at the same place within the panel.
        let ax0 = panel_axes(0, s.arena_radius);
        let (a, b) = ax0.map(0.0, inner);
        assert_eq!(img.get_pixel(a as u32, b as u32).0, GOAL_FILL);
        // A goal elsewhere moves the disc.
        let moved = EpisodeTrace {
            goal: [0.0, -1.0],
            ..t
        };
        draw_paths(&s, &[moved], "goal test", &out).unwrap();
        let img = image::open(&out).unwrap().to_rgb8();
        let (a, b) = ax0.map(0.0, -inner);
        assert_eq!(img.get_pixel(a as u32, b as u32).0, GOAL_FILL);
        let (a, b) = ax0.map(0.0, inner);
        assert_eq!(img.get_pixel(a as u32, b as u32).0, [255, 255, 255]);
    }

    #[test]
    fn path_figure_rejects_empty_and_malformed_input() {
        let dir = tempfile::tempdir().unwrap();
        let s = ArenaSettings::default();
        let out = dir.path().join("p.png");
        let err = draw_paths(&s, &[], "t", &out).unwrap_err();
        assert!(err.to_string().contains("no episode traces"), "{err}");
        let bad = EpisodeTrace {
            goal_hits: vec![9],
            ..far_trace()
        };
        let err = draw_paths(&s, &[far_trace(), bad], "t", &out).unwrap_err();
        assert!(
            format!("{err:#}").contains("trace 1 is malformed"),
            "{err:#}"
        );
        let nan = EpisodeTrace {
            positions: vec![[f64::NAN, 0.0]; 5],
            ..far_trace()
        };
        assert!(draw_paths(&s, &[nan], "t", &out).is_err());
        let bad_arena = ArenaSettings {
            arena_radius: f64::NAN,
            ..s
        };
        assert!(draw_paths(&bad_arena, &[far_trace()], "t", &out).is_err());
        assert!(!out.exists(), "nothing written on error");
        // A trace without a goal, and an empty episode (a start only), draw fine.
        let none = EpisodeTrace {
            goal_hits: vec![],
            respawns: vec![],
            rewards: vec![0.0; 4],
            ..far_trace()
        };
        let start_only = EpisodeTrace {
            positions: vec![[0.2, 0.2]],
            goal_hits: vec![],
            respawns: vec![],
            rewards: vec![],
            ..far_trace()
        };
        draw_paths(&s, &[none, start_only], "no goals", &out).unwrap();
        let (w, h) = paths_size(2, "no goals");
        assert_eq!(image::open(&out).unwrap().dimensions(), (w, h));
    }

    #[test]
    fn path_colours_follow_the_order() {
        assert_eq!(path_color(0, 1), color::BLUE);
        assert_eq!(path_color(1, 2), color::ORANGE);
        assert_eq!(path_color(2, 3), color::RED);
        assert_eq!(path_color(2, 5), color::PURPLE);
        assert_eq!(path_color(4, 5), color::RED);
        assert_eq!(path_color(7, 9), MIDDLE_PATHS[0]);
    }

    fn curve(n: usize) -> Vec<CurvePoint> {
        (0..n)
            .map(|i| {
                let x = i as f64 / n.max(1) as f64;
                let noise = ((i * 7919) % 13) as f64 / 13.0 - 0.5;
                CurvePoint {
                    episodes: i as f64 * 640.0,
                    goals_per_episode: 0.3 + 3.0 * x * x + 0.4 * noise,
                    mean_return: 0.1 + 3.0 * x * x + 0.4 * noise - 0.2,
                }
            })
            .collect()
    }

    #[test]
    fn goal_curve_png() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("goals.png");
        draw_goal_curve(&curve(300), 0.35, 7.2, &out).unwrap();
        check_png(&out, 1000, 800);
        // Unsorted input, a single point, and NaN baselines and values.
        let mut pts = curve(40);
        pts.reverse();
        pts[3].goals_per_episode = f64::NAN;
        pts[5].mean_return = f64::INFINITY;
        pts[7].episodes = f64::NAN;
        draw_goal_curve(&pts, f64::NAN, f64::NAN, &out).unwrap();
        check_png(&out, 1000, 800);
        draw_goal_curve(&curve(1), 0.35, f64::NAN, &out).unwrap();
        assert_eq!(image::open(&out).unwrap().dimensions(), (1000, 800));
        let all_nan: Vec<CurvePoint> = curve(5)
            .into_iter()
            .map(|p| CurvePoint {
                goals_per_episode: f64::NAN,
                mean_return: f64::NAN,
                ..p
            })
            .collect();
        draw_goal_curve(&all_nan, f64::NAN, f64::NAN, &out).unwrap();
        assert_eq!(image::open(&out).unwrap().dimensions(), (1000, 800));
    }

    #[test]
    fn goal_curve_rejects_empty_input() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("goals.png");
        let err = draw_goal_curve(&[], 0.35, 7.2, &out).unwrap_err();
        assert!(err.to_string().contains("no curve point"), "{err}");
        let nan_x = vec![CurvePoint {
            episodes: f64::NAN,
            goals_per_episode: 1.0,
            mean_return: 1.0,
        }];
        assert!(draw_goal_curve(&nan_x, 0.35, 7.2, &out).is_err());
        assert!(!out.exists());
    }

    #[test]
    fn goal_curve_baselines_are_dashed_lines_at_their_values() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("goals.png");
        // A flat agent at 8 sets y up to 8 · 1.1; the oracle's line at 4, the walk's at 2
        // (clear of the legend, which goes to a bottom corner, away from the agent's line).
        let pts: Vec<CurvePoint> = (0..10)
            .map(|i| CurvePoint {
                episodes: i as f64,
                goals_per_episode: 8.0,
                mean_return: 1.0,
            })
            .collect();
        draw_goal_curve(&pts, 2.0, 4.0, &out).unwrap();
        let img = image::open(&out).unwrap().to_rgb8();
        let ax = Axes::new(Rect::new(110, 60, 850, 420), (0.0, 9.0), (0.0, 8.8));
        let row = |v: f64| {
            let y = ax.py(v).round() as u32;
            (ax.rect.x as u32..ax.rect.right() as u32)
                .map(|x| img.get_pixel(x, y).0)
                .collect::<Vec<_>>()
        };
        let green = row(4.0).iter().filter(|p| **p == color::GREEN).count();
        let gray = row(2.0).iter().filter(|p| **p == color::GRAY).count();
        // Dashes of 10 with gaps of 6: ~5/8 of the width.
        assert!(green > 300 && green < 700, "{green}");
        assert!(gray > 300 && gray < 700, "{gray}");
    }

    /// Three agents' path lengths, one with NaN bars (no second or last exploitation phase).
    fn path_lengths_with_a_nan_bar() -> Vec<PathLengthStats> {
        vec![
            PathLengthStats {
                name: "LSNN agent".into(),
                first: 61.5,
                second: 24.0,
                last: 22.1,
            },
            PathLengthStats {
                name: "random walk".into(),
                first: 120.0,
                second: f64::NAN,
                last: f64::NAN,
            },
            PathLengthStats {
                name: "oracle".into(),
                first: 26.0,
                second: 25.2,
                last: 25.9,
            },
        ]
    }

    #[test]
    fn path_lengths_png_with_nan_bars() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("lengths.png");
        let stats = path_lengths_with_a_nan_bar();
        draw_path_lengths(&stats, &out).unwrap();
        let (w, h) = path_lengths_size(3);
        assert_eq!((w, h), (880, 560));
        let img = check_png(&out, w, h);
        // Every bar colour is there.
        for col in BAR_COLORS {
            assert!(img.pixels().any(|p| p.0 == col), "{col:?}");
        }
        // One agent, and every value NaN: no bar, still a figure.
        let none = vec![PathLengthStats {
            name: "untrained".into(),
            first: f64::NAN,
            second: f64::NAN,
            last: f64::INFINITY,
        }];
        draw_path_lengths(&none, &out).unwrap();
        let img = image::open(&out).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), path_lengths_size(1));
        // The legend's swatches are the only bar-coloured pixels.
        let blue = img.pixels().filter(|p| p.0 == color::BLUE).count();
        assert!(blue < 200, "{blue} blue pixels without a bar");
        let err = draw_path_lengths(&[], &out).unwrap_err();
        assert!(err.to_string().contains("no agent"), "{err}");
    }

    #[test]
    fn path_length_bars_are_proportional_to_the_values() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("lengths.png");
        let stats = vec![PathLengthStats {
            name: "a".into(),
            first: 40.0,
            second: 20.0,
            last: 10.0,
        }];
        draw_path_lengths(&stats, &out).unwrap();
        let img = image::open(&out).unwrap().to_rgb8();
        let height = |col: Rgb| {
            let mut best = 0;
            for x in 0..img.width() {
                // Below the legend, whose swatches share the bars' colours.
                let n = (200..img.height())
                    .filter(|&y| img.get_pixel(x, y).0 == col)
                    .count();
                best = best.max(n);
            }
            best as f64
        };
        let (b, o, r) = (
            height(color::BLUE),
            height(color::ORANGE),
            height(color::RED),
        );
        assert!(
            (b / o - 2.0).abs() < 0.05 && (o / r - 2.0).abs() < 0.1,
            "{b} {o} {r}"
        );
    }

    #[test]
    fn stats_and_points_round_trip_through_serde() {
        let p = CurvePoint {
            episodes: 1280.0,
            goals_per_episode: 1.5,
            mean_return: 1.25,
        };
        let back: CurvePoint = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        let s = PathLengthStats {
            name: "oracle".into(),
            first: 26.0,
            second: 25.0,
            last: 24.5,
        };
        let back: PathLengthStats =
            serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }

    /// Writes example figures to `plot_demo/` in the temporary directory for eyeballing:
    /// `cargo test --release --lib rl::figures::tests::demo -- --ignored`.
    #[test]
    #[ignore]
    fn demo() {
        let dir = &std::env::temp_dir().join("plot_demo");
        let s = ArenaSettings::default();
        // Before training: a wandering agent (a heading that turns smoothly), which now and
        // then runs into the goal; after: the oracle.
        let wander = traces_of(6, |k, p, _, v| {
            let h = 0.37 * k as f64 + 2.0 * (0.05 * k as f64 + p[0] * 3.0).sin();
            [(v * h.cos()) as f32, (v * h.sin()) as f32]
        });
        draw_paths(
            &s,
            &wander,
            "Agent paths before training (first update)",
            &dir.join("rl_paths_before.png"),
        )
        .unwrap();
        draw_paths(
            &s,
            &oracle_traces(4),
            "Agent paths after training (weights frozen)",
            &dir.join("rl_paths_after.png"),
        )
        .unwrap();
        draw_paths(&s, &oracle_traces(1), "One", &dir.join("rl_paths_one.png")).unwrap();
        draw_goal_curve(&curve(300), 0.35, 7.2, &dir.join("rl_goals.png")).unwrap();
        draw_goal_curve(&curve(8), 0.35, 7.2, &dir.join("rl_goals_few.png")).unwrap();
        let stats = path_lengths_with_a_nan_bar();
        draw_path_lengths(&stats, &dir.join("rl_path_lengths.png")).unwrap();
    }
}
