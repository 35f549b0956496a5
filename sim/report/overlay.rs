//! Figures drawn again from saved reports: one or more `spatten run` directories (design
//! points, workloads) overlaid in the same charts. Only numbers in their stats.json and
//! baselines.csv are used.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::plot::{self, Frame, GroupedBars, Panels, Series, StackedBars};
use super::run_report;

/// The parts of a report that the overlay figures read.
#[derive(Debug, Clone, Deserialize)]
pub struct SavedRun {
    pub name: String,
    pub gops: f64,
    pub effective_gops: f64,
    pub seconds: f64,
    pub area_mm2: f64,
    pub energy: SavedEnergy,
    pub dram: SavedDram,
    #[serde(skip)]
    pub baselines: Vec<SavedComparison>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SavedEnergy {
    pub total_j: f64,
    pub dram_j: f64,
    pub modules: Vec<SavedModuleEnergy>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SavedModuleEnergy {
    pub module: String,
    pub dynamic_j: f64,
    pub static_j: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SavedDram {
    pub bytes_by_tensor: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SavedComparison {
    pub device: String,
    pub provenance: String,
    pub speedup: f64,
    pub energy_saving: f64,
}

/// Reads `stats.json` and `baselines.csv` of a report directory.
pub fn read_run(dir: &Path) -> anyhow::Result<SavedRun> {
    let path = dir.join("stats.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        anyhow::anyhow!("{}: {e} (is this a `spatten run` report?)", path.display())
    })?;
    let mut run: SavedRun = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: not a spatten report's stats: {e}", path.display()))?;
    let path = dir.join("baselines.csv");
    let mut reader =
        csv::Reader::from_path(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    for row in reader.deserialize() {
        run.baselines
            .push(row.map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?);
    }
    check_ranges(&run, dir)?;
    Ok(run)
}

/// Refuses numbers no simulated run produces (infinite, negative, zero energy, absurd
/// magnitudes), before any figure is drawn: plotting them would mean a meaningless chart or
/// an axis of astronomic extent.
fn check_ranges(run: &SavedRun, dir: &Path) -> anyhow::Result<()> {
    let stats = dir.join("stats.json");
    let check = |file: &Path, key: &str, v: f64, lo: f64, hi: f64, unit: &str| {
        if v.is_finite() && v >= lo && v <= hi {
            Ok(())
        } else {
            Err(anyhow::anyhow!(
                "{}: `{key}` = {v:e} is outside [{lo:e}, {hi:e}] {unit}; a spatten run never \
                 reports that, so it is not plotted",
                file.display()
            ))
        }
    };
    check(&stats, "gops", run.gops, 0.0, 1e9, "GOP/s")?;
    check(
        &stats,
        "effective_gops",
        run.effective_gops,
        0.0,
        1e9,
        "GOP/s",
    )?;
    check(&stats, "seconds", run.seconds, 1e-12, 1e6, "s")?;
    check(&stats, "area_mm2", run.area_mm2, 1e-6, 1e6, "mm2")?;
    let e = &run.energy;
    check(&stats, "energy.total_j", e.total_j, 1e-15, 1e6, "J")?;
    check(&stats, "energy.dram_j", e.dram_j, 0.0, e.total_j, "J")?;
    for m in &e.modules {
        check(
            &stats,
            "energy.modules.dynamic_j",
            m.dynamic_j,
            0.0,
            e.total_j,
            "J",
        )?;
        check(
            &stats,
            "energy.modules.static_j",
            m.static_j,
            0.0,
            e.total_j,
            "J",
        )?;
    }
    let baselines = dir.join("baselines.csv");
    for b in &run.baselines {
        check(&baselines, "speedup", b.speedup, 1e-9, 1e9, "x")?;
        check(&baselines, "energy_saving", b.energy_saving, 1e-9, 1e9, "x")?;
    }
    Ok(())
}

/// Keeps, in every run, only the baselines all runs compare against (in the first run's
/// order), so the speedup figures hold a bar for every run and device. Returns the devices
/// dropped; refuses, before anything is drawn, when no baseline is shared.
pub fn keep_shared_baselines(runs: &mut [SavedRun]) -> anyhow::Result<Vec<String>> {
    let Some(first) = runs.first() else {
        return Ok(Vec::new());
    };
    let all: Vec<String> = crate::reproduce::first_seen(
        runs.iter()
            .flat_map(|r| r.baselines.iter().map(|b| b.device.clone())),
    );
    let shared: Vec<String> = first
        .baselines
        .iter()
        .map(|b| b.device.clone())
        .filter(|d| {
            runs.iter()
                .all(|r| r.baselines.iter().any(|b| &b.device == d))
        })
        .collect();
    if shared.is_empty() {
        anyhow::bail!(
            "the reports share no baseline ({}), so there is no speedup to compare; give \
             reports run with the same baselines",
            runs.iter()
                .map(|r| format!(
                    "{}: {}",
                    r.name,
                    if r.baselines.is_empty() {
                        "none".to_string()
                    } else {
                        r.baselines
                            .iter()
                            .map(|b| b.device.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    for r in runs.iter_mut() {
        r.baselines.retain(|b| shared.contains(&b.device));
    }
    Ok(all.into_iter().filter(|d| !shared.contains(d)).collect())
}

/// Draws the overlay figures of `runs` into `out`; returns the files written.
pub fn draw(runs: &[SavedRun], out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out)?;
    let names: Vec<String> = runs.iter().map(|r| r.name.clone()).collect();
    let mut written = Vec::new();
    let mut keep = |w: plot::Written| {
        written.push(w.svg);
        written.push(w.png);
    };
    keep(plot::grouped_bars(
        &out.join("throughput"),
        &GroupedBars::new(
            Frame::new("Throughput", "run", "throughput (GOP/s)"),
            names.clone(),
            vec![
                Series {
                    name: "executed".into(),
                    values: runs.iter().map(|r| r.gops).collect(),
                },
                Series {
                    name: "effective (dense, as the paper counts)".into(),
                    values: runs.iter().map(|r| r.effective_gops).collect(),
                },
            ],
        )
        .labelled(""),
    )?);
    // Two metrics with different units: one panel (and axis) each.
    let panel = |heading: &str, axis: &str, values: Vec<f64>| {
        GroupedBars::new(
            Frame::new(heading, "run", axis),
            names.clone(),
            vec![Series {
                name: heading.into(),
                values,
            }],
        )
        .labelled("")
    };
    keep(plot::grouped_panels(
        &out.join("efficiency"),
        &Panels {
            frame: Frame::new("Efficiency (effective, dense operations)", "", "")
                .sized((1100, 560)),
            panels: vec![
                panel(
                    "energy efficiency",
                    "GOP/J",
                    runs.iter()
                        .map(|r| r.effective_gops * r.seconds / r.energy.total_j)
                        .collect(),
                ),
                panel(
                    "area efficiency",
                    "GOP/s per mm²",
                    runs.iter().map(|r| r.effective_gops / r.area_mm2).collect(),
                ),
            ],
        },
    )?);
    let modules: Vec<String> = runs
        .first()
        .map(|r| {
            run_report::pipeline_order(r.energy.modules.iter().map(|m| m.module.as_str()))
                .into_iter()
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let module_j = |r: &SavedRun, m: &str| {
        r.energy
            .modules
            .iter()
            .find(|x| x.module == m)
            .map_or(0.0, |x| x.dynamic_j + x.static_j)
    };
    let largest = runs
        .iter()
        .map(|r| r.energy.total_j.max(r.energy.dram_j))
        .fold(0.0, f64::max);
    let (k, unit) = plot::energy_unit(largest);
    let mut components: Vec<Series> = modules
        .iter()
        .map(|m| Series {
            name: run_report::module_label(m),
            values: runs.iter().map(|r| module_j(r, m) * k).collect(),
        })
        .collect();
    components.push(Series {
        name: "DRAM".into(),
        values: runs.iter().map(|r| r.energy.dram_j * k).collect(),
    });
    keep(plot::stacked_bars(
        &out.join("energy"),
        &StackedBars::new(
            Frame::new("Energy by module", "run", &format!("energy ({unit})")),
            names.clone(),
            components,
        ),
    )?);
    let tensors = ["q", "k_msb", "k_lsb", "v_msb", "v_lsb"];
    keep(plot::stacked_bars(
        &out.join("traffic"),
        &StackedBars::new(
            Frame::new("DRAM traffic by tensor", "run", "data (MB)"),
            names.clone(),
            tensors
                .iter()
                .map(|t| Series {
                    name: t.replace('_', " ").to_uppercase(),
                    values: runs
                        .iter()
                        .map(|r| *r.dram.bytes_by_tensor.get(*t).unwrap_or(&0) as f64 / 1e6)
                        .collect(),
                })
                .collect(),
        ),
    )?);
    let devices: Vec<(String, String)> = runs
        .first()
        .map(|r| {
            r.baselines
                .iter()
                .map(|b| (b.device.clone(), b.provenance.clone()))
                .collect()
        })
        .unwrap_or_default();
    let (categories, axis_label) = run_report::baseline_axis(&devices);
    let lookup = |r: &SavedRun, d: &str, f: fn(&SavedComparison) -> f64| {
        r.baselines.iter().find(|b| b.device == d).map_or(0.0, f)
    };
    for (stem, title, axis, field) in [
        (
            "speedup",
            "Speedup over baselines",
            "speedup (x, log scale)",
            (|b: &SavedComparison| b.speedup) as fn(&SavedComparison) -> f64,
        ),
        (
            "energy_saving",
            "Energy saving over baselines",
            "energy saving (x, log scale)",
            |b: &SavedComparison| b.energy_saving,
        ),
    ] {
        keep(plot::grouped_bars(
            &out.join(stem),
            &GroupedBars::new(
                Frame::new(title, &axis_label, axis).sized((1100, 650)),
                categories.clone(),
                runs.iter()
                    .map(|r| Series {
                        name: r.name.clone(),
                        values: devices.iter().map(|d| lookup(r, &d.0, field)).collect(),
                    })
                    .collect(),
            )
            .ratio("1x: same as the baseline"),
        )?);
    }
    Ok(written)
}
