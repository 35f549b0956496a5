//! What every chart shares: type sizes, colours, the title, legend and note around the plot,
//! the axes' label areas, category names, markers and dashed lines.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::{Axis, Ticked};
use super::{Frame, PALETTE, Reference};
use crate::report::font;
use crate::report::text;

pub(super) type Root<DB> = DrawingArea<DB, Shift>;
pub(super) type Drawn = Result<(), String>;

/// Font sizes (plotters sizes) of a figure, growing with its width so that a figure scaled to
/// a paper's column (or a wide one to the text width) keeps 6-8 pt text.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fonts {
    pub(super) title: f64,
    pub(super) axis: f64,
    pub(super) tick: f64,
    pub(super) legend: f64,
    pub(super) value: f64,
    pub(super) note: f64,
}

pub(super) fn fonts(size: (u32, u32)) -> Fonts {
    let s = f64::from(size.0.min(1100)) / 900.0 * 1.24;
    Fonts {
        title: 26.0 * s,
        axis: 23.0 * s,
        tick: 21.0 * s,
        legend: 20.0 * s,
        value: 18.0 * s,
        note: 17.0 * s,
    }
}

pub(super) const MARGIN: i32 = 14;
pub(super) const GRID: RGBColor = RGBColor(0xDD, 0xDD, 0xDD);
pub(super) const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);

pub(super) fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Black or white, whichever reads better on `c`.
pub(super) fn ink_on(c: RGBColor) -> RGBColor {
    let l = 0.299 * f64::from(c.0) + 0.587 * f64::from(c.1) + 0.114 * f64::from(c.2);
    if l < 110.0 { WHITE } else { BLACK }
}

pub(super) fn style(size: f64) -> TextStyle<'static> {
    (font::FAMILY, size).into_font().color(&BLACK)
}

pub(super) fn anchored(size: f64, h: HPos, v: VPos) -> TextStyle<'static> {
    style(size).pos(Pos::new(h, v))
}

pub(super) fn e2s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Draws text at absolute backend coordinates on any area.
pub(super) fn put<DB: DrawingBackend>(
    area: &Root<DB>,
    s: &str,
    at: (i32, i32),
    st: &TextStyle<'_>,
) -> Drawn {
    let (bx, by) = area.get_base_pixel();
    area.draw(&Text::new(
        s.to_string(),
        (at.0 - bx, at.1 - by),
        st.clone(),
    ))
    .map_err(e2s)
}

pub(super) fn px(v: f64) -> i32 {
    v.round() as i32
}

/// Greedy word wrap to `max_px` at text size `size`.
pub(super) fn wrap(s: &str, size: f64, max_px: f64) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    // Words break at spaces, and after a hyphen where a word alone is too long.
    let mut words: Vec<(String, bool)> = Vec::new();
    // A lone symbol ("+ token pruning") stays with the word after it.
    let mut tokens: Vec<String> = Vec::new();
    let mut glue: Option<String> = None;
    for w in s.split_whitespace() {
        let w = match glue.take() {
            Some(g) => format!("{g} {w}"),
            None => w.to_string(),
        };
        if w.chars().count() == 1 && !w.chars().all(char::is_alphanumeric) {
            glue = Some(w);
        } else if text::width(&w, size) > max_px && w.contains(' ') {
            // Glued, it would not fit: the symbol goes alone after all.
            let (g, rest) = w.split_once(' ').unwrap_or(("", &w));
            tokens.push(g.to_string());
            tokens.push(rest.to_string());
        } else {
            tokens.push(w);
        }
    }
    tokens.extend(glue);
    for w in tokens.iter().map(String::as_str) {
        if text::width(w, size) <= max_px || !w.contains('-') {
            words.push((w.to_string(), true));
            continue;
        }
        let parts: Vec<&str> = w.split_inclusive('-').collect();
        for (i, part) in parts.iter().enumerate() {
            words.push((part.to_string(), i == 0));
        }
    }
    for (word, spaced) in &words {
        let word = word.as_str();
        let joiner = if *spaced { " " } else { "" };
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line}{joiner}{word}")
        };
        if !line.is_empty() && text::width(&candidate, size) > max_px {
            lines.push(std::mem::replace(&mut line, word.to_string()));
        } else {
            line = candidate;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// What a legend entry shows beside its name.
#[derive(Debug, Clone, Copy)]
pub(super) enum Key {
    Swatch(RGBColor),
    Line(RGBColor, usize),
    Dashed(RGBColor),
    Marker(RGBColor, usize, bool),
}

#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) key: Key,
    pub(super) name: String,
}

