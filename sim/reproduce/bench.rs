//! Item 1: the 30 benchmarks on the `spatten` design point against the CPU/GPU baselines:
//! speedup, energy saving, DRAM access reduction (and its split by technique), throughput.

use serde::Serialize;

use super::benchmarks::Benchmark;
use super::runner::{Outcome, Point, PointResult, TraceKind};
use crate::baseline::{BaselineModel, Precision, load_profile, model_workload_as};
use crate::config::{ArchConfig, WorkloadConfig};

/// The platforms the paper measured, in its order: (profile name, label).
pub const DEVICES: [(&str, &str); 4] = [
    ("titan-xp", "TITAN Xp"),
    ("xeon-e5-2640-v4", "Xeon E5-2640 v4"),
    ("jetson-nano", "Jetson Nano"),
    ("raspberry-pi-4", "Raspberry Pi 4"),
];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchRow {
    pub benchmark: String,
    pub model: String,
    pub prompt_tokens: u32,
    pub generated_tokens: u32,
    pub cycles: u64,
    pub latency_s: f64,
    pub effective_gops: f64,
    pub energy_j: f64,
    /// Average power of the run: on chip, in DRAM, and both (energy / latency).
    pub on_chip_power_w: f64,
    pub dram_power_w: f64,
    pub power_w: f64,
    pub dram_bytes: u64,
    /// K/V volume of the dense attention in fp32, bytes: the paper's reference for its DRAM
    /// reduction and the per-technique split below.
    pub dense_kv_bytes: f64,
    /// K/V volume the pruned, quantized trace fetches (data bits / 8, before rounding to
    /// DRAM transactions).
    pub fetched_kv_bytes: f64,
    /// dense fp32 / fetched.
    pub dram_reduction: f64,
    /// The same against dense K/V at the 12-bit on-chip word (pruning alone plus MSB-first
    /// fetching, without the fp32 -> 12-bit step).
    pub dense_kv_bytes_12bit: f64,
    pub dram_reduction_12bit: f64,
    pub lsb_refetch_fraction: f64,
    pub saved_token_pruning_bytes: f64,
    pub saved_head_pruning_bytes: f64,
    pub saved_local_v_bytes: f64,
    pub saved_quantization_bytes: f64,
    pub speedup_titan_xp: f64,
    pub speedup_xeon: f64,
    pub speedup_jetson_nano: f64,
    pub speedup_raspberry_pi_4: f64,
    pub energy_saving_titan_xp: f64,
    pub energy_saving_xeon: f64,
    pub energy_saving_jetson_nano: f64,
    pub energy_saving_raspberry_pi_4: f64,
    /// The headline devices against the two bounds of the eager baseline (the columns above):
    /// three ideal kernels per layer, and one fused kernel per layer. Energy savings scale by
    /// the same factor (the power is the device's either way).
    pub speedup_titan_xp_ideal_kernels: f64,
    pub speedup_titan_xp_fused: f64,
    pub speedup_xeon_ideal_kernels: f64,
    pub speedup_xeon_fused: f64,
    /// Generation runs only: every column above is the generation stage (as the paper
    /// measures GPT-2); these are the prompt pass, simulated alone, and its speedup over each
    /// device's prompt stage.
    pub prompt_cycles: Option<u64>,
    pub prompt_speedup_titan_xp: Option<f64>,
    pub prompt_speedup_xeon: Option<f64>,
    pub prompt_speedup_jetson_nano: Option<f64>,
    pub prompt_speedup_raspberry_pi_4: Option<f64>,
}

/// Each benchmark's reference trace on `arch`; `split_stages` also simulates a generation
/// run's prompt alone (for the generation-stage speedups).
pub fn points(arch: &ArchConfig, benches: &[Benchmark], split_stages: bool) -> Vec<Point> {
    benches
        .iter()
        .map(|b| Point {
            arch: arch.clone(),
            workload: b.workload.clone(),
            kind: TraceKind::Reference,
            split_stages,
        })
        .collect()
}

