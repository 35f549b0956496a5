//! The reproduction's figures (SVG + PNG through [`crate::report::plot`]).

use std::path::Path;

use super::accel::{AccelRow, PublishedRow};
use super::accuracy::AccuracyRow;
use super::bench::{BenchRow, DEVICES, GeomeanRow};
use super::design::DesignRow;
use crate::report::plot::{
    self, Curve, Frame, GroupedBars, LinePlot, Panels, Reference, Series, StackedBars, Written,
};

fn wide(title: &str, x: &str, y: &str) -> Frame {
    Frame::new(title, x, y).sized(plot::WIDE_SIZE)
}

/// Speedup and energy saving per benchmark and device (log axis), with the geomean.
pub fn versus_devices(
    dir: &Path,
    rows: &[BenchRow],
    all: &GeomeanRow,
) -> anyhow::Result<Vec<Written>> {
    let mut cats: Vec<String> = rows.iter().map(|r| r.benchmark.clone()).collect();
    cats.push("geomean".into());
    let speed: [fn(&BenchRow) -> f64; 4] = [
        |r| r.speedup_titan_xp,
        |r| r.speedup_xeon,
        |r| r.speedup_jetson_nano,
        |r| r.speedup_raspberry_pi_4,
    ];
    let energy: [fn(&BenchRow) -> f64; 4] = [
        |r| r.energy_saving_titan_xp,
        |r| r.energy_saving_xeon,
        |r| r.energy_saving_jetson_nano,
        |r| r.energy_saving_raspberry_pi_4,
    ];
    let gm_speed = [
        all.speedup_titan_xp,
        all.speedup_xeon,
        all.speedup_jetson_nano,
        all.speedup_raspberry_pi_4,
    ];
    let gm_energy = [
        all.energy_saving_titan_xp,
        all.energy_saving_xeon,
        all.energy_saving_jetson_nano,
        all.energy_saving_raspberry_pi_4,
    ];
    // With many benchmarks the bars are too thin for value labels, so the legend carries
    // each device's geomean and the note points at the table.
    let many = cats.len() > 12;
    let series = |fs: &[fn(&BenchRow) -> f64; 4], gm: &[f64; 4]| -> Vec<Series> {
        DEVICES
            .iter()
            .enumerate()
            .map(|(i, (_, label))| {
                let mut values: Vec<f64> = rows.iter().map(fs[i]).collect();
                values.push(gm[i]);
                let name = if many {
                    format!("{label} (geomean {}x)", plot::format_value(gm[i]))
                } else {
                    label.to_string()
                };
                Series { name, values }
            })
            .collect()
    };
    let modelled = if many {
        "Baselines are modelled (eager PyTorch operators, constants fitted to the paper's measurements), not measured. \
         Per-benchmark values: benchmarks.csv."
    } else {
        "Baselines are modelled (eager PyTorch operators, constants fitted to the paper's measurements), not measured."
    };
    let wide = |title: &str, x: &str, y: &str| {
        let f = wide(title, x, y);
        if many { f.sized((1600, 820)) } else { f }
    };
    let a = plot::grouped_bars(
        &dir.join("speedup"),
        &GroupedBars::new(
            wide(
                "SpAtten speedup over CPUs and GPUs",
                "benchmark",
                "speedup (x, log scale)",
            )
            .with_note(modelled),
            cats.clone(),
            series(&speed, &gm_speed),
        )
        .ratio("1x: as fast as the device"),
    )?;
    let b = plot::grouped_bars(
        &dir.join("energy_saving"),
        &GroupedBars::new(
            wide(
                "SpAtten energy saving over CPUs and GPUs",
                "benchmark",
                "energy saving (x, log scale)",
            )
            .with_note(modelled),
            cats,
            series(&energy, &gm_energy),
        )
        .ratio("1x: same energy as the device"),
    )?;
    Ok(vec![a, b])
}

