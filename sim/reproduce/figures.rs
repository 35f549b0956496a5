//! The reproduction's figures (SVG + PNG through [`crate::report::plot`]).

use std::path::Path;

use super::accel::{AccelRow, PublishedRow};
use super::accuracy::AccuracyRow;
use super::bench::{BenchRow, DEVICES, GeomeanRow};
use super::design::DesignRow;
use crate::report::plot::{
    self, Curve, Frame, GroupedBars, LinePlot, Series, StackedBars, Written,
};

fn wide(title: &str, x: &str, y: &str) -> Frame {
    let mut f = Frame::new(title, x, y);
    f.size = (1800, 700);
    f
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
    let series = |fs: &[fn(&BenchRow) -> f64; 4], gm: &[f64; 4]| -> Vec<Series> {
        DEVICES
            .iter()
            .enumerate()
            .map(|(i, (_, label))| {
                let mut values: Vec<f64> = rows.iter().map(fs[i]).collect();
                values.push(gm[i]);
                Series {
                    name: label.to_string(),
                    values,
                }
            })
            .collect()
    };
    let a = plot::grouped_bars(
        &dir.join("speedup"),
        &GroupedBars {
            frame: wide(
                "SpAtten speedup over CPUs and GPUs (modelled baselines)",
                "benchmark",
                "speedup (x)",
            ),
            categories: cats.clone(),
            series: series(&speed, &gm_speed),
            log_y: true,
            value_labels: None,
        },
    )?;
    let b = plot::grouped_bars(
        &dir.join("energy_saving"),
        &GroupedBars {
            frame: wide(
                "SpAtten energy saving over CPUs and GPUs (modelled baselines)",
                "benchmark",
                "energy saving (x)",
            ),
            categories: cats,
            series: series(&energy, &gm_energy),
            log_y: true,
            value_labels: None,
        },
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
            values: frac(f),
        })
        .collect();
    Ok(plot::stacked_bars(
        &dir.join("dram_reduction"),
        &StackedBars {
            frame: wide(
                "K/V DRAM volume by technique (fraction of the dense 12-bit volume)",
                "benchmark",
                "fraction of dense K/V bytes",
            ),
            categories: cats,
            components,
        },
    )?)
}

pub fn throughput(dir: &Path, rows: &[BenchRow]) -> anyhow::Result<Written> {
    Ok(plot::grouped_bars(
        &dir.join("throughput"),
        &GroupedBars {
            frame: wide(
                "SpAtten achieved throughput (dense-attention operations per second)",
                "benchmark",
                "effective GOP/s",
            ),
            categories: rows.iter().map(|r| r.benchmark.clone()).collect(),
            series: vec![Series {
                name: "spatten".into(),
                values: rows.iter().map(|r| r.effective_gops).collect(),
            }],
            log_y: false,
            value_labels: None,
        },
    )?)
}

pub fn accelerators(
    dir: &Path,
    ours: &AccelRow,
    published: &[PublishedRow],
) -> anyhow::Result<Vec<Written>> {
    let mut series = vec![Series {
        name: "spatten-1-8 (geomean, simulated)".into(),
        values: vec![ours.effective_gops, ours.gop_per_j],
    }];
    for p in published {
        series.push(Series {
            name: format!("{} (published)", p.device),
            values: vec![p.effective_gops, p.gop_per_j],
        });
    }
    let a = plot::grouped_bars(
        &dir.join("accelerators"),
        &GroupedBars {
            frame: Frame::new("spatten-1-8 against A3 and MNNFast", "metric", "value"),
            categories: vec![
                "throughput (GOP/s)".into(),
                "energy efficiency (GOP/J)".into(),
            ],
            series,
            log_y: false,
            value_labels: Some(String::new()),
        },
    )?;
    let mut cats = vec!["spatten-1-8".to_string()];
    let mut vals = vec![ours.gops_per_mm2];
    for p in published {
        if let Some(v) = p.gops_per_mm2 {
            cats.push(p.device.clone());
            vals.push(v);
        }
    }
    let b = plot::grouped_bars(
        &dir.join("accelerators_area"),
        &GroupedBars {
            frame: Frame::new(
                "Area efficiency (MNNFast publishes no area)",
                "design",
                "GOP/s per mm2",
            ),
            categories: cats,
            series: vec![Series {
                name: "GOP/s/mm2".into(),
                values: vals,
            }],
            log_y: false,
            value_labels: Some(String::new()),
        },
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
    Ok(plot::line_plot(
        &dir.join(stem),
        &LinePlot {
            frame: Frame::new(title, x_label, "effective GOP/s"),
            series,
            log_x: true,
            log_y: false,
        },
    )?)
}

/// Cumulative speedup of each breakdown step over the first.
pub fn breakdown(dir: &Path, rows: &[DesignRow], cumulative: &[f64]) -> anyhow::Result<Written> {
    Ok(plot::grouped_bars(
        &dir.join("breakdown"),
        &GroupedBars {
            frame: Frame::new(
                "Speedup built up step by step (GPT-2-small)",
                "step",
                "speedup over the specialized datapath (x)",
            ),
            categories: rows.iter().map(|r| r.label.clone()).collect(),
            series: vec![Series {
                name: "cumulative speedup".into(),
                values: cumulative.to_vec(),
            }],
            log_y: false,
            value_labels: Some("x".into()),
        },
    )?)
}

pub fn accuracy(dir: &Path, rows: &[AccuracyRow]) -> anyhow::Result<Written> {
    let studies = super::first_seen(rows.iter().map(|r| r.study.clone()));
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
    Ok(plot::line_plot(
        &dir.join("accuracy"),
        &LinePlot {
            frame: Frame::new(
                "STS-B dev accuracy against pruning ratio (MiniLM-L6)",
                "average pruning ratio",
                "Spearman",
            ),
            series,
            log_x: false,
            log_y: false,
        },
    )?)
}
