//! Line plots, Pareto scatters and rooflines.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::axis::{Axis, data_ticks, format_number, round_sig};
use super::layout::*;
use super::{LinePlot, PALETTE, ParetoScatter, Roofline, above_roof, pareto_front};
use crate::report::text;

pub(super) fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    })
}

pub(super) fn draw_lines<DB: DrawingBackend>(root: &Root<DB>, c: &LinePlot) -> Drawn {
    let f = fonts(c.frame.size);
    let mut legend: Vec<Entry> = if c.series.len() > 1 {
        c.series
            .iter()
            .enumerate()
            .map(|(i, s)| Entry {
                key: Key::Line(color(i), i),
                name: s.name.clone(),
            })
            .collect()
    } else {
        Vec::new()
    };
    legend.extend(c.references.iter().map(reference_entry));
    let layout = frame_layout(root, &c.frame, &legend, 0.0)?;
    let area = &layout.chart;
    let (xlo, xhi) = bounds(c.series.iter().flat_map(|s| s.points.iter().map(|p| p.0)));
    let (ylo, yhi) = bounds(
        c.series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .chain(c.references.iter().map(|r| r.value)),
    );
    let x_area = numeric_x_area(&f, &c.frame.x_label);
    let (pw, ph) = plot_size(area, x_area);
    let mut x = Axis::fit_px(xlo, xhi, c.log_x, false, pw * 0.6);
    if let Some(t) = data_ticks(c.series.iter().flat_map(|s| s.points.iter().map(|p| p.0))) {
        let at_data = Axis::fit_px(xlo, xhi, c.log_x, false, pw).at_data(&t);
        // Only where neighbouring labels keep apart.
        let span = at_data.range.end - at_data.range.start;
        let apart = at_data.ticks.windows(2).all(|w| {
            let gap = (w[1] - w[0]) / span * pw;
            let need = (text::width(&at_data.label(w[0]), f.tick)
                + text::width(&at_data.label(w[1]), f.tick))
                / 2.0
                + 14.0;
            gap >= need
        });
        if apart {
            x = at_data;
        }
    }
    let from_zero = c.y_from_zero && !c.log_y && ylo >= 0.0;
    let y = Axis::fit_px(ylo, yhi, c.log_y, from_zero, ph);
    let ch = build_chart(
        area,
        &f,
        &c.frame.x_label,
        &c.frame.y_label,
        &x,
        &y,
        x_area,
        true,
    )?;
    let (bx, by) = area.get_base_pixel();
    for r in &c.references {
        let (x0, yr) = ch.backend_coord(&(x.range.start, y.map(r.value)));
        let (x1, _) = ch.backend_coord(&(x.range.end, y.map(r.value)));
        dashes(area, (x0 - bx, yr - by), (x1 - bx, yr - by), INK)?;
    }
    for (si, s) in c.series.iter().enumerate() {
        let col = color(si);
        let pts: Vec<(i32, i32)> = s
            .points
            .iter()
            .map(|&(a, b)| {
                let (px_, py_) = ch.backend_coord(&(x.map(a), y.map(b)));
                (px_ - bx, py_ - by)
            })
            .collect();
        // Segment by segment: a joined wide path bends its ends off a flat line.
        for w in pts.windows(2) {
            area.draw(&PathElement::new(w.to_vec(), col.stroke_width(3)))
                .map_err(e2s)?;
        }
        for p in pts {
            marker(area, p, si, col, true)?;
        }
    }
    Ok(())
}

/// Axes fitted to `(low, high, log)` ranges, x ticks spaced for numbers (60 % of the width
/// per tick budget), and the numeric x-y chart drawn with them.
fn scatter_chart<'a, DB: DrawingBackend + 'a>(
    area: &'a Root<DB>,
    f: &Fonts,
    frame: &super::Frame,
    (xlo, xhi, log_x): (f64, f64, bool),
    (ylo, yhi, log_y): (f64, f64, bool),
) -> Result<(Axis, Axis, Chart<'a, DB>), String> {
    let x_area = numeric_x_area(f, &frame.x_label);
    let (pw, ph) = plot_size(area, x_area);
    let x = Axis::fit_px(xlo, xhi, log_x, false, pw * 0.6);
    let y = Axis::fit_px(ylo, yhi, log_y, false, ph);
    let ch = build_chart(
        area,
        f,
        &frame.x_label,
        &frame.y_label,
        &x,
        &y,
        x_area,
        true,
    )?;
    Ok((x, y, ch))
}

/// Up to this many points, dominated points are labelled too.
const MAX_LABELLED: usize = 16;