/// DRAM K/V volume per benchmark as fractions of the dense volume: what is still fetched and
/// what each technique removed.
pub fn dram_split(dir: &Path, rows: &[BenchRow]) -> anyhow::Result<Written> {
    let cats: Vec<String> = rows.iter().map(|r| r.benchmark.clone()).collect();
    let frac = |f: fn(&BenchRow) -> f64| -> Vec<f64> {
        rows.iter()
            .map(|r| (f(r) / r.dense_kv_bytes).max(0.0))
            .collect()
    };
    type Part = (&'static str, fn(&BenchRow) -> f64);
    let parts: [Part; 5] = [
        ("fetched", |r| r.fetched_kv_bytes),
        ("saved: token pruning", |r| r.saved_token_pruning_bytes),
        ("saved: head pruning", |r| r.saved_head_pruning_bytes),
        ("saved: local V pruning", |r| r.saved_local_v_bytes),
        ("saved: progressive quantization", |r| {
            r.saved_quantization_bytes
        }),
    ];
    let components = parts
        .into_iter()
        .map(|(name, f)| Series {
            name: name.into(),
            values: frac(f).into_iter().map(|v| v * 100.0).collect(),
        })
        .collect();
    Ok(plot::stacked_bars(
        &dir.join("dram_reduction"),
        &StackedBars::new(
            wide(
                "K/V DRAM volume by technique",
                "benchmark",
                "share of dense 12-bit K/V bytes (%)",
            ),
            cats,
            components,
        )
        .percent(),
    )?)
}

pub fn throughput(dir: &Path, rows: &[BenchRow]) -> anyhow::Result<Written> {
    Ok(plot::grouped_bars(
        &dir.join("throughput"),
        &GroupedBars::new(
            wide(
                "SpAtten achieved throughput (dense-attention operations per second)",
                "benchmark",
                "effective throughput (GOP/s)",
            ),
            rows.iter().map(|r| r.benchmark.clone()).collect(),
            vec![Series {
                name: "spatten".into(),
                values: rows.iter().map(|r| r.effective_gops).collect(),
            }],
        )
        .labelled(""),
    )?)
}

/// Throughput and energy efficiency against the published accelerators, one panel (and axis)
/// per metric, and area efficiency where the designs publish an area.
pub fn accelerators(
    dir: &Path,
    ours: &AccelRow,
    published: &[PublishedRow],
) -> anyhow::Result<Vec<Written>> {
    let mut designs = vec!["spatten-1-8 (simulated, geomean)".to_string()];
    designs.extend(
        published
            .iter()
            .map(|p| format!("{} (published)", p.device)),
    );
    let panel = |heading: &str, axis: &str, ours: f64, theirs: fn(&PublishedRow) -> f64| {
        let mut values = vec![ours];
        values.extend(published.iter().map(theirs));
        GroupedBars::new(
            Frame::new(heading, "", axis),
            designs.clone(),
            vec![Series {
                name: heading.into(),
                values,
            }],
        )
        .labelled("")
    };
    let a = plot::grouped_panels(
        &dir.join("accelerators"),
        &Panels {
            frame: Frame::new("spatten-1-8 against A3 and MNNFast", "", "").sized((1100, 560)),
            panels: vec![
                panel(
                    "throughput (dense operations)",
                    "GOP/s",
                    ours.effective_gops,
                    |p| p.effective_gops,
                ),
                panel("energy efficiency", "GOP/J", ours.gop_per_j, |p| {
                    p.gop_per_j
                }),
            ],
        },
    )?;
    let mut cats = vec!["spatten-1-8 (simulated)".to_string()];
    let mut vals = vec![ours.gops_per_mm2];
    for p in published {
        if let Some(v) = p.gops_per_mm2 {
            cats.push(format!("{} (published)", p.device));
            vals.push(v);
        }
    }
    let b = plot::grouped_bars(
        &dir.join("accelerators_area"),
        &GroupedBars::new(
            Frame::new(
                "Area efficiency (MNNFast publishes no area)",
                "design",
                "area efficiency (GOP/s per mm²)",
            ),
            cats,
            vec![Series {
                name: "GOP/s/mm2".into(),
                values: vals,
            }],
        )
        .labelled(""),
    )?;
    Ok(vec![a, b])
}

/// One line per workload of a sweep study, feasible points only.
pub fn sweep(
    dir: &Path,
    stem: &str,
    title: &str,
    x_label: &str,
    rows: &[DesignRow],
) -> anyhow::Result<Written> {
    let names = super::first_seen(rows.iter().map(|r| r.workload.clone()));
    let series = names
        .iter()
        .map(|n| Curve {
            name: n.clone(),
            points: rows
                .iter()
                .filter(|r| &r.workload == n)
                .filter_map(|r| r.effective_gops.map(|g| (r.x, g)))
                .collect(),
        })
        .collect();
    let mut fig = LinePlot::new(
        Frame::new(title, x_label, "effective throughput (GOP/s)"),
        series,
    );
    fig.log_x = true;
    Ok(plot::line_plot(&dir.join(stem), &fig)?)
}

/// Why a breakdown step can lower the speedup, from how the simulator models it.
fn slowdown_reason(label: &str) -> Option<&'static str> {
    match label {
        "+ local V pruning" => Some(
            "V rows are requested only once the local-V top-k has picked them, so the V fetch \
             no longer overlaps QxK and softmax",
        ),
        "+ progressive quantization" => {
            Some("rows with a flat softmax refetch their K LSBs and run QxK a second time")
        }
        _ => None,
    }
}

