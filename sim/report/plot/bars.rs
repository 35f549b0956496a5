//! Grouped bars (alone or in panels) and stacked bars.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::axis::{Axis, format_value};
use super::layout::*;
use super::{GroupedBars, Panels, Series, StackedBars};
use crate::report::text;

pub(super) fn series_entries(series: &[Series]) -> Vec<Entry> {
    series
        .iter()
        .enumerate()
        .map(|(i, s)| Entry {
            key: Key::Swatch(color(i)),
            name: s.name.clone(),
        })
        .collect()
}

pub(super) fn draw_grouped_figure<DB: DrawingBackend>(root: &Root<DB>, c: &GroupedBars) -> Drawn {
    let mut legend = if c.series.len() > 1 {
        series_entries(&c.series)
    } else {
        Vec::new()
    };
    legend.extend(c.reference.iter().map(reference_entry));
    let layout = frame_layout(root, &c.frame, &legend, 0.0)?;
    draw_grouped(&layout.chart, c, &fonts(c.frame.size))
}

pub(super) fn draw_panels<DB: DrawingBackend>(root: &Root<DB>, c: &Panels) -> Drawn {
    let f = fonts(c.frame.size);
    let first = &c.panels[0];
    let mut legend = if first.series.len() > 1 {
        series_entries(&first.series)
    } else {
        Vec::new()
    };
    legend.extend(first.reference.iter().map(reference_entry));
    let layout = frame_layout(root, &c.frame, &legend, 0.0)?;
    let areas = layout.chart.split_evenly((1, c.panels.len()));
    for (area, p) in areas.iter().zip(&c.panels) {
        let (w, _) = area.dim_in_pixel();
        let (bx, by) = area.get_base_pixel();
        put(
            area,
            &p.frame.title,
            (bx + px(f64::from(w) / 2.0), by + 2),
            &anchored(f.axis, HPos::Center, VPos::Top),
        )?;
        let (_, body) = area.split_vertically(px(text::line_height(f.axis) + 8.0) as u32);
        draw_grouped(&body, p, &f)?;
    }
    Ok(())
}