pub(super) const KEY_W: f64 = 34.0;

pub(super) fn entry_width(e: &Entry, size: f64) -> f64 {
    KEY_W + 8.0 + text::width(&e.name, size)
}

/// Rows of legend entries that fit `width`.
pub(super) fn legend_rows(entries: &[Entry], size: f64, width: f64) -> Vec<Vec<Entry>> {
    let gap = 26.0;
    let mut rows: Vec<Vec<Entry>> = Vec::new();
    let mut used = 0.0;
    for e in entries {
        let w = entry_width(e, size);
        match rows.last_mut() {
            Some(row) if used + gap + w <= width => {
                row.push(e.clone());
                used += gap + w;
            }
            _ => {
                rows.push(vec![e.clone()]);
                used = w;
            }
        }
    }
    rows
}

pub(super) fn row_height(size: f64) -> f64 {
    text::line_height(size) + 6.0
}

pub(super) fn draw_key<DB: DrawingBackend>(area: &Root<DB>, key: Key, x: i32, yc: i32) -> Drawn {
    let (bx, by) = area.get_base_pixel();
    let (x, yc) = (x - bx, yc - by);
    let w = KEY_W as i32;
    match key {
        Key::Swatch(c) => area
            .draw(&Rectangle::new(
                [(x + 4, yc - 9), (x + w - 4, yc + 9)],
                c.filled(),
            ))
            .map_err(e2s),
        Key::Line(c, m) => {
            area.draw(&PathElement::new(
                vec![(x, yc), (x + w, yc)],
                c.stroke_width(3),
            ))
            .map_err(e2s)?;
            marker(area, (x + w / 2, yc), m, c, true)
        }
        Key::Dashed(c) => dashes(area, (x, yc), (x + w, yc), c),
        Key::Marker(c, m, filled) => marker(area, (x + w / 2, yc), m, c, filled),
    }
}

/// Draws the legend rows centred in `width` starting at absolute `(x0, y0)`; returns the
/// height used.
pub(super) fn draw_legend<DB: DrawingBackend>(
    area: &Root<DB>,
    rows: &[Vec<Entry>],
    size: f64,
    x0: f64,
    width: f64,
    y0: f64,
) -> Result<f64, String> {
    let gap = 26.0;
    let rh = row_height(size);
    for (r, row) in rows.iter().enumerate() {
        let total: f64 =
            row.iter().map(|e| entry_width(e, size)).sum::<f64>() + gap * (row.len() - 1) as f64;
        let mut x = x0 + (width - total) / 2.0;
        let yc = y0 + rh * (r as f64 + 0.5);
        for e in row {
            draw_key(area, e.key, px(x), px(yc))?;
            put(
                area,
                &e.name,
                (px(x + KEY_W + 8.0), px(yc)),
                &anchored(size, HPos::Left, VPos::Center),
            )?;
            x += entry_width(e, size) + gap;
        }
    }
    Ok(rh * rows.len() as f64)
}

/// Series markers that differ in shape as well as colour.
pub(super) fn marker<DB: DrawingBackend>(
    area: &Root<DB>,
    at: (i32, i32),
    shape: usize,
    c: RGBColor,
    filled: bool,
) -> Drawn {
    let st = if filled {
        c.filled()
    } else {
        c.stroke_width(2)
    };
    let r = 6;
    let (x, y) = at;
    let res = match shape % 4 {
        0 => area.draw(&Circle::new(at, r as u32, st)),
        1 => area.draw(&Rectangle::new(
            [(x - r + 1, y - r + 1), (x + r - 1, y + r - 1)],
            st,
        )),
        2 => area.draw(&Polygon::new(
            vec![
                (x, y - r - 1),
                (x + r + 1, y + r - 1),
                (x - r - 1, y + r - 1),
            ],
            st,
        )),
        _ => area.draw(&Polygon::new(
            vec![
                (x, y - r - 1),
                (x + r + 1, y),
                (x, y + r + 1),
                (x - r - 1, y),
            ],
            st,
        )),
    };
    res.map_err(e2s)
}

/// A dashed line between two points of `area`'s own pixel coordinates.
pub(super) fn dashes<DB: DrawingBackend>(
    area: &Root<DB>,
    from: (i32, i32),
    to: (i32, i32),
    c: RGBColor,
) -> Drawn {
    let (dx, dy) = (f64::from(to.0 - from.0), f64::from(to.1 - from.1));
    let len = dx.hypot(dy);
    let (on, off) = (10.0, 6.0);
    let mut t = 0.0;
    while t < len {
        let t1 = (t + on).min(len);
        let p = |s: f64| {
            (
                from.0 + px(dx * s / len.max(1e-9)),
                from.1 + px(dy * s / len.max(1e-9)),
            )
        };
        area.draw(&PathElement::new(vec![p(t), p(t1)], c.stroke_width(2)))
            .map_err(e2s)?;
        t += on + off;
    }
    Ok(())
}

