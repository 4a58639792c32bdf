//! Fig. 1C of Bellec et al. 2018 as a heat map: connection probability from every
//! presynaptic population (rows: inputs and recurrent) to every postsynaptic one (columns:
//! recurrent and readout), with the percentage written in each cell.

use std::path::Path;

use super::canvas::{color, text_size, Align, Canvas, Rect, Rgb, TEXT_SCALE};
use crate::model::connectivity::{
    is_input_population, is_readout_population, Connectivity, Population,
};

const WIDTH: u32 = 1000;
const HEIGHT: u32 = 760;
/// Cells with no weight matrix between their populations (inputs → readout).
const NO_MATRIX: Rgb = [232, 232, 232];
/// Ends of the sequential colour scale (matplotlib's "Blues").
const LOW: Rgb = [247, 251, 255];
const HIGH: Rgb = [8, 48, 107];

/// The colour-scale maximum: a round value at or above the largest probability, so sparse
/// networks (a few %) still show contrast.
fn scale_max(c: &Connectivity) -> f64 {
    let max = c
        .edges
        .iter()
        .map(|e| e.probability)
        .filter(|p| p.is_finite())
        .fold(0.0, f64::max);
    [0.01, 0.02, 0.05, 0.1, 0.2, 0.5]
        .into_iter()
        .find(|&v| max <= v)
        .unwrap_or(1.0)
}

fn shade(p: f64, vmax: f64) -> Rgb {
    color::mix(LOW, HIGH, (p / vmax) as f32)
}

/// "12.3%"; two decimals below 0.1 % so rare connections do not read as zero.
pub fn percent(p: f64) -> String {
    let v = p * 100.0;
    if v == 0.0 {
        "0%".to_string()
    } else if v == 100.0 {
        "100%".to_string()
    } else if v < 0.1 {
        format!("{v:.2}%")
    } else {
        format!("{v:.1}%")
    }
}

/// A colour-bar label: the scale ends are round, so no trailing zeros ("50%", "2.5%").
fn round_percent(p: f64) -> String {
    let s = format!("{:.2}", p * 100.0);
    format!("{}%", s.trim_end_matches('0').trim_end_matches('.'))
}

/// Population colours shared with the raster figure (E blue, I red, A green).
fn population_color(name: &str) -> Rgb {
    match name {
        "E" | "X_E" => color::BLUE,
        "I" | "X_I" => color::RED,
        "A" => color::GREEN,
        "Y" => color::TEXT,
        _ => color::DARK_GRAY,
    }
}

struct Layout<'a> {
    rows: Vec<&'a Population>,
    cols: Vec<&'a Population>,
    grid: Rect,
    cell_w: i32,
    cell_h: i32,
}

impl Layout<'_> {
    fn cell(&self, r: usize, c: usize) -> Rect {
        Rect::new(
            self.grid.x + c as i32 * self.cell_w,
            self.grid.y + r as i32 * self.cell_h,
            self.cell_w,
            self.cell_h,
        )
    }
}

fn layout(c: &Connectivity) -> Layout<'_> {
    let rows: Vec<&Population> = c
        .populations
        .iter()
        .filter(|p| !is_readout_population(&p.name))
        .collect();
    let cols: Vec<&Population> = c
        .populations
        .iter()
        .filter(|p| !is_input_population(&p.name))
        .collect();
    let (left, top, right, bottom) = (250, 120, 170, 110);
    let (aw, ah) = (WIDTH as i32 - left - right, HEIGHT as i32 - top - bottom);
    let cell_w = (aw / cols.len().max(1) as i32).min(150);
    let cell_h = (ah / rows.len().max(1) as i32).min(100);
    let (gw, gh) = (cell_w * cols.len() as i32, cell_h * rows.len() as i32);
    let grid = Rect::new(left + (aw - gw) / 2, top, gw, gh);
    Layout {
        rows,
        cols,
        grid,
        cell_w,
        cell_h,
    }
}

/// Text at scale 2 if it fits in `max_w` pixels, else at scale 1.
fn fitting_scale(s: &str, max_w: i32) -> u32 {
    if text_size(s, TEXT_SCALE).0 as i32 <= max_w {
        TEXT_SCALE
    } else {
        1
    }
}

