//! Item 2: the scaled-down `spatten-1-8` design point against the A3 and MNNFast accelerators
//! (published figures): throughput, energy efficiency and area efficiency, all counting the
//! dense attention's operations as the paper does.

use serde::Serialize;

use super::bench::{geomean, versus};
use super::benchmarks::Benchmark;
use super::runner::Outcome;
use crate::baseline::load_profile;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccelRow {
    pub benchmark: String,
    pub latency_s: f64,
    pub energy_j: f64,
    pub effective_gops: f64,
    pub gop_per_j: f64,
    pub area_mm2: f64,
    pub gops_per_mm2: f64,
    pub speedup_a3: f64,
    pub energy_saving_a3: f64,
    pub speedup_mnnfast: f64,
    pub energy_saving_mnnfast: f64,
}

/// A3 and MNNFast as published (throughput GOP/s, GOP/J, area mm2 if published).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublishedRow {
    pub device: String,
    pub effective_gops: f64,
    pub gop_per_j: f64,
    pub area_mm2: Option<f64>,
    pub gops_per_mm2: Option<f64>,
}

/// Only the summarization benchmarks: A3 and MNNFast accelerate that stage (and the GPT-2
/// runs at 1/8 of the bandwidth would take most of the reproduction's time).
pub fn selected(benches: &[Benchmark]) -> Vec<Benchmark> {
    benches
        .iter()
        .filter(|b| b.workload.stage.generated_tokens == 0)
        .cloned()
        .collect()
}

pub fn rows(benches: &[Benchmark], outcomes: &[Outcome]) -> anyhow::Result<Vec<AccelRow>> {
    benches
        .iter()
        .zip(outcomes)
        .map(|(b, o)| {
            let r = o
                .done()
                .ok_or_else(|| anyhow::anyhow!("benchmark {} does not fit spatten-1-8", b.name))?;
            let (speedup_a3, energy_saving_a3) = versus(r, "a3")?;
            let (speedup_mnnfast, energy_saving_mnnfast) = versus(r, "mnnfast")?;
            Ok(AccelRow {
                benchmark: b.name.clone(),
                latency_s: r.seconds,
                energy_j: r.energy_j,
                effective_gops: r.effective_gops,
                gop_per_j: r.effective_ops as f64 / r.energy_j / 1e9,
                area_mm2: r.area_mm2,
                gops_per_mm2: r.effective_gops / r.area_mm2,
                speedup_a3,
                energy_saving_a3,
                speedup_mnnfast,
                energy_saving_mnnfast,
            })
        })
        .collect()
}

/// The geometric-mean row of `rows`, labelled "geomean".
pub fn geomean_row(rows: &[AccelRow]) -> Option<AccelRow> {
    let gm = |f: fn(&AccelRow) -> f64| geomean(&rows.iter().map(f).collect::<Vec<_>>());
    Some(AccelRow {
        benchmark: "geomean".into(),
        latency_s: gm(|r| r.latency_s)?,
        energy_j: gm(|r| r.energy_j)?,
        effective_gops: gm(|r| r.effective_gops)?,
        gop_per_j: gm(|r| r.gop_per_j)?,
        area_mm2: gm(|r| r.area_mm2)?,
        gops_per_mm2: gm(|r| r.gops_per_mm2)?,
        speedup_a3: gm(|r| r.speedup_a3)?,
        energy_saving_a3: gm(|r| r.energy_saving_a3)?,
        speedup_mnnfast: gm(|r| r.speedup_mnnfast)?,
        energy_saving_mnnfast: gm(|r| r.energy_saving_mnnfast)?,
    })
}

pub fn published() -> anyhow::Result<Vec<PublishedRow>> {
    ["a3", "mnnfast"]
        .iter()
        .map(|name| {
            let p = load_profile(name)?;
            let pb = p
                .published
                .as_ref()
                .ok_or_else(|| anyhow::anyhow!("profile {name} has no [published] figures"))?;
            let area = pb.area_mm2.as_ref().map(|a| a.value);
            Ok(PublishedRow {
                device: name.to_string(),
                effective_gops: pb.throughput_gops.value,
                gop_per_j: pb.energy_efficiency_gops_per_j.value,
                area_mm2: area,
                gops_per_mm2: area.map(|a| pb.throughput_gops.value / a),
            })
        })
        .collect()
}
