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

fn label(row: &BTreeMap<String, String>, axes: &[String]) -> String {
    let mut parts = vec![row.get("workload").cloned().unwrap_or_default()];
    parts.extend(
        axes.iter()
            .map(|a| format!("{a}={}", row.get(a).map_or("", String::as_str))),
    );
    parts.join(" ")
}

/// Draws the Pareto fronts and, for `metric`, one line plot per numeric axis (one series per
/// combination of the other axes and the workload). Returns the written files.
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
    let axes = axis_columns(&manifest);
    let draw = |e: plot::PlotError| SweepError::Usage(e.to_string());
    let mut files = Vec::new();
    let mut push = |w: plot::Written| {
        files.push(w.svg);
        files.push(w.png);
    };
    let fronts = [
        (
            "pareto_energy",
            "effective_gops",
            "energy_j",
            Goal::Minimize,
            "energy per run (J)",
        ),
        (
            "pareto_area",
            "effective_gops",
            "effective_gops_per_mm2",
            Goal::Maximize,
            "throughput per area (GOP/s/mm2)",
        ),
    ];
    for (stem, x, y, y_goal, y_label) in fronts {
        let points: Vec<ScatterPoint> = rows
            .iter()
            .filter_map(|r| {
                Some(ScatterPoint {
                    label: label(r, &axes),
                    x: number(r, x)?,
                    y: number(r, y)?,
                })
            })
            .collect();
        if points.is_empty() {
            continue;
        }
        push(
            plot::pareto_scatter(
                &out.join(stem),
                &ParetoScatter {
                    frame: Frame::new(
                        &format!("{}: Pareto front", manifest.name),
                        "effective throughput (GOP/s)",
                        y_label,
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
        let others: Vec<String> = axes.iter().filter(|a| *a != axis).cloned().collect();
        let mut series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        for r in &rows {
            if let (Some(x), Some(y)) = (number(r, axis), number(r, metric)) {
                series.entry(label(r, &others)).or_default().push((x, y));
            }
        }
        let curves = series
            .into_iter()
            .map(|(name, mut points)| {
                points.sort_by(|a, b| a.0.total_cmp(&b.0));
                Curve { name, points }
            })
            .collect();
        let stem = format!("{metric}_vs_{}", axis.replace('.', "_"));
        push(
            plot::line_plot(
                &out.join(stem),
                &LinePlot {
                    frame: Frame::new(
                        &format!("{}: {metric} vs {axis}", manifest.name),
                        axis,
                        metric,
                    ),
                    series: curves,
                    log_x: false,
                    log_y: false,
                },
            )
            .map_err(draw)?,
        );
    }
    Ok(files)
}