/// Draws the connection-probability matrix of `c` (Fig. 1C) as a 1000x760 PNG, written
/// atomically: rows are presynaptic, columns postsynaptic populations, each cell shaded by
/// probability (colour bar on the right) with the percentage and count in it; input →
/// readout cells, which no matrix joins, are grey. The caption gives each matrix's density.
pub fn draw_connectivity(c: &Connectivity, path: &Path) -> anyhow::Result<()> {
    let mut cv = Canvas::new(WIDTH, HEIGHT, color::WHITE);
    let w = WIDTH as i32;
    cv.text_bold_aligned(
        w / 2,
        14,
        "Connection probability (Fig. 1C)",
        TEXT_SCALE,
        color::TEXT,
        Align::Center,
        Align::Start,
    );
    let l = layout(c);
    let vmax = scale_max(c);

    if l.rows.is_empty() || l.cols.is_empty() {
        cv.text_aligned(
            w / 2,
            HEIGHT as i32 / 2,
            "no populations",
            TEXT_SCALE,
            color::GRAY,
            Align::Center,
            Align::Center,
        );
    } else {
        draw_matrix(&mut cv, c, &l, vmax);
        draw_colour_bar(&mut cv, &l, vmax);
    }

    // Caption: overall density of each matrix, just below the grid; the counts are dropped
    // before the text is shrunk.
    let with_counts: Vec<String> = c
        .matrices
        .iter()
        .map(|m| {
            format!(
                "{} {} ({}/{})",
                m.name,
                percent(m.density),
                m.active,
                m.possible
            )
        })
        .collect();
    let without: Vec<String> = c
        .matrices
        .iter()
        .map(|m| format!("{} {}", m.name, percent(m.density)))
        .collect();
    let long = format!("density: {}", with_counts.join(", "));
    let short = format!("density: {}", without.join(", "));
    let caption = if fitting_scale(&long, w - 40) == TEXT_SCALE {
        long
    } else {
        short
    };
    let y = (l.grid.bottom() + 50).min(HEIGHT as i32 - 30);
    cv.text_aligned(
        w / 2,
        y,
        &caption,
        fitting_scale(&caption, w - 40),
        color::TEXT,
        Align::Center,
        Align::Center,
    );
    cv.save_png(path)
}

fn draw_matrix(cv: &mut Canvas, c: &Connectivity, l: &Layout, vmax: f64) {
    let g = l.grid;
    for (r, pre) in l.rows.iter().enumerate() {
        for (k, post) in l.cols.iter().enumerate() {
            let cell = l.cell(r, k).inset(1);
            let (cx, cy) = (cell.x + cell.w / 2, cell.y + cell.h / 2);
            if is_input_population(&pre.name) && is_readout_population(&post.name) {
                cv.fill_rect(cell, NO_MATRIX);
                continue;
            }
            let Some(e) = c.edge(&pre.name, &post.name) else {
                // A one-neuron population onto itself: autapses only, never allowed.
                cv.fill_rect(cell, NO_MATRIX);
                cv.text_aligned(cx, cy, "n/a", 1, color::GRAY, Align::Center, Align::Center);
                continue;
            };
            cv.fill_rect(cell, shade(e.probability, vmax));
            let ink = if e.probability / vmax > 0.5 {
                color::WHITE
            } else {
                color::TEXT
            };
            let pct = percent(e.probability);
            let count = format!("{}/{}", e.connections, e.possible);
            let show_count = cell.h >= 44 && text_size(&count, 1).0 as i32 <= cell.w - 6;
            let dy = if show_count { -6 } else { 0 };
            cv.text_aligned(
                cx,
                cy + dy,
                &pct,
                fitting_scale(&pct, cell.w - 6),
                ink,
                Align::Center,
                Align::Center,
            );
            if show_count {
                cv.text_aligned(cx, cy + 12, &count, 1, ink, Align::Center, Align::Center);
            }
        }
    }
    cv.rect(g, color::DARK_GRAY);
    // Separate input rows from recurrent ones, and the readout column from the rest.
    if let Some(r) = l.rows.iter().position(|p| !is_input_population(&p.name)) {
        if r > 0 {
            let y = g.y + r as i32 * l.cell_h;
            cv.fill_rect(Rect::new(g.x, y - 1, g.w, 2), color::DARK_GRAY);
        }
    }
    if let Some(k) = l.cols.iter().position(|p| is_readout_population(&p.name)) {
        if k > 0 {
            let x = g.x + k as i32 * l.cell_w;
            cv.fill_rect(Rect::new(x - 1, g.y, 2, g.h), color::DARK_GRAY);
        }
    }

    // Axis labels: "name (size)" in the population's colour.
    for (r, p) in l.rows.iter().enumerate() {
        let y = g.y + r as i32 * l.cell_h + l.cell_h / 2;
        let s = format!("{} ({})", p.name, p.size);
        let col = population_color(&p.name);
        cv.text_aligned(g.x - 10, y, &s, TEXT_SCALE, col, Align::End, Align::Center);
    }
    for (k, p) in l.cols.iter().enumerate() {
        let x = g.x + k as i32 * l.cell_w + l.cell_w / 2;
        let s = format!("{} ({})", p.name, p.size);
        let col = population_color(&p.name);
        let sc = fitting_scale(&s, l.cell_w - 4);
        cv.text_aligned(x, g.y - 10, &s, sc, col, Align::Center, Align::End);
    }
    let widest = l
        .rows
        .iter()
        .map(|p| text_size(&format!("{} ({})", p.name, p.size), TEXT_SCALE).0 as i32)
        .max()
        .unwrap_or(0);
    cv.text_vertical(
        g.x - 10 - widest - 24,
        g.y + g.h / 2,
        "presynaptic",
        TEXT_SCALE,
        color::TEXT,
    );
    cv.text_aligned(
        g.x + g.w / 2,
        g.y - 44,
        "postsynaptic",
        TEXT_SCALE,
        color::TEXT,
        Align::Center,
        Align::End,
    );
}

