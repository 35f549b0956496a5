//! Figures from a results directory: Pareto fronts and metric-vs-axis line plots.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::SweepError;
use super::results::{self, Manifest, RESULTS_FILE};
use crate::report::plot::{self, Curve, Frame, Goal, LinePlot, ParetoScatter, ScatterPoint};

/// The rows of a results directory as (column -> value) maps, ok points only.
pub fn ok_rows(dir: &Path) -> Result<(Manifest, Vec<BTreeMap<String, String>>), SweepError> {
    let manifest = Manifest::read(dir)?;
    let rows = results::read_rows(&dir.join(RESULTS_FILE), &manifest.columns)?;
    let maps = rows
        .values()
        .map(|r| {
            manifest
                .columns
                .iter()
                .cloned()
                .zip(r.iter().cloned())
                .collect::<BTreeMap<_, _>>()
        })
        .filter(|m| m.get("status").map(String::as_str) == Some("ok"))
        .collect();
    Ok((manifest, maps))
}

fn number(row: &BTreeMap<String, String>, key: &str) -> Option<f64> {
    row.get(key)?.parse().ok()
}

/// The swept axes: columns between `workload` and `status`.
pub fn axis_columns(m: &Manifest) -> Vec<String> {
    let start = m
        .columns
        .iter()
        .position(|c| c == "workload")
        .map_or(0, |i| i + 1);
    let end = m
        .columns
        .iter()
        .position(|c| c == "status")
        .unwrap_or(m.columns.len());
    m.columns[start..end].to_vec()
}

/// A results column as an axis title with its unit, and the factor that converts the stored
/// value into that unit (energies get the unit that fits the largest value).
pub fn column_axis(column: &str, values: &[f64]) -> (String, f64) {
    let largest = values.iter().copied().map(f64::abs).fold(0.0, f64::max);
    let fixed = |name: &str| (name.to_string(), 1.0);
    match column {
        "cycles" => fixed("cycles"),
        "seconds" => {
            let (k, unit) = if largest >= 1.0 {
                (1.0, "s")
            } else if largest >= 1e-3 {
                (1e3, "ms")
            } else {
                (1e6, "µs")
            };
            (format!("latency per run ({unit})"), k)
        }
        "gops" => fixed("executed throughput (GOP/s)"),
        "effective_gops" => fixed("effective throughput (GOP/s)"),
        "energy_j" => {
            let (k, unit) = plot::energy_unit(largest);
            (format!("energy per run ({unit})"), k)
        }
        "power_w" => fixed("power (W)"),
        "effective_gop_per_j" => fixed("energy efficiency (effective GOP/J)"),
        "area_mm2" => fixed("area (mm²)"),
        "effective_gops_per_mm2" => fixed("throughput per area (effective GOP/s per mm²)"),
        "dram_bytes" => ("DRAM traffic (MB)".to_string(), 1e-6),
        "lsb_refetches" => fixed("LSB refetches"),
        c if c.starts_with("speedup_vs_") => (
            format!("speedup over {} (x)", c.trim_start_matches("speedup_vs_")),
            1.0,
        ),
        c => fixed(c),
    }
}

/// Whether axes `a` and `b` take their values one to one over `rows` (as a `[zip]` group).
fn moves_with(rows: &[BTreeMap<String, String>], a: &str, b: &str) -> bool {
    let (mut ab, mut ba) = (BTreeMap::new(), BTreeMap::new());
    rows.iter().all(|r| {
        let (x, y) = (r.get(a), r.get(b));
        *ab.entry(x).or_insert(y) == y && *ba.entry(y).or_insert(x) == x
    })
}

/// Where a series goes in a figure's legend: by workload, then by each axis's value, numbers
/// as numbers (so `channels=2` comes before `channels=16`).
type SeriesOrder = Vec<(f64, String)>;