pub(super) fn draw_pareto<DB: DrawingBackend>(root: &Root<DB>, c: &ParetoScatter) -> Drawn {
    let f = fonts(c.frame.size);
    let grey = PALETTE[8];
    let front_col = color(3);
    let legend = [
        Entry {
            key: Key::Marker(grey, 0, true),
            name: "dominated".into(),
        },
        Entry {
            key: Key::Line(front_col, 0),
            name: "Pareto front".into(),
        },
    ];
    let layout = frame_layout(root, &c.frame, &legend, 0.0)?;
    let area = &layout.chart;
    let (xlo, xhi) = bounds(c.points.iter().map(|p| p.x));
    let (ylo, yhi) = bounds(c.points.iter().map(|p| p.y));
    let (x, y, ch) = scatter_chart(area, &f, &c.frame, (xlo, xhi, c.log_x), (ylo, yhi, c.log_y))?;
    let (bx, by) = area.get_base_pixel();
    let at = |p: (f64, f64)| {
        let (a, b) = ch.backend_coord(&(x.map(p.0), y.map(p.1)));
        (a - bx, b - by)
    };
    let raw: Vec<(f64, f64)> = c.points.iter().map(|p| (p.x, p.y)).collect();
    let front = pareto_front(&raw, c.x_goal, c.y_goal);
    for (i, p) in raw.iter().enumerate() {
        if !front.contains(&i) {
            marker(area, at(*p), 0, grey, true)?;
        }
    }
    let line: Vec<(i32, i32)> = front.iter().map(|&i| at(raw[i])).collect();
    for w in line.windows(2) {
        area.draw(&PathElement::new(w.to_vec(), front_col.stroke_width(3)))
            .map_err(e2s)?;
    }
    for p in &line {
        marker(area, *p, 0, front_col, true)?;
    }
    // Labels beside their point: above right, else below right, above left, below left,
    // whichever first stays on the plot and clear of the labels placed so far and of every
    // other point's marker (so no label sits on a neighbour it does not name). Every front
    // point first, then the dominated ones where few enough points leave room (a comparison
    // of policies, not a sweep); a label with no clear place is left out.
    let (plot_x0, _) = ch.backend_coord(&(x.range.start, y.range.end));
    let (plot_x1, _) = ch.backend_coord(&(x.range.end, y.range.end));
    let dominated = (0..c.points.len()).filter(|i| !front.contains(i));
    let order: Vec<usize> = if c.points.len() <= MAX_LABELLED {
        front.iter().copied().chain(dominated).collect()
    } else {
        front.clone()
    };
    type Bbox = (f64, f64, f64, f64);
    let centre = |p: &super::ScatterPoint| {
        let (ax, ay) = ch.backend_coord(&(x.map(p.x), y.map(p.y)));
        (f64::from(ax), f64::from(ay))
    };
    const MARK: f64 = 7.0;
    let marks: Vec<Bbox> = c
        .points
        .iter()
        .map(|p| {
            let (cx, cy) = centre(p);
            (cx - MARK, cy - MARK, cx + MARK, cy + MARK)
        })
        .collect();
    let mut placed: Vec<Bbox> = Vec::new();
    for i in order {
        let p = &c.points[i];
        if p.label.is_empty() {
            continue;
        }
        let (cx, cy) = centre(p);
        let w = text::width(&p.label, f.value);
        let tall = f.value * 1.2;
        let clear = |b: &Bbox| {
            let hits = |o: &Bbox| b.0 < o.2 && o.0 < b.2 && b.1 < o.3 && o.1 < b.3;
            let others = marks.iter().enumerate().filter(|(j, _)| *j != i);
            !placed.iter().any(hits) && !others.map(|(_, m)| m).any(hits)
        };
        let spot = [(true, true), (true, false), (false, true), (false, false)]
            .into_iter()
            .find_map(|(right, above)| {
                let x0 = if right { cx + 10.0 } else { cx - 10.0 - w };
                let (y0, y1) = if above {
                    (cy - 6.0 - tall, cy - 6.0)
                } else {
                    (cy + 6.0, cy + 6.0 + tall)
                };
                let b = (x0, y0, x0 + w, y1);
                let inside = x0 >= f64::from(plot_x0) && x0 + w < f64::from(plot_x1);
                (inside && clear(&b)).then_some((b, right, above))
            });
        let Some((bbox, right, above)) = spot else {
            continue;
        };
        placed.push(bbox);
        let ink = if front.contains(&i) { INK } else { grey };
        let (h, anchor_x) = if right {
            (HPos::Left, bbox.0)
        } else {
            (HPos::Right, bbox.2)
        };
        let (v, anchor_y) = if above {
            (VPos::Bottom, bbox.3)
        } else {
            (VPos::Top, bbox.1)
        };
        let pos = (px(anchor_x), px(anchor_y));
        put(area, &p.label, pos, &anchored(f.value, h, v).color(&ink))?;
    }
    Ok(())
}