/// A vertical gradient from 0 (bottom) to `vmax` (top) right of the matrix.
fn draw_colour_bar(cv: &mut Canvas, l: &Layout, vmax: f64) {
    let g = l.grid;
    let bar = Rect::new(g.right() + 40, g.y, 22, g.h.max(40));
    for i in 0..bar.h {
        let t = 1.0 - i as f64 / (bar.h - 1).max(1) as f64;
        cv.fill_rect(Rect::new(bar.x, bar.y + i, bar.w, 1), shade(t * vmax, vmax));
    }
    cv.rect(bar, color::DARK_GRAY);
    for (t, va) in [(1.0, Align::Start), (0.5, Align::Center), (0.0, Align::End)] {
        let y = bar.y + ((1.0 - t) * (bar.h - 1) as f64).round() as i32;
        cv.hline(bar.right(), bar.right() + 4, y, color::DARK_GRAY);
        cv.text_aligned(
            bar.right() + 8,
            y,
            &round_percent(t * vmax),
            TEXT_SCALE,
            color::TEXT,
            Align::Start,
            va,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::connectivity::{Edge, MatrixDensity};
    use std::collections::HashSet;

    fn pop(name: &str, size: usize) -> Population {
        Population {
            name: name.to_string(),
            size,
        }
    }

    fn sample() -> Connectivity {
        let populations = vec![
            pop("X_E", 60),
            pop("X_I", 20),
            pop("E", 90),
            pop("I", 30),
            pop("A", 100),
            pop("Y", 10),
        ];
        let mut edges = Vec::new();
        let mut k = 0usize;
        for pre in ["X_E", "X_I", "E", "I", "A"] {
            for post in ["E", "I", "A", "Y"] {
                if pre.starts_with('X') && post == "Y" {
                    continue;
                }
                k += 1;
                let possible = 1000;
                let connections = (k * 37) % 400;
                edges.push(Edge {
                    pre: pre.to_string(),
                    post: post.to_string(),
                    connections,
                    possible,
                    probability: connections as f64 / possible as f64,
                });
            }
        }
        let m = |name: &str, active, possible| MatrixDensity {
            name: name.to_string(),
            active,
            possible,
            density: active as f64 / possible as f64,
        };
        Connectivity {
            populations,
            edges,
            matrices: vec![
                m("w_in", 1200, 17600),
                m("w_rec", 2400, 48180),
                m("w_out", 2200, 2200),
            ],
        }
    }

    fn temp_png(tag: &str) -> std::path::PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        std::env::temp_dir()
            .join(format!("lsnn-connectivity-{}-{nanos}", std::process::id()))
            .join(format!("{tag}.png"))
    }

    #[test]
    fn percent_formatting() {
        assert_eq!(percent(0.123), "12.3%");
        assert_eq!(percent(1.0), "100%");
        assert_eq!(percent(0.0), "0%");
        assert_eq!(percent(0.0004), "0.04%");
        assert_eq!(round_percent(0.5), "50%");
        assert_eq!(round_percent(0.025), "2.5%");
        assert_eq!(round_percent(0.0), "0%");
    }

    #[test]
    fn connectivity_figure_png() {
        let c = sample();
        let path = temp_png("fig1c");
        draw_connectivity(&c, &path).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
        assert_eq!(img.dimensions(), (WIDTH, HEIGHT));
        let colours: HashSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
        assert!(colours.len() >= 10, "only {} colours", colours.len());
        let ink = img.pixels().filter(|p| p.0 != color::WHITE).count();
        assert!(
            ink > (WIDTH * HEIGHT / 20) as usize,
            "only {ink} ink pixels"
        );

        // X_E -> Y has no matrix: grey; the largest probability is the darkest shade.
        let l = layout(&c);
        assert_eq!((l.rows.len(), l.cols.len()), (5, 4));
        let at = |r: Rect| img.get_pixel((r.x + 3) as u32, (r.y + 3) as u32).0;
        assert_eq!(at(l.cell(0, 3)), NO_MATRIX);
        let vmax = scale_max(&c);
        assert_eq!(vmax, 0.5);
        let (i, e) = c
            .edges
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.probability.total_cmp(&b.1.probability))
            .unwrap();
        let r = l.rows.iter().position(|p| p.name == e.pre).unwrap();
        let k = l.cols.iter().position(|p| p.name == e.post).unwrap();
        assert_eq!(at(l.cell(r, k)), shade(e.probability, vmax), "edge {i}");
    }

    #[test]
    fn connectivity_figure_of_a_network() {
        let mut cfg = crate::config::Config::default();
        cfg.model.n_regular = 5;
        cfg.model.n_adaptive = 1;
        let net = crate::model::init::initialise(&cfg.init_settings(), 3, 2).network;
        let c = crate::model::connectivity::connection_probabilities(&net);
        // A single adaptive neuron: the A -> A cell is "n/a".
        assert!(c.edge("A", "A").is_none());
        let path = temp_png("net");
        draw_connectivity(&c, &path).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
        assert_eq!(img.dimensions(), (WIDTH, HEIGHT));
        let first = *img.get_pixel(0, 0);
        assert!(img.pixels().any(|p| *p != first));
    }
}
