//! An RGB raster canvas with just enough drawing for scientific figures: filled and outlined
//! rectangles, crisp 1-px lines (Bresenham), anti-aliased thick polylines and dots,
//! anti-aliased TrueType text ([`font`]: DejaVu Sans, horizontal and rotated), and [`Axes`]: a data-to-pixel mapping with frame, nice
//! ticks, tick labels, titles and a legend. Everything is NaN-safe: non-finite points break
//! a polyline instead of poisoning it, and degenerate data ranges are widened.

use std::path::Path;

use anyhow::Context;

use super::font;

/// An sRGB colour.
pub type Rgb = [u8; 3];

/// Named colours (matplotlib's "tab10" for data series).
pub mod color {
    use super::Rgb;

    pub const WHITE: Rgb = [255, 255, 255];
    pub const BLACK: Rgb = [0, 0, 0];
    pub const TEXT: Rgb = [30, 30, 30];
    pub const DARK_GRAY: Rgb = [80, 80, 80];
    pub const GRAY: Rgb = [127, 127, 127];
    pub const LIGHT_GRAY: Rgb = [190, 190, 190];
    pub const GRID: Rgb = [228, 228, 228];
    pub const BLUE: Rgb = [31, 119, 180];
    pub const ORANGE: Rgb = [255, 127, 14];
    pub const GREEN: Rgb = [44, 160, 44];
    pub const RED: Rgb = [214, 39, 40];
    pub const PURPLE: Rgb = [148, 103, 189];
    pub const BROWN: Rgb = [140, 86, 75];
    pub const PINK: Rgb = [227, 119, 194];
    pub const OLIVE: Rgb = [188, 189, 34];
    pub const CYAN: Rgb = [23, 190, 207];
    pub const PALETTE: [Rgb; 10] = [
        BLUE, ORANGE, GREEN, RED, PURPLE, BROWN, PINK, GRAY, OLIVE, CYAN,
    ];

    /// `a` moved a fraction `t` (0..=1) of the way to `b`.
    pub fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
        let t = if t.is_finite() {
            t.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let m = |x: u8, y: u8| (x as f32 + (y as f32 - x as f32) * t).round() as u8;
        [m(a[0], b[0]), m(a[1], b[1]), m(a[2], b[2])]
    }

    /// A lighter tint of `c` (`t` = 0 keeps it, 1 is white).
    pub fn tint(c: Rgb, t: f32) -> Rgb {
        mix(c, WHITE, t)
    }
}

/// An integer pixel rectangle: columns `x..x+w`, rows `y..y+h`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    pub x: i32,
    pub y: i32,
    pub w: i32,
    pub h: i32,
}

impl Rect {
    pub const fn new(x: i32, y: i32, w: i32, h: i32) -> Rect {
        Rect { x, y, w, h }
    }
    pub fn right(&self) -> i32 {
        self.x + self.w
    }
    pub fn bottom(&self) -> i32 {
        self.y + self.h
    }
    pub fn is_empty(&self) -> bool {
        self.w <= 0 || self.h <= 0
    }
    pub fn contains(&self, x: i32, y: i32) -> bool {
        x >= self.x && x < self.right() && y >= self.y && y < self.bottom()
    }
    pub fn intersect(&self, o: &Rect) -> Rect {
        let (x0, y0) = (self.x.max(o.x), self.y.max(o.y));
        let (x1, y1) = (self.right().min(o.right()), self.bottom().min(o.bottom()));
        Rect::new(x0, y0, (x1 - x0).max(0), (y1 - y0).max(0))
    }
    /// Shrunk by `d` on every side (grown for negative `d`).
    pub fn inset(&self, d: i32) -> Rect {
        Rect::new(self.x + d, self.y + d, self.w - 2 * d, self.h - 2 * d)
    }
}

/// Horizontal or vertical text anchoring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Start,
    Center,
    End,
}

/// An RGB8 image being drawn on. Drawing outside the clip rectangle (initially the whole
/// canvas) is silently dropped.
pub struct Canvas {
    width: u32,
    height: u32,
    data: Vec<u8>,
    clip: Rect,
}

impl Canvas {
    pub fn new(width: u32, height: u32, background: Rgb) -> Canvas {
        let mut c = Canvas {
            width,
            height,
            data: vec![0; width as usize * height as usize * 3],
            clip: Rect::new(0, 0, width as i32, height as i32),
        };
        c.fill(background);
        c
    }

    pub fn width(&self) -> u32 {
        self.width
    }
    pub fn height(&self) -> u32 {
        self.height
    }
    pub fn bounds(&self) -> Rect {
        Rect::new(0, 0, self.width as i32, self.height as i32)
    }
    /// Raw RGB8 bytes, row-major.
    pub fn pixels(&self) -> &[u8] {
        &self.data
    }

    /// Restricts drawing to `r` (intersected with the canvas); `None` lifts the restriction.
    pub fn set_clip(&mut self, r: Option<Rect>) {
        self.clip = match r {
            Some(r) => r.intersect(&self.bounds()),
            None => self.bounds(),
        };
    }
    pub fn clip(&self) -> Rect {
        self.clip
    }
    /// Runs `f` with drawing clipped to `r`, then restores the previous clip.
    pub fn with_clip<R>(&mut self, r: Rect, f: impl FnOnce(&mut Canvas) -> R) -> R {
        let old = self.clip;
        self.clip = r.intersect(&old);
        let out = f(self);
        self.clip = old;
        out
    }