pub(super) fn draw_roofline<DB: DrawingBackend>(root: &Root<DB>, c: &Roofline) -> Drawn {
    let f = fonts(c.frame.size);
    let legend: Vec<Entry> = if c.ceilings.len() > 1 {
        c.ceilings
            .iter()
            .enumerate()
            .map(|(i, k)| Entry {
                key: Key::Line(color(i), i),
                name: k.name.clone(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let layout = frame_layout(root, &c.frame, &legend, 0.0)?;
    let area = &layout.chart;
    let ridges: Vec<f64> = c
        .ceilings
        .iter()
        .map(|k| k.peak_gops / k.bandwidth_gbps)
        .collect();
    let (plo, phi) = bounds(c.points.iter().map(|p| p.intensity_ops_per_byte));
    let xlo = ridges.iter().copied().fold(plo, f64::min) / 4.0;
    let xhi = ridges.iter().copied().fold(phi, f64::max) * 4.0;
    let (peak_lo, peak_hi) = bounds(c.ceilings.iter().map(|k| k.peak_gops));
    let (point_lo, point_hi) = bounds(c.points.iter().map(|p| p.gops));
    // Down to a tenth of the lowest roof or point, up to just above the highest.
    let ylo = peak_lo.min(point_lo) / 10.0;
    let yhi = peak_hi.max(point_hi) * 2.0;
    let (x, y, ch) = scatter_chart(area, &f, &c.frame, (xlo, xhi, true), (ylo, yhi, true))?;
    let (bx, by) = area.get_base_pixel();
    let at = |p: (f64, f64)| {
        let (a, b) = ch.backend_coord(&(x.map(p.0), y.map(p.1)));
        (a - bx, b - by)
    };
    let abs = |p: (f64, f64)| ch.backend_coord(&(x.map(p.0), y.map(p.1)));
    let (x0, x1) = (10f64.powf(x.range.start), 10f64.powf(x.range.end));
    for (ki, k) in c.ceilings.iter().enumerate() {
        let col = color(ki);
        let ridge = k.peak_gops / k.bandwidth_gbps;
        let start = x0.max(10f64.powf(y.range.start) / k.bandwidth_gbps);
        let path = vec![
            at((start, k.bandwidth_gbps * start)),
            at((ridge, k.peak_gops)),
            at((x1, k.peak_gops)),
        ];
        area.draw(&PathElement::new(path, col.stroke_width(3)))
            .map_err(e2s)?;
        let prefix = if c.ceilings.len() > 1 {
            format!("{}: ", k.name)
        } else {
            String::new()
        };
        // The flat roof is named above its right end, the slope below its middle.
        let (rx, ry) = abs((x1, k.peak_gops));
        put(
            area,
            &format!(
                "{prefix}compute roof {} GOP/s",
                format_number(round_sig(k.peak_gops, 4))
            ),
            (rx - 8, ry - 6),
            &anchored(f.value, HPos::Right, VPos::Bottom).color(&col),
        )?;
        let mid = (start * ridge).sqrt();
        let (sx, sy) = abs((mid, k.bandwidth_gbps * mid));
        put(
            area,
            &format!(
                "{prefix}memory roof {} GB/s x intensity",
                format_number(round_sig(k.bandwidth_gbps, 4))
            ),
            (sx + 12, sy + 6),
            &anchored(f.value, HPos::Left, VPos::Top).color(&col),
        )?;
    }
    for p in &c.points {
        let hollow = above_roof(c, p);
        let (ax, ay) = abs((p.intensity_ops_per_byte, p.gops));
        marker(area, (ax - bx, ay - by), 0, INK, !hollow)?;
        let w = text::width(&p.name, f.value);
        let (plot_x1, _) = ch.backend_coord(&(x.range.end, y.range.end));
        let (pos, h) = if f64::from(ax) + 12.0 + w < f64::from(plot_x1) {
            ((ax + 12, ay), HPos::Left)
        } else {
            ((ax - 12, ay), HPos::Right)
        };
        put(
            area,
            &p.name,
            pos,
            &anchored(f.value, h, VPos::Center).color(&INK),
        )?;
    }
    Ok(())
}