/// A device's latency on the benchmark's scored stage (the last one: generation for GPT-2,
/// summarization for BERT) under `model`, over its latency under the default eager model.
pub fn model_ratio(w: &WorkloadConfig, device: &str, model: BaselineModel) -> anyhow::Result<f64> {
    let p = load_profile(device)?;
    let t = |m| -> anyhow::Result<f64> {
        let r = model_workload_as(&p, w, Precision::Fp32, m)?;
        Ok(r.stages.last().map_or(f64::NAN, |s| s.latency_s))
    };
    Ok(t(model)? / t(BaselineModel::Eager)?)
}

/// (speedup, energy saving) against one device.
pub fn versus(r: &PointResult, device: &str) -> anyhow::Result<(f64, f64)> {
    r.comparisons
        .iter()
        .find(|c| c.device == device)
        .map(|c| (c.speedup, c.energy_saving))
        .ok_or_else(|| anyhow::anyhow!("no modelled baseline for device {device}"))
}

pub fn rows(benches: &[Benchmark], outcomes: &[Outcome]) -> anyhow::Result<Vec<BenchRow>> {
    benches
        .iter()
        .zip(outcomes)
        .map(|(b, o)| {
            let r = match o {
                Outcome::Done(r) => r,
                Outcome::Infeasible(why) => {
                    anyhow::bail!(
                        "benchmark {} cannot run on the spatten preset: {why}",
                        b.name
                    )
                }
            };
            let s = r.traffic_fp32.savings();
            let mut prompt_sp: [Option<f64>; 4] = [None; 4];
            if let Some(p) = &r.prompt {
                for (i, (dev, _)) in DEVICES.iter().enumerate() {
                    prompt_sp[i] = p
                        .comparisons
                        .iter()
                        .find(|c| c.device == *dev)
                        .map(|c| c.speedup);
                }
            }
            let mut sp = [0.0; 4];
            let mut es = [0.0; 4];
            for (i, (dev, _)) in DEVICES.iter().enumerate() {
                (sp[i], es[i]) = versus(r, dev)?;
            }
            let bound = |i: usize, m| -> anyhow::Result<f64> {
                Ok(sp[i] * model_ratio(&b.workload, DEVICES[i].0, m)?)
            };
            Ok(BenchRow {
                benchmark: b.name.clone(),
                model: b.model.clone(),
                prompt_tokens: b.workload.stage.prompt_tokens,
                generated_tokens: b.workload.stage.generated_tokens,
                cycles: r.cycles,
                latency_s: r.seconds,
                effective_gops: r.effective_gops,
                energy_j: r.energy_j,
                on_chip_power_w: r.on_chip_j / r.seconds,
                dram_power_w: r.dram_j / r.seconds,
                power_w: r.energy_j / r.seconds,
                dram_bytes: r.dram_bytes,
                dense_kv_bytes: r.traffic_fp32.dense_bits / 8.0,
                fetched_kv_bytes: r.traffic_fp32.after_quantization_bits / 8.0,
                dram_reduction: r.traffic_fp32.reduction(),
                dense_kv_bytes_12bit: r.traffic.dense_bits / 8.0,
                dram_reduction_12bit: r.traffic.reduction(),
                lsb_refetch_fraction: r.lsb_refetch_fraction,
                saved_token_pruning_bytes: s[0].1 / 8.0,
                saved_head_pruning_bytes: s[1].1 / 8.0,
                saved_local_v_bytes: s[2].1 / 8.0,
                saved_quantization_bytes: s[3].1 / 8.0,
                speedup_titan_xp: sp[0],
                speedup_xeon: sp[1],
                speedup_jetson_nano: sp[2],
                speedup_raspberry_pi_4: sp[3],
                energy_saving_titan_xp: es[0],
                energy_saving_xeon: es[1],
                energy_saving_jetson_nano: es[2],
                energy_saving_raspberry_pi_4: es[3],
                speedup_titan_xp_ideal_kernels: bound(0, BaselineModel::IdealKernels)?,
                speedup_titan_xp_fused: bound(0, BaselineModel::Fused)?,
                speedup_xeon_ideal_kernels: bound(1, BaselineModel::IdealKernels)?,
                speedup_xeon_fused: bound(1, BaselineModel::Fused)?,
                prompt_cycles: r.prompt.as_ref().map(|p| p.cycles),
                prompt_speedup_titan_xp: prompt_sp[0],
                prompt_speedup_xeon: prompt_sp[1],
                prompt_speedup_jetson_nano: prompt_sp[2],
                prompt_speedup_raspberry_pi_4: prompt_sp[3],
            })
        })
        .collect()
}