    pub fn get(&self, x: i32, y: i32) -> Option<Rgb> {
        if !self.bounds().contains(x, y) {
            return None;
        }
        let i = (y as usize * self.width as usize + x as usize) * 3;
        Some([self.data[i], self.data[i + 1], self.data[i + 2]])
    }

    /// Sets one pixel (if inside the clip).
    pub fn put(&mut self, x: i32, y: i32, c: Rgb) {
        if self.clip.contains(x, y) {
            let i = (y as usize * self.width as usize + x as usize) * 3;
            self.data[i..i + 3].copy_from_slice(&c);
        }
    }

    /// Blends `c` over one pixel with opacity `alpha` (0..=1).
    pub fn blend(&mut self, x: i32, y: i32, c: Rgb, alpha: f32) {
        if alpha.is_nan() || alpha <= 0.0 || !self.clip.contains(x, y) {
            return;
        }
        let a = alpha.min(1.0);
        let i = (y as usize * self.width as usize + x as usize) * 3;
        for (d, &s) in self.data[i..i + 3].iter_mut().zip(&c) {
            let old = *d as f32;
            *d = (old + (s as f32 - old) * a).round() as u8;
        }
    }

    /// Fills the whole canvas (ignores the clip).
    pub fn fill(&mut self, c: Rgb) {
        for px in self.data.chunks_exact_mut(3) {
            px.copy_from_slice(&c);
        }
    }

    pub fn fill_rect(&mut self, r: Rect, c: Rgb) {
        let r = r.intersect(&self.clip);
        for y in r.y..r.bottom() {
            let row = y as usize * self.width as usize;
            for x in r.x..r.right() {
                let i = (row + x as usize) * 3;
                self.data[i..i + 3].copy_from_slice(&c);
            }
        }
    }

    /// A 1-px outline along the inside edge of `r`.
    pub fn rect(&mut self, r: Rect, c: Rgb) {
        if r.is_empty() {
            return;
        }
        self.hline(r.x, r.right() - 1, r.y, c);
        self.hline(r.x, r.right() - 1, r.bottom() - 1, c);
        self.vline(r.x, r.y, r.bottom() - 1, c);
        self.vline(r.right() - 1, r.y, r.bottom() - 1, c);
    }

    /// A horizontal 1-px line over columns `x0..=x1`.
    pub fn hline(&mut self, x0: i32, x1: i32, y: i32, c: Rgb) {
        let (a, b) = (x0.min(x1), x0.max(x1));
        self.fill_rect(Rect::new(a, y, b - a + 1, 1), c);
    }

    /// A vertical 1-px line over rows `y0..=y1`.
    pub fn vline(&mut self, x: i32, y0: i32, y1: i32, c: Rgb) {
        let (a, b) = (y0.min(y1), y0.max(y1));
        self.fill_rect(Rect::new(x, a, 1, b - a + 1), c);
    }

    /// A dashed horizontal line: `dash` pixels on, `gap` off.
    pub fn hline_dashed(&mut self, x0: i32, x1: i32, y: i32, dash: i32, gap: i32, c: Rgb) {
        let (a, b) = (x0.min(x1), x0.max(x1));
        let period = (dash + gap).max(1);
        for x in a..=b {
            if (x - a) % period < dash.max(1) {
                self.put(x, y, c);
            }
        }
    }

    /// A dashed vertical line: `dash` pixels on, `gap` off.
    pub fn vline_dashed(&mut self, x: i32, y0: i32, y1: i32, dash: i32, gap: i32, c: Rgb) {
        let (a, b) = (y0.min(y1), y0.max(y1));
        let period = (dash + gap).max(1);
        for y in a..=b {
            if (y - a) % period < dash.max(1) {
                self.put(x, y, c);
            }
        }
    }

