//! The figures' typeface: DejaVu Sans, regular and bold, embedded in the binary by the
//! `dejavu` crate (DejaVu's own free licence, shipped with it; CI machines have no system
//! fonts) and rasterised with anti-aliasing by `ab_glyph` (the TrueType rasteriser plotters
//! uses). It covers Greek (τ, β, ρ), ±, µ, ×, →, sub- and superscript digits, so axis labels
//! can carry the symbols and units of docs/model.md.
//!
//! Sizes keep the integer `scale` of the canvas API: scale `s` is a font of `0.5 + 11·s` px
//! (11.5, 22.5, 33.5 px for 1, 2, 3), whose capital letters are about 7·s px tall, as the glyphs of
//! the 5×7 bitmap font this replaces were, so the figures' layouts keep their proportions.
//! A line of text is measured by its cap height: descenders (g, p, y) hang below it.

use std::sync::OnceLock;

use ab_glyph::{point, Font, FontRef, GlyphId, PxScale, ScaleFont};

fn face(bold: bool) -> &'static FontRef<'static> {
    static REGULAR: OnceLock<FontRef<'static>> = OnceLock::new();
    static BOLD: OnceLock<FontRef<'static>> = OnceLock::new();
    // The bytes are fixed at build time (and parsed by the tests): no input can break this.
    let parse = |bytes: &'static [u8]| {
        FontRef::try_from_slice(bytes).expect("the embedded DejaVu Sans is a valid TrueType font")
    };
    if bold {
        BOLD.get_or_init(|| parse(dejavu::sans::bold()))
    } else {
        REGULAR.get_or_init(|| parse(dejavu::sans::regular()))
    }
}

/// Font size in px (ab_glyph's scale: ascent to descent) for an integer text `scale`.
pub fn px(scale: u32) -> f32 {
    0.5 + 11.0 * scale.max(1) as f32
}

/// Height in px above the baseline of the capitals at `scale`: the rows of "H" drawn on a
/// baseline at y = 0 that are at least half covered.
fn cap_height(scale: u32, bold: bool) -> i32 {
    let font = face(bold).as_scaled(PxScale::from(px(scale)));
    let h = font
        .glyph_id('H')
        .with_scale_and_position(px(scale), point(0.0, 0.0));
    let mut top = 0;
    if let Some(o) = font.outline_glyph(h) {
        let min_y = o.px_bounds().min.y as i32;
        o.draw(|_, y, c| {
            if c >= 0.5 {
                top = top.min(min_y + y as i32);
            }
        });
    }
    -top
}

/// Glyphs of `s` with their pen positions (x from 0) along a baseline at y = 0.
fn layout(s: &str, scale: u32, bold: bool) -> (Vec<(GlyphId, f32)>, f32) {
    let font = face(bold).as_scaled(PxScale::from(px(scale)));
    let mut x = 0.0;
    let mut prev: Option<GlyphId> = None;
    let mut glyphs = Vec::with_capacity(s.len());
    for ch in s.chars() {
        let id = font.glyph_id(ch);
        if let Some(p) = prev {
            x += font.kern(p, id);
        }
        glyphs.push((id, x));
        x += font.h_advance(id);
        prev = Some(id);
    }
    (glyphs, x)
}

/// Width in px of `s` (its advance, rounded up) at `scale`.
pub fn text_width(s: &str, scale: u32, bold: bool) -> u32 {
    layout(s, scale, bold).1.ceil() as u32
}

/// Height in px of one line of text at `scale`: the cap height.
pub fn text_height(scale: u32) -> u32 {
    cap_height(scale, false) as u32
}

/// Rasterises `s` with the top of its capitals on y = 0 and its pen starting at x = 0:
/// calls `plot(x, y, coverage)` for each touched pixel (coverage in 0..=1). The baseline is
/// on a whole pixel so that digits and capitals sit crisply on it.
pub fn rasterize(s: &str, scale: u32, bold: bool, mut plot: impl FnMut(i32, i32, f32)) {
    let font = face(bold).as_scaled(PxScale::from(px(scale)));
    let baseline = cap_height(scale, bold) as f32;
    for (id, x) in layout(s, scale, bold).0 {
        let g = id.with_scale_and_position(px(scale), point(x, baseline));
        if let Some(o) = font.outline_glyph(g) {
            let b = o.px_bounds();
            o.draw(|gx, gy, c| plot(b.min.x as i32 + gx as i32, b.min.y as i32 + gy as i32, c));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pixels with at least half coverage: (x, y).
    fn ink(s: &str, scale: u32, bold: bool) -> Vec<(i32, i32)> {
        let mut v = vec![];
        rasterize(s, scale, bold, |x, y, c| {
            if c >= 0.5 {
                v.push((x, y));
            }
        });
        v
    }

    #[test]
    fn capitals_fill_the_text_box() {
        for scale in 1..=3 {
            let h = text_height(scale) as i32;
            // The former bitmap font's capitals were 7·scale px tall; within a pixel or two.
            assert!(
                (h - 7 * scale as i32).abs() <= 2,
                "scale {scale}: cap height {h}"
            );
            for bold in [false, true] {
                let p = ink("HE", scale, bold);
                let top = p.iter().map(|q| q.1).min().unwrap();
                let bottom = p.iter().map(|q| q.1).max().unwrap();
                assert_eq!(top, 0, "scale {scale}: capitals start at the top");
                assert!(
                    (bottom + 1 - h).abs() <= 1,
                    "scale {scale}: {bottom} vs {h}"
                );
                let right = p.iter().map(|q| q.0).max().unwrap();
                assert!(right < text_width("HE", scale, bold) as i32);
            }
        }
        // Descenders hang below the box.
        let below = ink("gy", 2, false).iter().map(|q| q.1).max().unwrap();
        assert!(below >= text_height(2) as i32 + 2, "{below}");
    }

    #[test]
    fn greek_and_symbols_have_glyphs() {
        let notdef = ink("\u{FFFF}", 2, false);
        for s in ["τ", "β", "ρ", "±", "µ", "×", "→", "₁", "α", "σ", "κ"] {
            let p = ink(s, 2, false);
            assert!(p.len() >= 8, "{s}: {} inked pixels", p.len());
            assert_ne!(p, notdef, "{s} falls back to the missing-glyph box");
        }
        // Glyphs differ from one another, and bold is bolder.
        assert_ne!(ink("τ", 2, false), ink("β", 2, false));
        assert!(ink("β", 2, true).len() > ink("β", 2, false).len());
    }

    #[test]
    fn widths_add_up() {
        assert_eq!(text_width("", 2, false), 0);
        let (a, b, ab) = (
            text_width("1", 2, false),
            text_width("2", 2, false),
            text_width("12", 2, false),
        );
        assert!(ab >= a + b - 1 && ab <= a + b, "{a} + {b} vs {ab}");
        assert!(text_width("0.5", 2, false) > text_width("0.5", 1, false));
        assert!(text_width("mm", 2, true) >= text_width("mm", 2, false));
    }
}