fn series_order(row: &BTreeMap<String, String>, axes: &[String]) -> SeriesOrder {
    std::iter::once("workload")
        .chain(axes.iter().map(String::as_str))
        .map(|a| {
            let v = row.get(a).cloned().unwrap_or_default();
            (v.parse::<f64>().unwrap_or(f64::INFINITY), v)
        })
        .collect()
}

fn compare_order(a: &SeriesOrder, b: &SeriesOrder) -> std::cmp::Ordering {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.0.total_cmp(&y.0).then_with(|| x.1.cmp(&y.1)))
        .find(|o| o.is_ne())
        .unwrap_or(std::cmp::Ordering::Equal)
}

fn label(row: &BTreeMap<String, String>, axes: &[String]) -> String {
    let mut parts = vec![row.get("workload").cloned().unwrap_or_default()];
    parts.extend(
        axes.iter()
            .map(|a| format!("{a}={}", row.get(a).map_or("", String::as_str))),
    );
    parts.join(" ")
}

/// Draws the Pareto fronts and, for `metric`, one line plot per numeric axis that takes more
/// than one value (one series per combination of the other such axes and the workload).
/// Returns the written files.
pub fn plot_dir(dir: &Path, metric: &str, out: &Path) -> Result<Vec<PathBuf>, SweepError> {
    let (manifest, rows) = ok_rows(dir)?;
    if rows.is_empty() {
        return Err(SweepError::Usage(format!(
            "{}: no point with status ok to plot",
            dir.display()
        )));
    }
    if !manifest.columns.iter().any(|c| c == metric) {
        return Err(SweepError::Usage(format!(
            "no metric column `{metric}`; columns: {}",
            manifest.columns.join(", ")
        )));
    }
    std::fs::create_dir_all(out).map_err(|e| SweepError::io(out, e))?;
    // An axis with one value is a setting, not a sweep: no figure against it, and no name in
    // the series labels (a one-point line says nothing).
    let axes: Vec<String> = axis_columns(&manifest)
        .into_iter()
        .filter(|a| {
            let mut values = rows.iter().map(|r| r.get(a));
            let first = values.next().flatten();
            values.any(|v| v != first)
        })
        .collect();
    let draw = |e: plot::PlotError| SweepError::Usage(e.to_string());
    let mut files = Vec::new();
    let mut push = |w: plot::Written| {
        files.push(w.svg);
        files.push(w.png);
    };
    let fronts = [
        ("pareto_energy", "energy_j", Goal::Minimize),
        ("pareto_area", "effective_gops_per_mm2", Goal::Maximize),
    ];
    let x = "effective_gops";
    for (stem, y, y_goal) in fronts {
        let raw: Vec<(String, f64, f64)> = rows
            .iter()
            .filter_map(|r| Some((label(r, &axes), number(r, x)?, number(r, y)?)))
            .collect();
        if raw.is_empty() {
            continue;
        }
        let ys: Vec<f64> = raw.iter().map(|p| p.2).collect();
        let (y_label, k) = column_axis(y, &ys);
        let points = raw
            .into_iter()
            .map(|(label, x, y)| ScatterPoint { label, x, y: y * k })
            .collect();
        push(
            plot::pareto_scatter(
                &out.join(stem),
                &ParetoScatter {
                    frame: Frame::new(
                        &format!("{}: Pareto front", manifest.name),
                        &column_axis(x, &[]).0,
                        &y_label,
                    ),
                    points,
                    x_goal: Goal::Maximize,
                    y_goal,
                    log_x: false,
                    log_y: false,
                },
            )
            .map_err(draw)?,
        );
    }
    for axis in &axes {
        if rows.iter().any(|r| number(r, axis).is_none()) {
            continue;
        }
        // One series per combination of the other axes, leaving out those that move with
        // this one (a `[zip]` group): they add no combination, only a second name.
        let others: Vec<String> = axes
            .iter()
            .filter(|a| *a != axis && !moves_with(&rows, axis, a))
            .cloned()
            .collect();
        let mut series: BTreeMap<String, (SeriesOrder, Vec<(f64, f64)>)> = BTreeMap::new();
        for r in &rows {
            if let (Some(x), Some(y)) = (number(r, axis), number(r, metric)) {
                series
                    .entry(label(r, &others))
                    .or_insert_with(|| (series_order(r, &others), Vec::new()))
                    .1
                    .push((x, y));
            }
        }
        let ys: Vec<f64> = series.values().flat_map(|s| &s.1).map(|p| p.1).collect();
        let (y_label, k) = column_axis(metric, &ys);
        let mut series: Vec<_> = series.into_iter().collect();
        series.sort_by(|a, b| compare_order(&a.1.0, &b.1.0));
        let curves = series
            .into_iter()
            .map(|(name, (_, mut points))| {
                points.sort_by(|a, b| a.0.total_cmp(&b.0));
                for p in &mut points {
                    p.1 *= k;
                }
                Curve { name, points }
            })
            .collect();
        let stem = format!("{metric}_vs_{}", axis.replace('.', "_"));
        let xs: Vec<f64> = rows.iter().filter_map(|r| number(r, axis)).collect();
        let mut figure = LinePlot::new(
            Frame::new(
                &format!("{}: {metric} against {axis}", manifest.name),
                axis,
                &y_label,
            ),
            curves,
        );
        figure.log_x = spans_decades(&xs);
        push(plot::line_plot(&out.join(stem), &figure).map_err(draw)?);
    }
    Ok(files)
}

