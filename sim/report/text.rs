//! Text placed the same way in the SVG and the PNG of a figure.
//!
//! plotters lays text out differently per backend: the bitmap path scales glyphs by the font's
//! ascent-to-descent height and drops each glyph's left side bearing (so "5.13" comes out as
//! "5.1 3"), while the SVG path leaves sizes and baselines to the viewer. [`TextBackend`] wraps
//! either backend and takes text over: every string is measured and placed here from the
//! embedded DejaVu Sans's own advances and kerning, then either rasterised into the PNG or
//! written as an SVG `<text>` with the same baseline, size and width (`textLength`), so the two
//! files show the same words in the same places. Text is drawn after everything else, in the
//! order it was issued, in both formats.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, GlyphId, PxScale, point};
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
    FontTransform,
};

use super::font;

/// The SVG `font-family`: the embedded face first, then look-alikes a viewer may have.
pub const SVG_FAMILY: &str = "DejaVu Sans, Verdana, sans-serif";

fn face() -> &'static FontRef<'static> {
    static FACE: OnceLock<FontRef<'static>> = OnceLock::new();
    FACE.get_or_init(|| {
        FontRef::try_from_slice(font::DEJAVU_SANS_TTF).expect("the embedded font parses")
    })
}

/// The em size in pixels of a plotters text size (plotters' SVG backend uses the same ratio).
pub fn em_px(size: f64) -> f32 {
    (size / 1.24) as f32
}

fn units_per_em() -> f32 {
    face().units_per_em().unwrap_or(2048.0)
}

/// Glyphs of `text` with their pen positions (em units scaled to `em` pixels), and the width.
fn layout(text: &str, em: f32) -> (Vec<(GlyphId, f32)>, f32) {
    let f = face();
    let k = em / units_per_em();
    let mut pen = 0.0;
    let mut prev: Option<GlyphId> = None;
    let mut glyphs = Vec::with_capacity(text.len());
    for c in text.chars() {
        let id = f.glyph_id(c);
        if let Some(p) = prev {
            pen += f.kern_unscaled(p, id) * k;
        }
        glyphs.push((id, pen));
        pen += f.h_advance_unscaled(id) * k;
        prev = Some(id);
    }
    (glyphs, pen)
}

/// Width in pixels of `text` at plotters text size `size`.
pub fn width(text: &str, size: f64) -> f64 {
    f64::from(layout(text, em_px(size)).1)
}

/// Line height in pixels at plotters text size `size` (the font's ascent to descent).
pub fn line_height(size: f64) -> f64 {
    let f = face();
    f64::from(em_px(size) * (f.ascent_unscaled() - f.descent_unscaled()) / units_per_em())
}

/// Where the baseline's start sits relative to the anchor point, before rotation: the anchor
/// is the left/centre/right end of the advance box horizontally, and vertically the top of the
/// capitals, their middle, or the bottom of the descenders.
fn baseline_offset(hpos: HPos, vpos: VPos, w: f32, em: f32) -> (f32, f32) {
    let f = face();
    let u = units_per_em();
    let cap = f
        .outline(f.glyph_id('H'))
        .map_or(0.73 * u, |o| (o.bounds.max.y - o.bounds.min.y).abs())
        / u;
    let descent = -f.descent_unscaled() / u;
    let dx = match hpos {
        HPos::Left => 0.0,
        HPos::Center => -w / 2.0,
        HPos::Right => -w,
    };
    let dy = match vpos {
        VPos::Top => cap * em,
        VPos::Center => cap * em / 2.0,
        VPos::Bottom => -descent * em,
    };
    (dx, dy)
}

/// Rotates a point given relative to the anchor the way plotters turns text.
fn turn(t: &FontTransform, x: i32, y: i32) -> (i32, i32) {
    t.transform(x, y)
}

struct Placed {
    text: String,
    size: f64,
    color: BackendColor,
    anchor: (HPos, VPos),
    rotate: FontTransform,
    at: BackendCoord,
}

/// How text reaches the output.
pub enum TextSink<'a> {
    /// Rasterised onto the wrapped bitmap when the figure is presented.
    Raster,
    /// Written as `<text>` elements into this string, spliced into the SVG by the caller.
    Svg(&'a mut String),
}

/// A plotters backend that draws every string itself (see the module comment).
pub struct TextBackend<'a, B: DrawingBackend> {
    inner: B,
    sink: TextSink<'a>,
    queued: Vec<Placed>,
}

impl<'a, B: DrawingBackend> TextBackend<'a, B> {
    pub fn new(inner: B, sink: TextSink<'a>) -> Self {
        Self {
            inner,
            sink,
            queued: Vec::new(),
        }
    }

    fn flush(&mut self) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        let queued = std::mem::take(&mut self.queued);
        for p in &queued {
            match &mut self.sink {
                TextSink::Raster => raster(&mut self.inner, p)?,
                TextSink::Svg(out) => svg_text(out, p),
            }
        }
        Ok(())
    }
}