/// The bars of one grouped chart on `area` (title and legend already drawn).
pub(super) fn draw_grouped<DB: DrawingBackend>(
    area: &Root<DB>,
    c: &GroupedBars,
    f: &Fonts,
) -> Drawn {
    let (aw, ah) = area.dim_in_pixel();
    let all: Vec<f64> = c
        .series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .chain(c.reference.iter().map(|r| r.value))
        .collect();
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    // Bars grow from the reference on a log axis, from 0 on a linear one.
    let base_value = match (&c.reference, c.log_y) {
        (Some(r), true) => Some(r.value),
        (_, false) => Some(0.0),
        (None, true) => None,
    };
    let n = c.series.len() as f64;
    // A first guess of the y axis sizes the label area; the axis is then fitted again with
    // room for the value labels.
    let guess = Axis::fit(
        if c.log_y { lo } else { lo.min(0.0) },
        hi,
        c.log_y,
        !c.log_y,
    );
    let slot = plot_width(f64::from(aw), &guess, f) / c.categories.len() as f64;
    let bar_px = slot * 0.8 / n;
    let cats = category_text(&c.categories, f, slot, f64::from(ah) * 0.32);
    let x_area = category_area(&c.categories, &cats, f, &c.frame.x_label);
    let labels: Vec<Vec<String>> = c
        .series
        .iter()
        .map(|s| {
            s.values
                .iter()
                .map(|v| match &c.value_labels {
                    Some(suffix) => format!("{}{suffix}", format_value(*v)),
                    None => String::new(),
                })
                .collect()
        })
        .collect();
    let widest = labels
        .iter()
        .flatten()
        .map(|l| text::width(l, f.value))
        .fold(0.0, f64::max);
    let turn_labels = widest + 2.0 > bar_px;
    // Turned labels need the bar's width for their height; where bars are thinner than a
    // line of text the labels would overlap, so none are printed (the caller says where the
    // numbers are instead).
    let show_labels =
        c.value_labels.is_some() && (!turn_labels || text::line_height(f.value) <= bar_px + 6.0);
    let label_px = if !show_labels {
        0.0
    } else if turn_labels {
        widest + 8.0
    } else {
        text::line_height(f.value) + 6.0
    };
    let plot_h = f64::from(ah) - f64::from(x_area) - 12.0;
    let (lo_d, hi_d) = if c.log_y {
        (lo.log10(), hi.log10())
    } else {
        (lo.min(0.0), hi)
    };
    let any_below = base_value.is_some_and(|b| all.iter().any(|v| *v < b));
    let up = label_px + 6.0;
    let down = if any_below { label_px + 6.0 } else { 0.0 };
    let span = if hi_d - lo_d > 1e-12 {
        hi_d - lo_d
    } else if c.log_y {
        1.0
    } else {
        hi_d.abs().max(1.0)
    };
    let scale = span / (plot_h - up - down).max(plot_h * 0.3);
    let start = if !c.log_y && lo_d >= 0.0 {
        0.0
    } else {
        lo_d - down * scale - if c.log_y { span * 0.04 } else { 0.0 }
    };
    let y = Axis::over_px(start..hi_d + up * scale, c.log_y, plot_h);
    let x = Axis {
        log: false,
        range: -0.5..c.categories.len() as f64 - 0.5,
        ticks: (0..c.categories.len()).map(|i| i as f64).collect(),
    };
    let mut ch = build_chart(
        area,
        f,
        &c.frame.x_label,
        &c.frame.y_label,
        &x,
        &y,
        x_area,
        false,
    )?;
    draw_category_names(area, &ch, &c.categories, &cats, &y)?;
    let base = base_value.map_or(y.range.start, |b| y.map(b));
    let width = 0.8 / n;
    for (si, s) in c.series.iter().enumerate() {
        let col = color(si);
        let bars = s.values.iter().enumerate().map(|(i, v)| {
            let x0 = i as f64 - 0.4 + si as f64 * width;
            Rectangle::new(
                [(x0 + 0.012, base), (x0 + width - 0.012, y.map(*v))],
                col.filled(),
            )
        });
        ch.draw_series(bars).map_err(e2s)?;
    }
    if let Some(r) = &c.reference {
        let (x0, yr) = ch.backend_coord(&(x.range.start, y.map(r.value)));
        let (x1, _) = ch.backend_coord(&(x.range.end, y.map(r.value)));
        let (bx, by) = area.get_base_pixel();
        dashes(area, (x0 - bx, yr - by), (x1 - bx, yr - by), INK)?;
    }
    if show_labels {
        for (si, s) in c.series.iter().enumerate() {
            for (i, v) in s.values.iter().enumerate() {
                let xc = i as f64 - 0.4 + (si as f64 + 0.5) * width;
                let (cx, cy) = ch.backend_coord(&(xc, y.map(*v)));
                let below = base_value.is_some_and(|b| *v < b);
                let (h, vp, dy) = match (turn_labels, below) {
                    (false, false) => (HPos::Center, VPos::Bottom, -4),
                    (false, true) => (HPos::Center, VPos::Top, 4),
                    (true, false) => (HPos::Left, VPos::Center, -5),
                    (true, true) => (HPos::Right, VPos::Center, 5),
                };
                let mut st = anchored(f.value, h, vp).color(&INK);
                if turn_labels {
                    st = st.transform(FontTransform::Rotate270);
                }
                put(area, &labels[si][i], (cx, cy + dy), &st)?;
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Stacked bars.

pub(super) fn draw_stacked<DB: DrawingBackend>(root: &Root<DB>, c: &StackedBars) -> Drawn {
    let f = fonts(c.frame.size);
    let n = c.categories.len();
    let color = |k: usize| color(c.colors.get(k).copied().unwrap_or(k));
    let totals: Vec<f64> = (0..n)
        .map(|i| c.components.iter().map(|s| s.values[i]).sum())
        .collect();
    let hi = totals.iter().copied().fold(0.0, f64::max);
    // Entries listed top of the stack first, as the segments appear.
    let entries: Vec<Entry> = c
        .components
        .iter()
        .enumerate()
        .rev()
        .map(|(i, s)| Entry {
            key: Key::Swatch(color(i)),
            name: s.name.clone(),
        })
        .collect();
    let per_category: Vec<Vec<Entry>> = (0..n)
        .map(|i| {
            c.components
                .iter()
                .enumerate()
                .rev()
                .filter(|(_, s)| s.values[i] > 0.0)
                .map(|(k, s)| Entry {
                    key: Key::Swatch(color(k)),
                    name: s.name.clone(),
                })
                .collect()
        })
        .collect();
    let own_legend = if c.legend_per_category {
        let rows = per_category.iter().map(Vec::len).max().unwrap_or(0);
        row_height(f.legend) * rows as f64 + 8.0
    } else {
        0.0
    };
    let shared: &[Entry] = if c.legend_per_category || entries.len() < 2 {
        &[]
    } else {
        &entries
    };
    let layout = frame_layout(root, &c.frame, shared, own_legend)?;
    let area = &layout.chart;
    let (aw, ah) = area.dim_in_pixel();
    let top_data = c.y_max.unwrap_or(if hi > 0.0 { hi } else { 1.0 });
    let guess = Axis::fit(0.0, top_data, false, true);
    let slot = plot_width(f64::from(aw), &guess, &f) / n as f64;
    let cats = category_text(&c.categories, &f, slot, f64::from(ah) * 0.32);
    let x_area = category_area(&c.categories, &cats, &f, &c.frame.x_label);
    let plot_h = f64::from(ah) - f64::from(x_area) - 12.0;
    let y = match c.y_max {
        Some(m) => Axis::over_px(0.0..m, false, plot_h),
        None => {
            let up = if c.totals {
                text::line_height(f.value) + 10.0
            } else {
                4.0
            };
            Axis::over_px(
                0.0..top_data * plot_h / (plot_h - up).max(plot_h * 0.5),
                false,
                plot_h,
            )
        }
    };
    let x = Axis {
        log: false,
        range: -0.5..n as f64 - 0.5,
        ticks: (0..n).map(|i| i as f64).collect(),
    };
    if c.legend_per_category {
        // Each bar's legend column sits above it; plot_width matches the chart's layout.
        let pw = plot_width(f64::from(aw), &y, &f);
        let x0 = f64::from(area.get_base_pixel().0)
            + f64::from(y_area_width(&y, &f))
            + f64::from(MARGIN);
        let top = f64::from(area.get_base_pixel().1) - own_legend;
        for (i, col) in per_category.iter().enumerate() {
            let cx = x0 + pw * (i as f64 + 0.5) / n as f64;
            let w = col
                .iter()
                .map(|e| entry_width(e, f.legend))
                .fold(0.0, f64::max);
            let rows: Vec<Vec<Entry>> = col.iter().map(|e| vec![e.clone()]).collect();
            // Entries left-aligned in a column centred over the bar.
            let left = cx - w / 2.0;
            for (r, row) in rows.iter().enumerate() {
                let yc = top + row_height(f.legend) * (r as f64 + 0.5);
                draw_key(root, row[0].key, px(left), px(yc))?;
                put(
                    root,
                    &row[0].name,
                    (px(left + KEY_W + 8.0), px(yc)),
                    &anchored(f.legend, HPos::Left, VPos::Center),
                )?;
            }
        }
    }
    let mut ch = build_chart(
        area,
        &f,
        &c.frame.x_label,
        &c.frame.y_label,
        &x,
        &y,
        x_area,
        false,
    )?;
    draw_category_names(area, &ch, &c.categories, &cats, &y)?;
    let half = if n <= 3 { 0.22 } else { 0.32 };
    let mut bottoms = vec![0.0; n];
    let mut segments = Vec::new();
    for (si, s) in c.components.iter().enumerate() {
        let col = color(si);
        for (i, v) in s.values.iter().enumerate() {
            if *v <= 0.0 {
                continue;
            }
            let (b, t) = (bottoms[i], bottoms[i] + v);
            ch.draw_series(std::iter::once(Rectangle::new(
                [(i as f64 - half, b), (i as f64 + half, t)],
                col.filled(),
            )))
            .map_err(e2s)?;
            segments.push((si, i, b, t, *v, col));
            bottoms[i] = t;
        }
    }
    if c.segment_labels {
        for (k, i, b, t, v, col) in segments {
            if c.unlabelled.contains(&k) {
                continue;
            }
            let (cx, yb) = ch.backend_coord(&(i as f64, b));
            let (_, yt) = ch.backend_coord(&(i as f64, t));
            let (x_left, _) = ch.backend_coord(&(i as f64 - half, b));
            let label = format!("{}{}", format_value(v), c.value_suffix);
            // At the value size, or a little smaller in a narrow bar.
            let fits = |size: f64| {
                text::width(&label, size) + 2.0 <= f64::from(2 * (cx - x_left))
                    && f64::from(yb - yt) >= text::line_height(size) + 2.0
            };
            if let Some(size) = [f.value, f.value * 0.82].into_iter().find(|s| fits(*s)) {
                put(
                    area,
                    &label,
                    (cx, (yb + yt) / 2),
                    &anchored(size, HPos::Center, VPos::Center).color(&ink_on(col)),
                )?;
            }
        }
    }
    if c.totals {
        for (i, t) in totals.iter().enumerate() {
            let (cx, cy) = ch.backend_coord(&(i as f64, *t));
            put(
                area,
                &format!("{}{}", format_value(*t), c.value_suffix),
                (cx, cy - 4),
                &anchored(f.value, HPos::Center, VPos::Bottom).color(&INK),
            )?;
        }
    }
    Ok(())
}