/// Whether axis values are all positive and span 16x or more (a sweep over sizes, often in
/// powers of two): a log axis spaces them evenly instead of crowding the small ones.
fn spans_decades(xs: &[f64]) -> bool {
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(0.0, f64::max);
    lo > 0.0 && hi >= 16.0 * lo
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(points: &[(&str, &str, &str)]) -> Vec<BTreeMap<String, String>> {
        points
            .iter()
            .map(|(a, b, c)| {
                [("a", a), ("b", b), ("c", c)]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn zipped_axes_move_together_and_product_axes_do_not() {
        // a and b zipped (one to one); c a product axis over them.
        let r = rows(&[
            ("1", "10", "x"),
            ("2", "20", "x"),
            ("1", "10", "y"),
            ("2", "20", "y"),
        ]);
        assert!(moves_with(&r, "a", "b") && moves_with(&r, "b", "a"));
        assert!(!moves_with(&r, "a", "c") && !moves_with(&r, "c", "b"));
        // A function that is not one to one (b repeats) is not a zip.
        let r = rows(&[("1", "10", "x"), ("2", "10", "x")]);
        assert!(!moves_with(&r, "a", "b"));
    }

    #[test]
    fn series_are_ordered_by_value_not_by_text() {
        let r = rows(&[("16", "2", "x"), ("2", "16", "x"), ("4", "2", "x")]);
        let axes = ["a".to_string(), "b".to_string()];
        let mut keys: Vec<_> = r.iter().map(|row| series_order(row, &axes)).collect();
        keys.sort_by(compare_order);
        let a: Vec<&str> = keys.iter().map(|k| k[1].1.as_str()).collect();
        assert_eq!(a, ["2", "4", "16"]);
    }

    #[test]
    fn size_axes_spanning_16x_or_more_are_drawn_on_a_log_scale() {
        assert!(spans_decades(&[8192.0, 16384.0, 131072.0]));
        assert!(spans_decades(&[1.0, 16.0]));
        assert!(!spans_decades(&[1.0, 15.9]));
        assert!(!spans_decades(&[1024.0, 2048.0, 4096.0, 8160.0]));
        assert!(!spans_decades(&[0.0, 100.0]));
        assert!(!spans_decades(&[-4.0, 100.0]));
        assert!(!spans_decades(&[]));
    }
}