    /// A crisp 1-px line between pixel centres (Bresenham), endpoints included.
    pub fn line(&mut self, x0: i32, y0: i32, x1: i32, y1: i32, c: Rgb) {
        // Clip first so that far-away endpoints cost nothing.
        let b = self.clip;
        let bx = (
            b.x as f32 - 1.0,
            b.y as f32 - 1.0,
            b.right() as f32 + 1.0,
            b.bottom() as f32 + 1.0,
        );
        let Some(((fx0, fy0), (fx1, fy1))) =
            clip_segment((x0 as f32, y0 as f32), (x1 as f32, y1 as f32), bx)
        else {
            return;
        };
        let (mut x, mut y) = (fx0.round() as i32, fy0.round() as i32);
        let (x1, y1) = (fx1.round() as i32, fy1.round() as i32);
        let dx = (x1 - x).abs();
        let dy = -(y1 - y).abs();
        let sx = if x < x1 { 1 } else { -1 };
        let sy = if y < y1 { 1 } else { -1 };
        let mut err = dx + dy;
        loop {
            self.put(x, y, c);
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// An anti-aliased polyline of stroke `width` through points in continuous pixel
    /// coordinates (pixel (i, j) covers [i, i+1) x [j, j+1)). A non-finite point breaks the
    /// line; a point with no finite neighbour is drawn as a dot.
    pub fn polyline(&mut self, pts: &[(f32, f32)], width: f32, c: Rgb) {
        let mut start = 0;
        for i in 0..=pts.len() {
            let ok = i < pts.len() && pts[i].0.is_finite() && pts[i].1.is_finite();
            if !ok {
                if i > start {
                    self.stroke_run(&pts[start..i], width, c);
                }
                start = i + 1;
            }
        }
    }

    /// An anti-aliased segment.
    pub fn line_aa(&mut self, p0: (f32, f32), p1: (f32, f32), width: f32, c: Rgb) {
        self.polyline(&[p0, p1], width, c);
    }

    fn stroke_run(&mut self, run: &[(f32, f32)], width: f32, c: Rgb) {
        let hw = if width.is_finite() {
            (width / 2.0).max(0.5)
        } else {
            0.5
        };
        if run.len() == 1 {
            self.dot(run[0].0, run[0].1, hw.max(1.0), c);
            return;
        }
        let cl = self.clip;
        if cl.is_empty() {
            return;
        }
        let pad = hw + 1.0;
        let bx = (
            cl.x as f32 - pad,
            cl.y as f32 - pad,
            cl.right() as f32 + pad,
            cl.bottom() as f32 + pad,
        );
        let segs: Vec<_> = run
            .windows(2)
            .filter_map(|w| clip_segment(w[0], w[1], bx))
            .collect();
        if segs.is_empty() {
            return;
        }
        // Coverage of the whole run, so that joints are not blended twice.
        let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
        for &((ax, ay), (bx, by)) in &segs {
            x0 = x0.min(ax.min(bx));
            y0 = y0.min(ay.min(by));
            x1 = x1.max(ax.max(bx));
            y1 = y1.max(ay.max(by));
        }
        let bb = Rect::new((x0 - pad).floor() as i32, (y0 - pad).floor() as i32, 0, 0);
        let bb = Rect::new(
            bb.x,
            bb.y,
            (x1 + pad).ceil() as i32 - bb.x + 1,
            (y1 + pad).ceil() as i32 - bb.y + 1,
        )
        .intersect(&cl);
        if bb.is_empty() {
            return;
        }
        let mut cov = vec![0f32; bb.w as usize * bb.h as usize];
        for &(a, b) in &segs {
            let sx0 = ((a.0.min(b.0) - pad).floor() as i32).max(bb.x);
            let sx1 = ((a.0.max(b.0) + pad).ceil() as i32).min(bb.right() - 1);
            let sy0 = ((a.1.min(b.1) - pad).floor() as i32).max(bb.y);
            let sy1 = ((a.1.max(b.1) + pad).ceil() as i32).min(bb.bottom() - 1);
            for y in sy0..=sy1 {
                for x in sx0..=sx1 {
                    let d = dist_to_segment((x as f32 + 0.5, y as f32 + 0.5), a, b);
                    let v = (hw + 0.5 - d).clamp(0.0, 1.0);
                    let i = (y - bb.y) as usize * bb.w as usize + (x - bb.x) as usize;
                    if v > cov[i] {
                        cov[i] = v;
                    }
                }
            }
        }
        for y in 0..bb.h {
            for x in 0..bb.w {
                let v = cov[y as usize * bb.w as usize + x as usize];
                if v > 0.0 {
                    self.blend(bb.x + x, bb.y + y, c, v);
                }
            }
        }
    }

    /// An anti-aliased filled disc centred at (`cx`, `cy`) (continuous pixel coordinates).
    pub fn dot(&mut self, cx: f32, cy: f32, r: f32, c: Rgb) {
        if !(cx.is_finite() && cy.is_finite() && r.is_finite() && r > 0.0) {
            return;
        }
        let x0 = (cx - r - 1.0).floor() as i32;
        let x1 = (cx + r + 1.0).ceil() as i32;
        let y0 = (cy - r - 1.0).floor() as i32;
        let y1 = (cy + r + 1.0).ceil() as i32;
        let bb = Rect::new(x0, y0, x1 - x0 + 1, y1 - y0 + 1).intersect(&self.clip);
        for y in bb.y..bb.bottom() {
            for x in bb.x..bb.right() {
                let d = ((x as f32 + 0.5 - cx).powi(2) + (y as f32 + 0.5 - cy).powi(2)).sqrt();
                self.blend(x, y, c, (r + 0.5 - d).clamp(0.0, 1.0));
            }
        }
    }

    /// A hollow anti-aliased circle: outline of stroke ~1.5 px around a white centre.
    pub fn ring(&mut self, cx: f32, cy: f32, r: f32, c: Rgb, fill: Rgb) {
        self.dot(cx, cy, r, c);
        self.dot(cx, cy, (r - 1.5).max(0.5), fill);
    }

    /// Text with the top-left corner of its box at (`x`, `y`) (the box is the capitals'
    /// height, [`text_size`]), in the figures' font at integer `scale` (font.rs).
    pub fn text(&mut self, x: i32, y: i32, s: &str, scale: u32, c: Rgb) {
        self.draw_text(x, y, s, scale, c, false);
    }

    /// Text anchored at (`x`, `y`) by `ha`/`va` (e.g. `Center`, `End` = centred above).
    #[allow(clippy::too_many_arguments)]
    pub fn text_aligned(
        &mut self,
        x: i32,
        y: i32,
        s: &str,
        scale: u32,
        c: Rgb,
        ha: Align,
        va: Align,
    ) {
        let (w, h) = text_size(s, scale);
        self.draw_text(x - offset(w, ha), y - offset(h, va), s, scale, c, false);
    }

    /// Like [`Canvas::text_aligned`] but in the bold face.
    #[allow(clippy::too_many_arguments)]
    pub fn text_bold_aligned(
        &mut self,
        x: i32,
        y: i32,
        s: &str,
        scale: u32,
        c: Rgb,
        ha: Align,
        va: Align,
    ) {
        let (w, h) = bold_text_size(s, scale);
        self.draw_text(x - offset(w, ha), y - offset(h, va), s, scale, c, true);
    }

    fn draw_text(&mut self, x: i32, y: i32, s: &str, scale: u32, c: Rgb, bold: bool) {
        font::rasterize(s, scale, bold, |gx, gy, cov| {
            self.blend(x + gx, y + gy, c, cov)
        });
    }

    /// Text rotated 90° counter-clockwise (reading bottom to top), centred on (`cx`, `cy`).
    pub fn text_vertical(&mut self, cx: i32, cy: i32, s: &str, scale: u32, c: Rgb) {
        let (w, h) = text_size(s, scale);
        // Unrotated text box (w x h) becomes (h x w); the string's start is at the bottom.
        let left = cx - h as i32 / 2;
        let bottom = cy + w as i32 / 2;
        // Unrotated (u, v) = (along, down) maps to (x, y) = (v, -u).
        font::rasterize(s, scale, false, |u, v, cov| {
            self.blend(left + v, bottom - u - 1, c, cov)
        });
    }

    /// The canvas as an `image` buffer.
    pub fn to_image(&self) -> image::RgbImage {
        image::RgbImage::from_raw(self.width, self.height, self.data.clone())
            .expect("canvas buffer has width*height*3 bytes")
    }

    /// Encodes the canvas as PNG and writes it atomically: `<path>.tmp`, then a rename.
    /// Creates the parent directory if needed.
    pub fn save_png(&self, path: &Path) -> anyhow::Result<()> {
        let mut bytes = Vec::new();
        self.to_image()
            .write_to(
                &mut std::io::Cursor::new(&mut bytes),
                image::ImageFormat::Png,
            )
            .context("encoding PNG")?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        crate::files::write_atomic(path, &bytes)
    }
}

/// (width, height) in pixels of `s` at `scale`: its advance and the capitals' height.
pub fn text_size(s: &str, scale: u32) -> (u32, u32) {
    (font::text_width(s, scale, false), font::text_height(scale))
}

/// [`text_size`] in the bold face.
pub fn bold_text_size(s: &str, scale: u32) -> (u32, u32) {
    (font::text_width(s, scale, true), font::text_height(scale))
}

fn offset(len: u32, a: Align) -> i32 {
    match a {
        Align::Start => 0,
        Align::Center => len as i32 / 2,
        Align::End => len as i32,
    }
}

fn dist_to_segment(p: (f32, f32), a: (f32, f32), b: (f32, f32)) -> f32 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (qx, qy) = (a.0 + t * dx, a.1 + t * dy);
    ((p.0 - qx).powi(2) + (p.1 - qy).powi(2)).sqrt()
}

/// Liang–Barsky: the part of segment `p0`–`p1` inside box (xmin, ymin, xmax, ymax).
pub fn clip_segment(
    p0: (f32, f32),
    p1: (f32, f32),
    (xmin, ymin, xmax, ymax): (f32, f32, f32, f32),
) -> Option<((f32, f32), (f32, f32))> {
    if ![p0.0, p0.1, p1.0, p1.1].iter().all(|v| v.is_finite()) {
        return None;
    }
    let (dx, dy) = (p1.0 - p0.0, p1.1 - p0.1);
    let (mut t0, mut t1) = (0f32, 1f32);
    for (p, q) in [
        (-dx, p0.0 - xmin),
        (dx, xmax - p0.0),
        (-dy, p0.1 - ymin),
        (dy, ymax - p0.1),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                if r > t1 {
                    return None;
                }
                t0 = t0.max(r);
            } else {
                if r < t0 {
                    return None;
                }
                t1 = t1.min(r);
            }
        }
    }
    Some((
        (p0.0 + t0 * dx, p0.1 + t0 * dy),
        (p0.0 + t1 * dx, p0.1 + t1 * dy),
    ))
}

