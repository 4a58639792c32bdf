//! Figures of the learning-to-learn evaluation (`tasks::l2l_eval`): the error per pair of an
//! episode against the baselines (the paper's Fig. 2E/F) and the network's internal model
//! after k pairs (Fig. 2H/I).

use std::path::Path;

use super::l2l_eval::{ErrorCurves, InternalModel};
use super::l2l_family::{FamilyKind, TaskFamily};
use crate::plot::canvas::{
    color, pad_range, Align, Axes, Canvas, LegendEntry, Mark, Rect, Rgb, TEXT_SCALE,
};
use crate::plot::figures::moving_average;

fn family_name(f: TaskFamily) -> &'static str {
    match f.kind {
        FamilyKind::TargetNetworks => "target networks",
        FamilyKind::Sines => "sines",
    }
}

/// MSE per pair on a log scale: the LSNN (each pair, and a moving average over 11), the
/// optimal linear regressor's and the family mean function's MSE (lines), the mean of the
/// targets seen so far and the online linear regressor (moving averages; the latter's mean
/// and median), the fresh network trained by backprop (dots). The legend sits to the right.
pub fn draw_error_curves(curves: &ErrorCurves, out_png: &Path) -> anyhow::Result<()> {
    let entries = vec![
        LegendEntry::new(
            "LSNN (11-pair mean)",
            color::BLUE,
            Mark::Line { width: 3.0 },
        ),
        LegendEntry::new(
            "LSNN, each pair",
            color::tint(color::BLUE, 0.6),
            Mark::Line { width: 1.0 },
        ),
        LegendEntry::new(
            "optimal linear regressor (all pairs)",
            color::BLACK,
            Mark::Line { width: 2.0 },
        ),
        LegendEntry::new(
            "family mean function (prior only)",
            color::PURPLE,
            Mark::Line { width: 2.0 },
        ),
        LegendEntry::new(
            "mean of the targets seen so far",
            color::BROWN,
            Mark::Line { width: 2.0 },
        ),
        LegendEntry::new(
            "online linear regressor (mean)",
            color::ORANGE,
            Mark::Line { width: 2.0 },
        ),
        LegendEntry::new(
            "online linear regressor (median)",
            color::tint(color::ORANGE, 0.4),
            Mark::Line { width: 1.5 },
        ),
        LegendEntry::new(
            format!(
                "backprop, fresh 2-10-1 net ({} episodes)",
                curves.backprop_episodes
            ),
            color::GREEN,
            Mark::LineDot {
                width: 1.5,
                radius: 4.0,
            },
        ),
    ];
    let plot = Rect::new(150, 70, 910, 540);
    let (legend_w, _) = Axes::legend_size(&entries);
    let (w, h) = ((plot.right() + 30 + legend_w + 30) as u32, 700);
    let mut c = Canvas::new(w, h, color::WHITE);
    let pairs = curves.pairs();
    let xs: Vec<f64> = (0..pairs).map(|t| t as f64).collect();
    let log = |v: &[f64]| -> Vec<f64> {
        v.iter()
            .map(|&e| if e > 0.0 { e.log10() } else { f64::NAN })
            .collect()
    };
    let lsnn_raw = log(&curves.lsnn);
    let lsnn = log(&moving_average(&curves.lsnn, 11));
    let optimal = curves.optimal_linear.iter().sum::<f64>() / pairs.max(1) as f64;
    let online = log(&moving_average(&curves.online_linear, 11));
    let online_median = log(&moving_average(&curves.online_linear_median, 11));
    let prior = curves.family_mean.iter().sum::<f64>() / pairs.max(1) as f64;
    let online_mean = log(&moving_average(&curves.online_mean, 11));
    let (bp_x, bp_y): (Vec<f64>, Vec<f64>) = curves
        .backprop_fresh_net
        .iter()
        .map(|&(t, e)| (t as f64, if e > 0.0 { e.log10() } else { f64::NAN }))
        .unzip();

    // y range: the curves that matter, not the first pairs' huge online-linear errors.
    let mut vals: Vec<f64> = lsnn.iter().chain(&lsnn_raw).copied().collect();
    vals.push(optimal.log10());
    vals.push(prior.log10());
    vals.extend(online_median.iter().skip(pairs / 20));
    vals.extend(online_mean.iter());
    vals.extend(bp_y.iter());
    let finite: Vec<f64> = vals.into_iter().filter(|v| v.is_finite()).collect();
    let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (y0, y1) = pad_range((lo.floor().max(lo - 0.3), hi.ceil().min(hi + 0.3)), 0.03);

    let mut ax = Axes::new(plot, (0.0, (pairs.max(2) - 1) as f64), (y0, y1));
    ax.background(&mut c, color::WHITE);
    ax.draw_x_axis(&mut c, true, true);
    let ticks: Vec<(f64, String)> = (y0.floor() as i32..=y1.ceil() as i32)
        .map(|d| d as f64)
        .filter(|&d| d >= y0 && d <= y1)
        .map(|d| (d, format!("{}", 10f64.powf(d))))
        .collect();
    ax.draw_y_ticks_at(&mut c, &ticks, true);

    ax.line(&mut c, &xs, &lsnn_raw, 1.0, color::tint(color::BLUE, 0.6));
    let line = vec![optimal.log10(); 2];
    ax.line(&mut c, &[0.0, (pairs - 1) as f64], &line, 2.0, color::BLACK);
    ax.line(
        &mut c,
        &[0.0, (pairs - 1) as f64],
        &[prior.log10(); 2],
        2.0,
        color::PURPLE,
    );
    ax.line(&mut c, &xs, &online_mean, 2.0, color::BROWN);
    ax.line(&mut c, &xs, &online, 2.0, color::ORANGE);
    ax.line(
        &mut c,
        &xs,
        &online_median,
        1.5,
        color::tint(color::ORANGE, 0.4),
    );
    ax.line(&mut c, &bp_x, &bp_y, 1.5, color::GREEN);
    ax.scatter(&mut c, &bp_x, &bp_y, 4.0, color::GREEN);
    ax.line(&mut c, &xs, &lsnn, 3.0, color::BLUE);
    ax.frame(&mut c);
    ax.title(
        &mut c,
        &format!(
            "Unseen {}: squared error at each pair ({} episodes, weights frozen)",
            family_name(curves.family),
            curves.episodes
        ),
    );
    ax.xlabel(&mut c, "pair within the episode");
    ax.ylabel(&mut c, "MSE (log scale)", color::TEXT);
    // The legend sits beside the plot: with eight curves spread over the whole log range, no
    // corner inside it stays clear.
    crate::plot::canvas::draw_legend(&mut c, plot.right() + 30, plot.y, &entries);
    c.save_png(out_png)
}