fn raster<B: DrawingBackend>(b: &mut B, p: &Placed) -> Result<(), DrawingErrorKind<B::ErrorType>> {
    let f = face();
    let em = em_px(p.size);
    let (glyphs, w) = layout(&p.text, em);
    let (dx, dy) = baseline_offset(p.anchor.0, p.anchor.1, w, em);
    let scale = PxScale::from(em * f.height_unscaled() / units_per_em());
    let (width, height) = b.get_size();
    // Unrotated text is placed at sub-pixel positions; turned text is laid out on whole pixels
    // relative to the anchor and then turned, which is exact for quarter turns.
    for (id, pen) in glyphs {
        let glyph = id.with_scale_and_position(scale, point(dx + pen, dy));
        let Some(o) = f.outline_glyph(glyph) else {
            continue;
        };
        let bounds = o.px_bounds();
        let mut pixels = Vec::new();
        o.draw(|x, y, c| {
            if c > 0.0 {
                pixels.push((
                    bounds.min.x as i32 + x as i32,
                    bounds.min.y as i32 + y as i32,
                    c,
                ));
            }
        });
        for (x, y, c) in pixels {
            let (tx, ty) = turn(&p.rotate, x, y);
            let (px, py) = (p.at.0 + tx, p.at.1 + ty);
            if px < 0 || py < 0 || px >= width as i32 || py >= height as i32 {
                continue;
            }
            let color = BackendColor {
                alpha: p.color.alpha * f64::from(c.min(1.0)),
                rgb: p.color.rgb,
            };
            b.draw_pixel((px, py), color)?;
        }
    }
    Ok(())
}

fn svg_text(out: &mut String, p: &Placed) {
    use std::fmt::Write as _;
    let em = em_px(p.size);
    let (_, w) = layout(&p.text, em);
    let (dx, dy) = baseline_offset(p.anchor.0, p.anchor.1, w, em);
    let (ax, ay) = (p.at.0 as f32, p.at.1 as f32);
    let rotate = match p.rotate {
        FontTransform::None => String::new(),
        FontTransform::Rotate90 => format!(" transform=\"rotate(90 {ax} {ay})\""),
        FontTransform::Rotate180 => format!(" transform=\"rotate(180 {ax} {ay})\""),
        FontTransform::Rotate270 => format!(" transform=\"rotate(270 {ax} {ay})\""),
    };
    let (r, g, b) = p.color.rgb;
    let opacity = if p.color.alpha < 1.0 {
        format!(" fill-opacity=\"{:.3}\"", p.color.alpha)
    } else {
        String::new()
    };
    let mut escaped = String::with_capacity(p.text.len());
    for c in p.text.chars() {
        match c {
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '&' => escaped.push_str("&amp;"),
            '"' => escaped.push_str("&quot;"),
            c => escaped.push(c),
        }
    }
    let length = if p.text.chars().count() > 1 {
        format!(" textLength=\"{:.2}\"", w)
    } else {
        String::new()
    };
    writeln!(
        out,
        "<text x=\"{:.2}\" y=\"{:.2}\" font-family=\"{SVG_FAMILY}\" font-size=\"{:.2}\" \
         fill=\"#{r:02X}{g:02X}{b:02X}\"{opacity}{length}{rotate}>{escaped}</text>",
        ax + dx,
        ay + dy,
        em,
    )
    .expect("writing to a String");
}

impl<B: DrawingBackend> DrawingBackend for TextBackend<'_, B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.flush()?;
        self.inner.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.fill_polygon(vert, style)
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let color = style.color();
        if color.alpha == 0.0 || text.is_empty() {
            return Ok(());
        }
        let a = style.anchor();
        self.queued.push(Placed {
            text: text.to_string(),
            size: style.size(),
            color,
            anchor: (a.h_pos, a.v_pos),
            rotate: style.transform(),
            at: pos,
        });
        Ok(())
    }

    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        Ok((
            width(text, style.size()).ceil() as u32,
            line_height(style.size()).ceil() as u32,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotters::prelude::*;
    use plotters::style::text_anchor::Pos;

    /// The first and last inked columns of `text` drawn at x = 10 into a small bitmap.
    fn ink_columns(text: &str, size: f64) -> (usize, usize) {
        font::ensure_registered().unwrap();
        let (w, h) = (200u32, 60u32);
        let mut buf = vec![255u8; (w * h * 3) as usize];
        {
            let b = BitMapBackend::with_buffer(&mut buf, (w, h));
            let root = TextBackend::new(b, TextSink::Raster).into_drawing_area();
            let st = (font::FAMILY, size)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center));
            root.draw(&Text::new(text.to_string(), (10, 30), st))
                .unwrap();
            root.present().unwrap();
        }
        let inked: Vec<usize> = (0..w as usize)
            .filter(|x| (0..h as usize).any(|y| buf[(y * w as usize + x) * 3] < 128))
            .collect();
        (inked[0], *inked.last().unwrap())
    }

    #[test]
    fn glyphs_keep_their_side_bearings() {
        // plotters' own bitmap text dropped each glyph's left side bearing, so "1" (a wide
        // bearing) was drawn too far left and "5.13" read "5.1 3".
        let f = face();
        let em = em_px(30.0);
        let one = f.glyph_id('1');
        let bearing = f.h_side_bearing_unscaled(one) * em / units_per_em();
        let (first, _) = ink_columns("1", 30.0);
        assert!(
            (first as f32 - (10.0 + bearing)).abs() <= 1.0,
            "ink starts at {first}, expected about {}",
            10.0 + bearing
        );
        // In "13" the 3 starts one advance after the 1, as in "83".
        let (_, end13) = ink_columns("13", 30.0);
        let (_, end83) = ink_columns("83", 30.0);
        assert!(end13.abs_diff(end83) <= 1, "{end13} vs {end83}");
    }

    #[test]
    fn digits_advance_evenly() {
        // DejaVu's figures share one advance, so "1" is as wide as "8" and digits add that
        // advance each (no kerning between figures).
        let one = width("1", 20.0);
        assert!((one - width("8", 20.0)).abs() < 1e-9);
        assert!((width("513", 20.0) - 3.0 * one).abs() < 1e-3);
        assert!((width("5.13", 20.0) - width("5.1", 20.0) - one).abs() < 1e-3);
    }
}