/// Geometric mean; `None` for an empty list or a non-positive value.
pub fn geomean(v: &[f64]) -> Option<f64> {
    if v.is_empty() || v.iter().any(|x| x.is_nan() || *x <= 0.0 || !x.is_finite()) {
        return None;
    }
    Some((v.iter().map(|x| x.ln()).sum::<f64>() / v.len() as f64).exp())
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GeomeanRow {
    /// "all", or a model ("BERT-base", ...).
    pub group: String,
    pub benchmarks: usize,
    pub speedup_titan_xp: f64,
    pub speedup_xeon: f64,
    pub speedup_jetson_nano: f64,
    pub speedup_raspberry_pi_4: f64,
    pub energy_saving_titan_xp: f64,
    pub energy_saving_xeon: f64,
    pub energy_saving_jetson_nano: f64,
    pub energy_saving_raspberry_pi_4: f64,
    pub speedup_titan_xp_ideal_kernels: f64,
    pub speedup_titan_xp_fused: f64,
    pub speedup_xeon_ideal_kernels: f64,
    pub speedup_xeon_fused: f64,
    /// Against dense fp32 K/V, as the paper.
    pub dram_reduction: f64,
    /// Against dense K/V at the 12-bit on-chip word.
    pub dram_reduction_12bit: f64,
    pub effective_gops: f64,
    pub on_chip_power_w: f64,
    pub dram_power_w: f64,
    pub power_w: f64,
}

/// Geometric means over all benchmarks, then per model (in first-seen order).
pub fn geomeans(rows: &[BenchRow]) -> Vec<GeomeanRow> {
    let groups = std::iter::once("all".to_string()).chain(rows.iter().map(|r| r.model.clone()));
    super::first_seen(groups)
        .into_iter()
        .filter_map(|g| {
            let sel: Vec<&BenchRow> = rows.iter().filter(|r| g == "all" || r.model == g).collect();
            let gm =
                |f: fn(&BenchRow) -> f64| geomean(&sel.iter().map(|r| f(r)).collect::<Vec<_>>());
            Some(GeomeanRow {
                benchmarks: sel.len(),
                speedup_titan_xp: gm(|r| r.speedup_titan_xp)?,
                speedup_xeon: gm(|r| r.speedup_xeon)?,
                speedup_jetson_nano: gm(|r| r.speedup_jetson_nano)?,
                speedup_raspberry_pi_4: gm(|r| r.speedup_raspberry_pi_4)?,
                energy_saving_titan_xp: gm(|r| r.energy_saving_titan_xp)?,
                energy_saving_xeon: gm(|r| r.energy_saving_xeon)?,
                energy_saving_jetson_nano: gm(|r| r.energy_saving_jetson_nano)?,
                energy_saving_raspberry_pi_4: gm(|r| r.energy_saving_raspberry_pi_4)?,
                speedup_titan_xp_ideal_kernels: gm(|r| r.speedup_titan_xp_ideal_kernels)?,
                speedup_titan_xp_fused: gm(|r| r.speedup_titan_xp_fused)?,
                speedup_xeon_ideal_kernels: gm(|r| r.speedup_xeon_ideal_kernels)?,
                speedup_xeon_fused: gm(|r| r.speedup_xeon_fused)?,
                dram_reduction: gm(|r| r.dram_reduction)?,
                dram_reduction_12bit: gm(|r| r.dram_reduction_12bit)?,
                effective_gops: gm(|r| r.effective_gops)?,
                on_chip_power_w: gm(|r| r.on_chip_power_w)?,
                dram_power_w: gm(|r| r.dram_power_w)?,
                power_w: gm(|r| r.power_w)?,
                group: g,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geomean_by_hand() {
        assert!((geomean(&[2.0, 8.0]).unwrap() - 4.0).abs() < 1e-12);
        assert!((geomean(&[10.0, 100.0, 1000.0]).unwrap() - 100.0).abs() < 1e-9);
        assert_eq!(geomean(&[]), None);
        assert_eq!(geomean(&[1.0, 0.0]), None);
        assert_eq!(geomean(&[1.0, f64::NAN]), None);
    }
}