/// A perceptual colour scale (viridis, by its five anchor colours) for t in [0, 1].
fn viridis(t: f64) -> Rgb {
    const STOPS: [Rgb; 5] = [
        [68, 1, 84],
        [59, 82, 139],
        [33, 145, 140],
        [94, 201, 98],
        [253, 231, 37],
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (STOPS.len() - 1) as f64;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    color::mix(STOPS[i], STOPS[i + 1], (x - i as f64) as f32)
}

/// The internal model: one row per probed episode. Sines: per probe time, the true curve
/// and the network's predictions over x, with the pairs shown so far as dots. Target networks:
/// the true function on the input square, then the network's predictions after each number
/// of pairs (heat maps on the target range, the inputs shown so far as dots).
pub fn draw_internal_model(model: &InternalModel, out_png: &Path) -> anyhow::Result<()> {
    let heat = model.family.kind == FamilyKind::TargetNetworks;
    let cols = model.after_pairs.len() + usize::from(heat);
    let rows = model.episodes.len();
    // Room under the title for the colour bar (heat maps) or the legend (curves).
    let top = if heat { 90 } else { 150 };
    let (pw, ph, gap_x, gap_y, left) = (250, 220, 30, 70, 90);
    let w = (left + cols as i32 * (pw + gap_x) + 20).max(500) as u32;
    let h = (top + rows as i32 * (ph + gap_y) + 40) as u32;
    let mut c = Canvas::new(w, h, color::WHITE);
    c.text_bold_aligned(
        w as i32 / 2,
        14,
        &format!(
            "Internal model on unseen {} (weights frozen; probes restore the state exactly)",
            family_name(model.family)
        ),
        TEXT_SCALE,
        color::TEXT,
        Align::Center,
        Align::Start,
    );
    let (xlo, xhi) = model.family.input_range();
    let (ylo, yhi) = model.family.target_range();
    for (r, ep) in model.episodes.iter().enumerate() {
        for col in 0..cols {
            let rect = Rect::new(
                left + col as i32 * (pw + gap_x),
                top + r as i32 * (ph + gap_y),
                pw,
                ph,
            );
            // Column 0 of a heat-map row is the truth; the others the probes in order.
            let probe = if heat { col.checked_sub(1) } else { Some(col) };
            let title = match probe {
                None => format!("episode {}: true", r + 1),
                Some(p) => format!("after {} pairs", model.after_pairs[p]),
            };
            let shown = probe
                .map_or(0, |p| model.after_pairs[p])
                .min(ep.shown.len());
            if heat {
                let mut ax = Axes::new(rect, (xlo, xhi), (xlo, xhi));
                let values = match probe {
                    None => &ep.truth,
                    Some(p) => &ep.predictions[p],
                };
                let side = model.grid_side;
                let cell = (xhi - xlo) / (side - 1) as f64;
                for (k, &v) in values.iter().enumerate() {
                    let x = model.grid[k];
                    let (px0, py1) = ax.map(x[0] - cell / 2.0, x[1] - cell / 2.0);
                    let (px1, py0) = ax.map(x[0] + cell / 2.0, x[1] + cell / 2.0);
                    let col = viridis((v - ylo) / (yhi - ylo));
                    c.with_clip(ax.rect, |c| {
                        c.fill_rect(
                            Rect::new(
                                px0.floor() as i32,
                                py0.floor() as i32,
                                (px1.ceil() - px0.floor()) as i32,
                                (py1.ceil() - py0.floor()) as i32,
                            ),
                            col,
                        )
                    });
                }
                let (sx, sy): (Vec<f64>, Vec<f64>) =
                    ep.shown[..shown].iter().map(|(x, _)| (x[0], x[1])).unzip();
                ax.scatter(&mut c, &sx, &sy, 2.5, color::WHITE);
                ax.draw_x_axis(&mut c, r + 1 == rows, false);
                if col == 0 {
                    ax.draw_y_axis(&mut c, false);
                    ax.ylabel(&mut c, "x₂", color::TEXT);
                }
                if r + 1 == rows {
                    ax.xlabel(&mut c, "x₁");
                }
                ax.frame(&mut c);
                ax.title(&mut c, &title);
            } else {
                let p = probe.expect("sine panels are probes");
                let (y0, y1) = pad_range((ylo, yhi), 0.05);
                let mut ax = Axes::new(rect, (xlo, xhi), (y0, y1));
                ax.background(&mut c, color::WHITE);
                ax.draw_x_axis(&mut c, r + 1 == rows, true);
                if col == 0 {
                    ax.draw_y_axis(&mut c, true);
                    ax.ylabel(&mut c, &format!("episode {}: y", r + 1), color::TEXT);
                } else {
                    let ticks: Vec<(f64, String)> = Vec::new();
                    ax.draw_y_ticks_at(&mut c, &ticks, false);
                }
                let xs: Vec<f64> = model.grid.iter().map(|x| x[0]).collect();
                ax.line(&mut c, &xs, &ep.truth, 2.0, color::BLACK);
                ax.line(&mut c, &xs, &ep.predictions[p], 2.5, color::ORANGE);
                let (sx, sy): (Vec<f64>, Vec<f64>) =
                    ep.shown[..shown].iter().map(|(x, y)| (x[0], *y)).unzip();
                ax.scatter(&mut c, &sx, &sy, 3.5, color::BLUE);
                ax.frame(&mut c);
                ax.title(&mut c, &title);
                if r + 1 == rows {
                    ax.xlabel(&mut c, "x");
                }
            }
        }
    }
    if heat {
        // Colour bar of the target range under the title.
        let (bx, by, bw, bh) = (w as i32 / 2 - 150, 44, 300, 12);
        for i in 0..bw {
            c.vline(bx + i, by, by + bh, viridis(i as f64 / (bw - 1) as f64));
        }
        c.text_aligned(
            bx - 8,
            by + bh / 2,
            &format!("{ylo}"),
            TEXT_SCALE,
            color::TEXT,
            Align::End,
            Align::Center,
        );
        c.text_aligned(
            bx + bw + 8,
            by + bh / 2,
            &format!("{yhi}"),
            TEXT_SCALE,
            color::TEXT,
            Align::Start,
            Align::Center,
        );
    } else {
        let entries = vec![
            LegendEntry::new("true function", color::BLACK, Mark::Line { width: 2.0 }),
            LegendEntry::new("LSNN prediction", color::ORANGE, Mark::Line { width: 2.5 }),
            LegendEntry::new("pairs shown", color::BLUE, Mark::Dot { radius: 3.5 }),
        ];
        crate::plot::canvas::draw_legend(&mut c, w as i32 / 2 - 300, 40, &entries);
    }
    c.save_png(out_png)
}