/// The areas of a figure: the title and legend above, the note below, the chart between.
pub(super) struct Layout<DB: DrawingBackend> {
    pub(super) chart: Root<DB>,
}

/// Draws the title, the legend strip and the note; returns the area left for the chart.
/// `legend_height` reserves room for a legend the caller draws itself (and `legend` entries
/// are laid out here otherwise).
pub(super) fn frame_layout<DB: DrawingBackend>(
    root: &Root<DB>,
    frame: &Frame,
    legend: &[Entry],
    own_legend_height: f64,
) -> Result<Layout<DB>, String> {
    let f = fonts(frame.size);
    let (w, h) = (f64::from(frame.size.0), f64::from(frame.size.1));
    let inner = w - 2.0 * f64::from(MARGIN);
    let mut top = f64::from(MARGIN);
    let title_lines = wrap(&frame.title, f.title, inner);
    for line in &title_lines {
        put(
            root,
            line,
            (px(w / 2.0), px(top)),
            &anchored(f.title, HPos::Center, VPos::Top),
        )?;
        top += text::line_height(f.title);
    }
    top += 6.0;
    if legend.len() >= 2 || legend.iter().any(|e| matches!(e.key, Key::Dashed(_))) {
        let rows = legend_rows(legend, f.legend, inner);
        top += draw_legend(root, &rows, f.legend, f64::from(MARGIN), inner, top)?;
        top += 4.0;
    }
    top += own_legend_height;
    let mut bottom = h - f64::from(MARGIN) / 2.0;
    if let Some(note) = &frame.note {
        let lines = wrap(note, f.note, inner);
        let lh = text::line_height(f.note);
        bottom -= lh * lines.len() as f64;
        for (i, line) in lines.iter().enumerate() {
            put(
                root,
                line,
                (MARGIN, px(bottom + lh * i as f64)),
                &anchored(f.note, HPos::Left, VPos::Top).color(&INK),
            )?;
        }
        bottom -= 6.0;
    }
    let (_, rest) = root.split_vertically(px(top).max(0) as u32);
    let (chart, _) = rest.split_vertically(px(bottom - top).max(50) as u32);
    Ok(Layout { chart })
}

pub(super) type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<Ticked, Ticked>>;

/// Width of the y label area: the widest tick label plus the rotated axis title.
pub(super) fn y_area_width(y: &Axis, f: &Fonts) -> u32 {
    let widest = y
        .ticks
        .iter()
        .map(|t| text::width(&y.label(*t), f.tick))
        .fold(0.0, f64::max);
    (widest + text::line_height(f.axis) + 22.0).ceil() as u32
}

/// A chart on `area` with both axes drawn; `x_labels` says whether plotters prints the x
/// ticks (numeric axes) or the caller draws category names.
#[allow(clippy::too_many_arguments)]
pub(super) fn build_chart<'a, DB: DrawingBackend + 'a>(
    area: &'a Root<DB>,
    f: &Fonts,
    x_label: &str,
    y_label: &str,
    x: &Axis,
    y: &Axis,
    x_area: u32,
    numeric_x: bool,
) -> Result<Chart<'a, DB>, String> {
    let mut c = ChartBuilder::on(area)
        .margin_left(MARGIN)
        .margin_right(MARGIN * 2)
        .margin_top(8)
        .margin_bottom(4)
        .x_label_area_size(x_area)
        .y_label_area_size(y_area_width(y, f))
        .build_cartesian_2d(x.coord(), y.coord())
        .map_err(e2s)?;
    let xl = |v: &f64| {
        if numeric_x {
            x.label(*v)
        } else {
            String::new()
        }
    };
    let yl = |v: &f64| y.label(*v);
    // An axis title longer than its axis is set smaller, down to the tick size.
    let (_, plot_h) = c.plotting_area().dim_in_pixel();
    let desc_w = text::width(y_label, f.axis);
    let desc_size = if desc_w > f64::from(plot_h) {
        (f.axis * f64::from(plot_h) / desc_w).max(f.tick * 0.7)
    } else {
        f.axis
    };
    let mut mesh = c.configure_mesh();
    mesh.x_desc(x_label)
        .y_desc(y_label)
        .axis_desc_style(style(desc_size))
        .label_style(style(f.tick))
        .x_label_formatter(&xl)
        .y_label_formatter(&yl)
        .light_line_style(WHITE)
        .bold_line_style(GRID)
        .axis_style(INK.stroke_width(1));
    if !numeric_x {
        mesh.disable_x_mesh();
    }
    mesh.draw().map_err(e2s)?;
    Ok(c)
}

