//! Item 3: design-space studies, each a set of design-point or workload variants run through
//! the same pipeline as the benchmarks.
//!
//! - Top-k comparator parallelism: both top-k engines with 1, 2, 4, 8, 16, 32 comparators per
//!   array, on GPT-2-small (generation calls the local-V top-k once per head and iteration).
//! - Key/value SRAM size: both SRAMs together; a size whose bank cannot hold one head's K/V
//!   is reported as not feasible (the simulator does not model tiling with refetch).
//! - The speedup built up step by step on GPT-2-small, each step relative to the previous one:
//!   (1) specialized datapath: the dense trace (every token and head, K/V at 12 bits);
//!   (2) + cascade token pruning and (3) + cascade head pruning, both with top-k done by a
//!   1-comparator engine (a serial selection, what a datapath without the parallel top-k
//!   engine would have); (4) + top-k engine: the preset's 16 comparators per array;
//!   (5) + local V pruning (it calls the top-k engine once per head and generated token, so
//!   it comes after the engine); (6) + static quantization: K/V fetched as 8-bit MSBs, never
//!   refined; (7) + progressive quantization: 8-bit MSBs plus a 4-bit LSB refetch for flat
//!   rows (threshold 0.1), slower than step 6 by the refetches, which buy back accuracy.
//!   Steps 1-5 keep K/V at the 12-bit on-chip width.

use serde::Serialize;

use super::runner::{Outcome, Point, TraceKind};
use crate::config::workload::QuantMode;
use crate::config::{ArchConfig, WorkloadConfig};

pub const COMPARATORS: [u32; 6] = [1, 2, 4, 8, 16, 32];
/// Key and value SRAM sizes (each, both buffers), KiB.
pub const SRAM_KIB: [u64; 6] = [24, 48, 96, 192, 384, 768];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesignRow {
    pub study: String,
    pub workload: String,
    pub label: String,
    /// The swept value (comparators, KiB, or the step number).
    pub x: f64,
    pub feasible: bool,
    pub cycles: Option<u64>,
    pub effective_gops: Option<f64>,
    pub dram_bytes: Option<u64>,
    pub lsb_refetch_fraction: Option<f64>,
    /// Over the previous row of the same study and workload (breakdown), or over the first
    /// row (sweeps).
    pub speedup: Option<f64>,
    /// Why a point is not feasible.
    pub note: String,
}

/// A labelled variant of a study.
#[derive(Debug, Clone)]
pub struct Variant {
    pub study: &'static str,
    pub label: String,
    pub x: f64,
    pub point: Point,
}

fn with_comparators(arch: &ArchConfig, n: u32) -> ArchConfig {
    let mut a = arch.clone();
    a.topk_token.comparators = n;
    a.topk_value.comparators = n;
    a.name = format!("{}-topk{n}", arch.name);
    a
}

pub fn topk_variants(arch: &ArchConfig, w: &WorkloadConfig) -> Vec<Variant> {
    COMPARATORS
        .iter()
        .map(|&n| Variant {
            study: "topk_parallelism",
            label: format!("{n} comparators"),
            x: n as f64,
            point: Point {
                arch: with_comparators(arch, n),
                workload: w.clone(),
                kind: TraceKind::Reference,
                split_stages: false,
            },
        })
        .collect()
}

pub fn sram_variants(arch: &ArchConfig, workloads: &[WorkloadConfig]) -> Vec<Variant> {
    let mut v = Vec::new();
    for w in workloads {
        for &kib in &SRAM_KIB {
            let mut a = arch.clone();
            a.qk.key_sram_bytes = kib * 1024;
            a.pv.value_sram_bytes = kib * 1024;
            a.name = format!("{}-sram{kib}k", arch.name);
            v.push(Variant {
                study: "sram_size",
                label: format!("{kib} KiB"),
                x: kib as f64,
                point: Point {
                    arch: a,
                    workload: w.clone(),
                    kind: TraceKind::Reference,
                    split_stages: false,
                },
            });
        }
    }
    v
}

pub fn breakdown_variants(arch: &ArchConfig, w: &WorkloadConfig) -> Vec<Variant> {
    let serial = with_comparators(arch, 1);
    let mut full12 = w.clone();
    full12.quant.mode = QuantMode::Static;
    full12.quant.msb_bits = 12;
    full12.quant.lsb_bits = 0;
    let mut token = full12.clone();
    token.head_pruning.average_ratio = 0.0;
    token.head_pruning.ramp = 0.0;
    token.local_v.keep_ratio = 1.0;
    let mut head = full12.clone();
    head.local_v.keep_ratio = 1.0;
    let local_v = full12.clone();
    let mut static8 = w.clone();
    static8.quant.mode = QuantMode::Static;
    static8.quant.msb_bits = 8;
    let steps: Vec<(&str, &ArchConfig, WorkloadConfig, TraceKind)> = vec![
        (
            "specialized datapath",
            &serial,
            full12.clone(),
            TraceKind::Dense,
        ),
        ("+ token pruning", &serial, token, TraceKind::Reference),
        (
            "+ head pruning",
            &serial,
            head.clone(),
            TraceKind::Reference,
        ),
        ("+ top-k engine", arch, head, TraceKind::Reference),
        ("+ local V pruning", arch, local_v, TraceKind::Reference),
        ("+ static quantization", arch, static8, TraceKind::Reference),
        (
            "+ progressive quantization",
            arch,
            w.clone(),
            TraceKind::Reference,
        ),
    ];
    steps
        .into_iter()
        .enumerate()
        .map(|(i, (label, a, mut wl, kind))| {
            wl.name = format!("{}-step{}", w.name, i + 1);
            Variant {
                study: "breakdown",
                label: label.to_string(),
                x: (i + 1) as f64,
                point: Point {
                    arch: a.clone(),
                    workload: wl,
                    kind,
                    split_stages: false,
                },
            }
        })
        .collect()
}

pub fn rows(variants: &[Variant], outcomes: &[Outcome]) -> Vec<DesignRow> {
    let mut rows: Vec<DesignRow> = Vec::with_capacity(variants.len());
    for (v, o) in variants.iter().zip(outcomes) {
        let (feasible, cycles, gops, dram, lsb, note) = match o {
            Outcome::Done(r) => (
                true,
                Some(r.cycles),
                Some(r.effective_gops),
                Some(r.dram_bytes),
                Some(r.lsb_refetch_fraction),
                String::new(),
            ),
            Outcome::Infeasible(why) => (false, None, None, None, None, why.clone()),
        };
        let workload = v.point.workload.name.clone();
        let same: Vec<&DesignRow> = rows
            .iter()
            .filter(|r| {
                r.study == v.study
                    && r.workload.split("-step").next() == workload.split("-step").next()
            })
            .collect();
        let reference = if v.study == "breakdown" {
            same.last().copied()
        } else {
            same.iter().find(|r| r.feasible).copied()
        };
        let speedup = match (reference.and_then(|r| r.cycles), cycles) {
            (Some(a), Some(b)) if b > 0 => Some(a as f64 / b as f64),
            (None, Some(_)) => Some(1.0),
            _ => None,
        };
        rows.push(DesignRow {
            study: v.study.to_string(),
            workload,
            label: v.label.clone(),
            x: v.x,
            feasible,
            cycles,
            effective_gops: gops,
            dram_bytes: dram,
            lsb_refetch_fraction: lsb,
            speedup,
            note,
        });
    }
    rows
}