/// Cumulative speedup of each breakdown step over the first; steps that lower it are named
/// under the figure with their factor, DRAM change and the mechanism that costs the time.
pub fn breakdown(dir: &Path, rows: &[DesignRow], cumulative: &[f64]) -> anyhow::Result<Written> {
    let mut slower = Vec::new();
    for (i, r) in rows.iter().enumerate().skip(1) {
        let Some(step) = r.speedup.filter(|s| *s < 1.0) else {
            continue;
        };
        let bytes = match (rows[i - 1].dram_bytes, r.dram_bytes) {
            (Some(a), Some(b)) if a > 0 => {
                format!(" (DRAM bytes {:+.0}%)", (b as f64 / a as f64 - 1.0) * 100.0)
            }
            _ => String::new(),
        };
        let why = slowdown_reason(&r.label).map_or(String::new(), |w| format!(": {w}"));
        slower.push(format!(
            "\"{}\" {}x{bytes}{why}.",
            r.label,
            plot::format_value(step)
        ));
    }
    let mut frame = Frame::new(
        "Speedup built up step by step (GPT-2-small)",
        "step (each adds one technique to the previous)",
        "speedup over the first step (x)",
    )
    .sized((1100, 640));
    if !slower.is_empty() {
        frame = frame.with_note(format!(
            "Steps that lower the speedup (factor over the previous step): {}",
            slower.join(" ")
        ));
    }
    let mut fig = GroupedBars::new(
        frame,
        rows.iter().map(|r| r.label.clone()).collect(),
        vec![Series {
            name: "cumulative speedup".into(),
            values: cumulative.to_vec(),
        }],
    )
    .labelled("x");
    fig.reference = Some(Reference::parity("1x: the specialized datapath"));
    Ok(plot::grouped_bars(&dir.join("breakdown"), &fig)?)
}

/// Spearman against pruning ratio per study; the dense model is a reference line.
pub fn accuracy(dir: &Path, rows: &[AccuracyRow]) -> anyhow::Result<Written> {
    let dense = "dense float";
    let studies = super::first_seen(
        rows.iter()
            .filter(|r| r.study != dense)
            .map(|r| r.study.clone()),
    );
    let series = studies
        .iter()
        .map(|s| {
            let mut points: Vec<(f64, f64)> = rows
                .iter()
                .filter(|r| &r.study == s)
                .map(|r| (r.ratio, r.spearman))
                .collect();
            // Ratio 0 of the token sweep is the same configuration (nothing pruned, same
            // quantization), so the head curve starts there too.
            if s == "head pruning"
                && let Some(z) = rows
                    .iter()
                    .find(|r| r.study == "token pruning" && r.ratio == 0.0)
            {
                points.insert(0, (0.0, z.spearman));
            }
            Curve {
                name: s.clone(),
                points,
            }
        })
        .collect();
    let mut fig = LinePlot::new(
        Frame::new(
            "STS-B dev accuracy against pruning ratio (MiniLM-L6)",
            "average pruning ratio",
            "Spearman correlation",
        ),
        series,
    );
    fig.y_from_zero = false;
    fig.references = rows
        .iter()
        .filter(|r| r.study == dense)
        .map(|r| Reference {
            value: r.spearman,
            label: format!("dense float model ({})", plot::format_value(r.spearman)),
        })
        .collect();
    Ok(plot::line_plot(&dir.join("accuracy"), &fig)?)
}