/// Height of the x label area of a numeric axis.
pub(super) fn numeric_x_area(f: &Fonts, x_label: &str) -> u32 {
    let desc = if x_label.is_empty() {
        0.0
    } else {
        text::line_height(f.axis) + 6.0
    };
    (text::line_height(f.tick) + desc + 14.0).ceil() as u32
}

/// How category names are set under their bars.
pub(super) enum CategoryText {
    /// Each name wrapped onto these lines at this text size, centred under its slot.
    Lines(Vec<Vec<String>>, f64),
    /// Names turned to read bottom-up at this size (they do not fit even when wrapped).
    Turned(f64),
}

/// Wraps names onto up to three lines, at the tick size or a little smaller; turns them
/// when that does not fit, at a size that keeps them within `max_turned_px` of height.
pub(super) fn category_text(
    categories: &[String],
    f: &Fonts,
    slot_px: f64,
    max_turned_px: f64,
) -> CategoryText {
    for size in [f.tick, f.tick * 0.88, f.tick * 0.78] {
        let wrapped: Vec<Vec<String>> = categories
            .iter()
            .map(|c| wrap(c, size, slot_px - 8.0))
            .collect();
        let fits = wrapped.iter().all(|lines| {
            lines.len() <= 3 && lines.iter().all(|l| text::width(l, size) <= slot_px - 4.0)
        });
        if fits {
            return CategoryText::Lines(wrapped, size);
        }
    }
    let longest = categories
        .iter()
        .map(|c| text::width(c, f.tick))
        .fold(0.0, f64::max);
    let size = if longest > max_turned_px {
        (f.tick * max_turned_px / longest).max(f.tick * 0.6)
    } else {
        f.tick
    };
    CategoryText::Turned(size)
}

pub(super) fn category_area(
    categories: &[String],
    t: &CategoryText,
    f: &Fonts,
    x_label: &str,
) -> u32 {
    let desc = if x_label.is_empty() {
        0.0
    } else {
        text::line_height(f.axis) + 8.0
    };
    let names = match t {
        CategoryText::Lines(lines, size) => {
            let n = lines.iter().map(Vec::len).max().unwrap_or(1);
            text::line_height(*size) * n as f64
        }
        CategoryText::Turned(size) => categories
            .iter()
            .map(|c| text::width(c, *size))
            .fold(0.0, f64::max),
    };
    (names + desc + 16.0).ceil() as u32
}

pub(super) fn draw_category_names<DB: DrawingBackend>(
    area: &Root<DB>,
    ch: &Chart<'_, DB>,
    categories: &[String],
    t: &CategoryText,
    y: &Axis,
) -> Drawn {
    for (i, name) in categories.iter().enumerate() {
        let (cx, bottom) = ch.backend_coord(&(i as f64, y.range.start));
        match t {
            CategoryText::Lines(lines, size) => {
                let lh = text::line_height(*size);
                for (k, line) in lines[i].iter().enumerate() {
                    put(
                        area,
                        line,
                        (cx, bottom + 10 + px(lh * k as f64)),
                        &anchored(*size, HPos::Center, VPos::Top),
                    )?;
                }
            }
            CategoryText::Turned(size) => {
                let turned =
                    anchored(*size, HPos::Right, VPos::Center).transform(FontTransform::Rotate270);
                put(area, name, (cx, bottom + 10), &turned)?;
            }
        }
    }
    Ok(())
}

/// Roughly the plot's pixel size on `area` (the y label area is not known yet).
pub(super) fn plot_size<DB: DrawingBackend>(area: &Root<DB>, x_area: u32) -> (f64, f64) {
    let (w, h) = area.dim_in_pixel();
    (
        f64::from(w) - 140.0,
        f64::from(h) - f64::from(x_area) - 12.0,
    )
}

/// The pixel width of the plot area a chart on `area` will get with this y axis.
pub(super) fn plot_width(area_w: f64, y: &Axis, f: &Fonts) -> f64 {
    area_w - f64::from(MARGIN * 3) - f64::from(y_area_width(y, f))
}

pub(super) fn reference_entry(r: &Reference) -> Entry {
    Entry {
        key: Key::Dashed(INK),
        name: r.label.clone(),
    }
}