// ------------------------------------------------------------------------------------------
// Data ranges and ticks
// ------------------------------------------------------------------------------------------

/// (min, max) over the finite values, widened so that it is never empty: no finite value
/// gives (0, 1), a constant `v` gives `v` ± max(|v|·10%, 0.5)... scaled to the value.
pub fn data_range(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values {
        if v.is_finite() {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    sanitize_range(lo, hi)
}

/// A usable (lo < hi, both finite) version of a range.
pub fn sanitize_range(lo: f64, hi: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) || lo > hi {
        return (0.0, 1.0);
    }
    let span = hi - lo;
    let scale = lo.abs().max(hi.abs());
    if span <= scale * 1e-9 || span == 0.0 {
        let pad = if scale > 0.0 { scale * 0.1 } else { 0.5 };
        return (lo - pad, hi + pad);
    }
    (lo, hi)
}

/// `range` grown by `frac` of its span on each side.
pub fn pad_range((lo, hi): (f64, f64), frac: f64) -> (f64, f64) {
    let (lo, hi) = sanitize_range(lo, hi);
    let d = (hi - lo) * frac;
    (lo - d, hi + d)
}

/// A "nice" tick step (1, 2 or 5 times a power of ten) giving about `target` intervals.
pub fn nice_step(span: f64, target: usize) -> f64 {
    let raw = span.abs() / target.max(1) as f64;
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// Multiples of `step` inside [lo, hi].
pub fn ticks_with_step(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    if !(step > 0.0 && step.is_finite() && lo.is_finite() && hi.is_finite()) {
        return vec![];
    }
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    if last < first || last - first > 1000 {
        return vec![];
    }
    (first..=last)
        .map(|k| {
            let v = k as f64 * step;
            if v.abs() < step * 1e-9 {
                0.0
            } else {
                v
            }
        })
        .collect()
}

/// A label for tick value `v` on a grid of `step`, with just enough decimals.
pub fn tick_label(v: f64, step: f64) -> String {
    let av = v.abs();
    // Negative values and exponents get a true minus sign (U+2212, the width of "+"), which
    // the TrueType font has: a hyphen is shorter and sits lower.
    if av != 0.0 && !(1e-4..1e6).contains(&av) {
        let s = format!("{v:.1e}");
        return s.replace(".0e", "e").replace('-', "\u{2212}");
    }
    let decimals = if step > 0.0 && step.is_finite() {
        (-(step.log10() + 1e-9).floor()).max(0.0) as usize
    } else {
        2
    };
    format!("{v:.decimals$}").replace('-', "\u{2212}")
}

// ------------------------------------------------------------------------------------------
// Axes
// ------------------------------------------------------------------------------------------

/// Where a legend goes inside its axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Corner {
    TopLeft,
    TopRight,
    BottomLeft,
    BottomRight,
}

/// How a legend entry is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mark {
    Line { width: f32 },
    Dot { radius: f32 },
    LineDot { width: f32, radius: f32 },
    Block,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LegendEntry {
    pub label: String,
    pub color: Rgb,
    pub mark: Mark,
}

impl LegendEntry {
    pub fn new(label: impl Into<String>, color: Rgb, mark: Mark) -> LegendEntry {
        LegendEntry {
            label: label.into(),
            color,
            mark,
        }
    }
}

/// Text scale used for tick labels, legends and axis labels.
pub const TEXT_SCALE: u32 = 2;
const TICK_LEN: i32 = 5;

/// A plotting area: pixel rectangle `rect` showing data x in [x0, x1], y in [y0, y1]
/// (y grows upwards).
#[derive(Clone, Debug)]
pub struct Axes {
    pub rect: Rect,
    pub x0: f64,
    pub x1: f64,
    pub y0: f64,
    pub y1: f64,
    /// Keep y tick labels inside the vertical extent of the axes (for stacked panels whose
    /// edge labels would otherwise collide with a neighbour's).
    pub labels_inside: bool,
    /// Width of the widest y tick label drawn so far (places the y label).
    y_label_room: i32,
}

impl Axes {
    /// Ranges are sanitised (non-finite or empty ranges widened).
    pub fn new(rect: Rect, x: (f64, f64), y: (f64, f64)) -> Axes {
        let (x0, x1) = sanitize_range(x.0, x.1);
        let (y0, y1) = sanitize_range(y.0, y.1);
        Axes {
            rect,
            x0,
            x1,
            y0,
            y1,
            labels_inside: false,
            y_label_room: 0,
        }
    }

    /// Data x to continuous pixel x (non-finite stays non-finite).
    pub fn px(&self, x: f64) -> f32 {
        (self.rect.x as f64 + (x - self.x0) / (self.x1 - self.x0) * self.rect.w as f64) as f32
    }
    /// Data y to continuous pixel y.
    pub fn py(&self, y: f64) -> f32 {
        (self.rect.bottom() as f64 - (y - self.y0) / (self.y1 - self.y0) * self.rect.h as f64)
            as f32
    }
    pub fn map(&self, x: f64, y: f64) -> (f32, f32) {
        (self.px(x), self.py(y))
    }

    /// Pixel positions of the series (x[i], y[i]); NaN where either is not finite.
    pub fn map_series(&self, xs: &[f64], ys: &[f64]) -> Vec<(f32, f32)> {
        xs.iter()
            .zip(ys)
            .map(|(&x, &y)| {
                if x.is_finite() && y.is_finite() {
                    self.map(x, y)
                } else {
                    (f32::NAN, f32::NAN)
                }
            })
            .collect()
    }

    /// A line through the series, clipped to the plotting area; NaNs break it.
    pub fn line(&self, c: &mut Canvas, xs: &[f64], ys: &[f64], width: f32, color: Rgb) {
        let pts = self.map_series(xs, ys);
        c.with_clip(self.rect, |c| c.polyline(&pts, width, color));
    }

    /// Dots at the finite points of the series, clipped to the plotting area.
    pub fn scatter(&self, c: &mut Canvas, xs: &[f64], ys: &[f64], radius: f32, color: Rgb) {
        let pts = self.map_series(xs, ys);
        c.with_clip(self.rect.inset(-(radius.ceil() as i32)), |c| {
            for (x, y) in pts {
                c.dot(x, y, radius, color);
            }
        });
    }

    /// Fills the plotting area and draws its frame.
    pub fn background(&self, c: &mut Canvas, fill: Rgb) {
        c.fill_rect(self.rect, fill);
    }
    pub fn frame(&self, c: &mut Canvas) {
        c.rect(self.rect.inset(-1), color::DARK_GRAY);
    }

    /// Nice x ticks that leave room between labels.
    pub fn x_ticks(&self, scale: u32) -> (Vec<f64>, f64) {
        let span = self.x1 - self.x0;
        for target in (2..=12).rev() {
            let step = nice_step(span, target);
            let t = ticks_with_step(self.x0, self.x1, step);
            let widest = t
                .iter()
                .map(|&v| text_size(&tick_label(v, step), scale).0)
                .max()
                .unwrap_or(0) as f64;
            let px_step = step / span * self.rect.w as f64;
            if px_step >= widest + 12.0 * scale as f64 || target == 2 {
                return (t, step);
            }
        }
        unreachable!()
    }

    /// Nice y ticks, as many as fit (at most ~10) with labels ~3 text heights apart, at
    /// least two when at all possible (falling back to tighter spacing, then to the range
    /// ends).
    pub fn y_ticks(&self, scale: u32) -> (Vec<f64>, f64) {
        let span = self.y1 - self.y0;
        let th = text_size("0", scale).1 as f64;
        for min_gap in [3.0 * th, 1.5 * th] {
            for target in (1..=10).rev() {
                let step = nice_step(span, target);
                let t = ticks_with_step(self.y0, self.y1, step);
                let px_step = step / span * self.rect.h as f64;
                if px_step >= min_gap && t.len() >= 2 {
                    return (t, step);
                }
            }
        }
        let step = nice_step(span, 10);
        let snap = |v: f64| (v / step).round() * step;
        let (a, b) = (snap(self.y0 + span * 0.1), snap(self.y1 - span * 0.1));
        if b > a {
            (vec![a, b], step)
        } else {
            (vec![a], step)
        }
    }

    /// Tick marks (and labels if `labels`) along the bottom edge; faint vertical grid lines
    /// if `grid`.
    pub fn draw_x_axis(&self, c: &mut Canvas, labels: bool, grid: bool) {
        let (t, step) = self.x_ticks(TEXT_SCALE);
        let ticks: Vec<(f64, String)> = t.iter().map(|&v| (v, tick_label(v, step))).collect();
        self.draw_x_ticks_at(c, &ticks, labels, grid);
    }

    pub fn draw_x_ticks_at(
        &self,
        c: &mut Canvas,
        ticks: &[(f64, String)],
        labels: bool,
        grid: bool,
    ) {
        let bottom = self.rect.bottom();
        for (v, s) in ticks {
            let x = self.px(*v).round() as i32;
            let x = x.clamp(self.rect.x, self.rect.right() - 1);
            if grid {
                c.vline(x, self.rect.y, bottom - 1, color::GRID);
            }
            c.vline(x, bottom, bottom + TICK_LEN, color::DARK_GRAY);
            if labels {
                c.text_aligned(
                    x,
                    bottom + TICK_LEN + 4,
                    s,
                    TEXT_SCALE,
                    color::TEXT,
                    Align::Center,
                    Align::Start,
                );
            }
        }
    }

    /// Tick marks and labels along the left edge; faint horizontal grid if `grid`.
    pub fn draw_y_axis(&mut self, c: &mut Canvas, grid: bool) {
        let (t, step) = self.y_ticks(TEXT_SCALE);
        let ticks: Vec<(f64, String)> = t.iter().map(|&v| (v, tick_label(v, step))).collect();
        self.draw_y_ticks_at(c, &ticks, grid);
    }

    /// Tick marks with the given labels at the given data y values.
    pub fn draw_y_ticks_at(&mut self, c: &mut Canvas, ticks: &[(f64, String)], grid: bool) {
        let left = self.rect.x - 1;
        for (v, s) in ticks {
            let y = self.py(*v).round() as i32;
            let y = y.clamp(self.rect.y, self.rect.bottom() - 1);
            if grid {
                c.hline(self.rect.x, self.rect.right() - 1, y, color::GRID);
            }
            c.hline(left - TICK_LEN, left, y, color::DARK_GRAY);
            let half = text_size(s, TEXT_SCALE).1 as i32 / 2;
            let ty = if self.labels_inside && self.rect.h > 2 * half {
                y.clamp(self.rect.y + half, self.rect.bottom() - half)
            } else {
                y
            };
            c.text_aligned(
                left - TICK_LEN - 4,
                ty,
                s,
                TEXT_SCALE,
                color::TEXT,
                Align::End,
                Align::Center,
            );
            self.y_label_room = self.y_label_room.max(text_size(s, TEXT_SCALE).0 as i32);
        }
    }

    /// A bold title centred above the plotting area.
    pub fn title(&self, c: &mut Canvas, s: &str) {
        c.text_bold_aligned(
            self.rect.x + self.rect.w / 2,
            self.rect.y - 10,
            s,
            TEXT_SCALE,
            color::TEXT,
            Align::Center,
            Align::End,
        );
    }

    /// An x-axis label centred below the tick labels.
    pub fn xlabel(&self, c: &mut Canvas, s: &str) {
        let y = self.rect.bottom() + TICK_LEN + 4 + text_size("0", TEXT_SCALE).1 as i32 + 10;
        c.text_aligned(
            self.rect.x + self.rect.w / 2,
            y,
            s,
            TEXT_SCALE,
            color::TEXT,
            Align::Center,
            Align::Start,
        );
    }

    /// A y-axis label, rotated, left of the tick labels. Falls back to scale 1 when the text
    /// is taller than the axes at scale 2, and to horizontal text when even that is too tall.
    pub fn ylabel(&self, c: &mut Canvas, s: &str, col: Rgb) {
        let room = self.y_label_room + TICK_LEN + 4 + 14;
        let cy = self.rect.y + self.rect.h / 2;
        for scale in [TEXT_SCALE, 1] {
            let (w, h) = text_size(s, scale);
            if w as i32 <= self.rect.h + 8 {
                let cx = self.rect.x - 1 - room - h as i32 / 2;
                c.text_vertical(cx, cy, s, scale, col);
                return;
            }
        }
        c.text_aligned(
            self.rect.x - 1 - room,
            cy,
            s,
            1,
            col,
            Align::End,
            Align::Center,
        );
    }

    /// Size in pixels of a legend box for `entries`.
    pub fn legend_size(entries: &[LegendEntry]) -> (i32, i32) {
        let (_, th) = text_size("0", TEXT_SCALE);
        let widest = entries
            .iter()
            .map(|e| text_size(&e.label, TEXT_SCALE).0 as i32)
            .max()
            .unwrap_or(0);
        let row = th as i32 + 8;
        (
            8 + SWATCH_W + 8 + widest + 10,
            6 + row * entries.len() as i32 + 2,
        )
    }

    /// The legend box at `corner` inside the plotting area.
    pub fn legend_rect(&self, entries: &[LegendEntry], corner: Corner) -> Rect {
        let (w, h) = Axes::legend_size(entries);
        let m = 8;
        let x = match corner {
            Corner::TopLeft | Corner::BottomLeft => self.rect.x + m,
            _ => self.rect.right() - m - w,
        };
        let y = match corner {
            Corner::TopLeft | Corner::TopRight => self.rect.y + m,
            _ => self.rect.bottom() - m - h,
        };
        Rect::new(x, y, w, h)
    }

    /// The corner whose legend box would hide the fewest of `points` (pixel coordinates);
    /// ties go to the top right, then top left, bottom right, bottom left.
    pub fn best_corner(&self, entries: &[LegendEntry], points: &[(f32, f32)]) -> Corner {
        let order = [
            Corner::TopRight,
            Corner::TopLeft,
            Corner::BottomRight,
            Corner::BottomLeft,
        ];
        let mut best = (usize::MAX, Corner::TopRight);
        for corner in order {
            let r = self.legend_rect(entries, corner).inset(-4);
            let hidden = points
                .iter()
                .filter(|p| {
                    p.0.is_finite() && p.1.is_finite() && r.contains(p.0 as i32, p.1 as i32)
                })
                .count();
            if hidden < best.0 {
                best = (hidden, corner);
            }
        }
        best.1
    }

    /// Draws a legend inside the plotting area at `corner`.
    pub fn legend(&self, c: &mut Canvas, entries: &[LegendEntry], corner: Corner) {
        let r = self.legend_rect(entries, corner);
        draw_legend(c, r.x, r.y, entries);
    }
}

const SWATCH_W: i32 = 28;

/// A legend box with its top-left corner at (`x`, `y`); returns the box.
pub fn draw_legend(c: &mut Canvas, x: i32, y: i32, entries: &[LegendEntry]) -> Rect {
    if entries.is_empty() {
        return Rect::new(x, y, 0, 0);
    }
    let (w, h) = Axes::legend_size(entries);
    let r = Rect::new(x, y, w, h);
    c.fill_rect(r, color::WHITE);
    c.rect(r, color::LIGHT_GRAY);
    let (_, th) = text_size("0", TEXT_SCALE);
    let row = th as i32 + 8;
    for (i, e) in entries.iter().enumerate() {
        let cy = y + 6 + row * i as i32 + th as i32 / 2;
        let (sx0, sx1) = (x + 8, x + 8 + SWATCH_W);
        let mid = (sx0 + sx1) as f32 / 2.0;
        let ycf = cy as f32 + 0.5;
        match e.mark {
            Mark::Line { width } => c.line_aa((sx0 as f32, ycf), (sx1 as f32, ycf), width, e.color),
            Mark::Dot { radius } => c.dot(mid, ycf, radius, e.color),
            Mark::LineDot { width, radius } => {
                c.line_aa((sx0 as f32, ycf), (sx1 as f32, ycf), width, e.color);
                c.dot(mid, ycf, radius, e.color);
            }
            Mark::Block => c.fill_rect(Rect::new(sx0 + 6, cy - 5, SWATCH_W - 12, 11), e.color),
        }
        c.text_aligned(
            sx1 + 8,
            cy,
            &e.label,
            TEXT_SCALE,
            color::TEXT,
            Align::Start,
            Align::Center,
        );
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_rects_stay_inside_and_clip() {
        let mut c = Canvas::new(50, 40, color::WHITE);
        c.fill_rect(Rect::new(-10, -10, 15, 15), color::RED);
        assert_eq!(c.get(0, 0), Some(color::RED));
        assert_eq!(c.get(4, 4), Some(color::RED));
        assert_eq!(c.get(5, 5), Some(color::WHITE));
        c.line(0, 39, 49, 0, color::BLUE);
        assert_eq!(c.get(0, 39), Some(color::BLUE));
        assert_eq!(c.get(49, 0), Some(color::BLUE));
        // Far-away endpoints are clipped, not walked.
        c.line(-1_000_000_000, 20, 1_000_000_000, 20, color::GREEN);
        assert_eq!(c.get(25, 20), Some(color::GREEN));
        c.set_clip(Some(Rect::new(10, 10, 10, 10)));
        c.hline(0, 49, 30, color::BLACK);
        assert_eq!(c.get(15, 30), Some(color::WHITE));
        c.hline(0, 49, 15, color::BLACK);
        assert_eq!(c.get(9, 15), Some(color::WHITE));
        assert_eq!(c.get(10, 15), Some(color::BLACK));
        assert_eq!(c.get(20, 15), Some(color::WHITE));
    }

    #[test]
    fn polyline_is_nan_safe_and_antialiased() {
        let mut c = Canvas::new(60, 60, color::WHITE);
        let pts = [
            (5.0, 5.0),
            (30.0, 30.0),
            (f32::NAN, 1.0),
            (40.0, 10.0),
            (f32::INFINITY, 3.0),
            (50.0, 50.0),
            (1e30, 55.0),
        ];
        c.polyline(&pts, 2.0, color::BLACK);
        assert_eq!(c.get(17, 17), Some(color::BLACK));
        // The isolated point between two gaps becomes a dot.
        assert_ne!(c.get(40, 10), Some(color::WHITE));
        // Some partial coverage exists (anti-aliasing).
        let grey = c
            .pixels()
            .chunks(3)
            .filter(|p| p[0] > 0 && p[0] < 255)
            .count();
        assert!(grey > 0);
    }

    #[test]
    fn vertical_text_is_rotated() {
        let mut c = Canvas::new(40, 80, color::WHITE);
        c.text_vertical(20, 40, "ABCDE", 1, color::BLACK);
        let ink: Vec<(i32, i32)> = (0..80)
            .flat_map(|y| (0..40).map(move |x| (x, y)))
            .filter(|&(x, y)| c.get(x, y).is_some_and(|p| p[0] < 128))
            .collect();
        let (x0, x1) = (
            ink.iter().map(|p| p.0).min().unwrap(),
            ink.iter().map(|p| p.0).max().unwrap(),
        );
        let (y0, y1) = (
            ink.iter().map(|p| p.1).min().unwrap(),
            ink.iter().map(|p| p.1).max().unwrap(),
        );
        assert!(x1 - x0 < 8 && y1 - y0 > 20, "{x0}..{x1} x {y0}..{y1}");
    }

    #[test]
    fn ranges_and_ticks_are_robust() {
        assert_eq!(data_range([f64::NAN, f64::INFINITY]), (0.0, 1.0));
        let (lo, hi) = data_range([3.0, 3.0, f64::NAN]);
        assert!(lo < 3.0 && hi > 3.0);
        let (lo, hi) = data_range([0.0, 0.0]);
        assert!(lo < 0.0 && hi > 0.0);
        assert_eq!(nice_step(10.0, 5), 2.0);
        assert_eq!(nice_step(1.0, 4), 0.5);
        assert_eq!(
            ticks_with_step(0.0, 1.0, 0.25),
            vec![0.0, 0.25, 0.5, 0.75, 1.0]
        );
        assert_eq!(tick_label(0.5, 0.1), "0.5");
        assert_eq!(tick_label(2000.0, 500.0), "2000");
        assert_eq!(tick_label(0.05, 0.05), "0.05");
        assert_eq!(tick_label(-0.5, 0.1), "\u{2212}0.5");
        assert_eq!(tick_label(-2e-6, 1e-6), "\u{2212}2e\u{2212}6");
        let a = Axes::new(
            Rect::new(0, 0, 400, 300),
            (0.0, 10000.0),
            (f64::NAN, f64::NAN),
        );
        assert_eq!((a.y0, a.y1), (0.0, 1.0));
        let (t, _) = a.x_ticks(2);
        assert!(t.len() >= 2 && t.len() <= 12, "{t:?}");
    }

    #[test]
    fn save_png_is_atomic_and_decodable() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/c.png");
        let mut c = Canvas::new(30, 20, color::WHITE);
        c.text(1, 1, "Hi", 1, color::BLACK);
        c.save_png(&p).unwrap();
        assert!(!dir.path().join("sub/c.png.tmp").exists());
        let img = image::open(&p).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (30, 20));
        assert_eq!(img.as_raw(), c.pixels());
    }
}
