//! Runs many (workload, design point) pairs through the experiment pipeline in parallel.
//!
//! Points that replay the same attention trace are grouped so the reference runs once per
//! trace; groups run in parallel (rayon), and each group's design points run in parallel
//! too. Results come back in point order, so the output is the same at any thread count.

use std::collections::BTreeMap;

use indicatif::ProgressBar;
use rayon::prelude::*;

use crate::config::{self, ArchConfig, WorkloadConfig};
use crate::experiment::{self, DramKind};
use crate::hw::{self, SimError};
use crate::report::run_report::{Comparison, comparisons};
use crate::trace::savings::TrafficSteps;
use crate::trace::{self, AttentionTrace, SynthKnobs};

/// Where a point's attention trace comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TraceKind {
    /// Synthetic values run through the bit-exact reference (pruning, quantization).
    Reference,
    /// Every token and head, K/V at the workload's MSB width ([`hw::dense_trace`]).
    Dense,
}

#[derive(Debug, Clone)]
pub struct Point {
    pub arch: ArchConfig,
    pub workload: WorkloadConfig,
    pub kind: TraceKind,
}

/// What a finished point keeps (the trace and full statistics are dropped).
#[derive(Debug, Clone, PartialEq)]
pub struct PointResult {
    pub cycles: u64,
    pub seconds: f64,
    pub effective_gops: f64,
    /// Operations of the dense attention (the paper's throughput count).
    pub effective_ops: u64,
    pub energy_j: f64,
    pub dram_bytes: u64,
    /// Head calls whose LSBs were refetched, over all head calls.
    pub lsb_refetch_fraction: f64,
    pub traffic: TrafficSteps,
    pub area_mm2: f64,
    pub comparisons: Vec<Comparison>,
    /// A change made to the design point to get around a simulator limitation, if any.
    pub workaround: Option<String>,
}

/// A point either runs or is outside what the design point can hold (typed simulator
/// configuration error, e.g. a head's K/V larger than an SRAM bank).
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Done(Box<PointResult>),
    Infeasible(String),
}

impl Outcome {
    pub fn done(&self) -> Option<&PointResult> {
        match self {
            Outcome::Done(r) => Some(r),
            Outcome::Infeasible(_) => None,
        }
    }
}

/// Builds a point's trace.
pub fn build_trace(workload: &WorkloadConfig, kind: TraceKind) -> anyhow::Result<AttentionTrace> {
    Ok(match kind {
        TraceKind::Dense => hw::dense_trace(workload),
        TraceKind::Reference => {
            let values = trace::generate(workload, &SynthKnobs::default(), workload.seed);
            crate::reference::run_workload(&values, workload)?
        }
    })
}

/// The simulator deadlocks when a local-V top-k call keeps more V rows than the probability
/// FIFO in front of ProbxV holds (the engine emits the kept probabilities before it reports
/// the call done, and the V fetch waits for that report). Until the simulator is fixed we
/// deepen `softmax.fifo_depth` (which sizes that FIFO) to the next power of two above the
/// largest kept row, and say so next to the result.
pub fn deadlock_workaround(arch: &ArchConfig, trace: &AttentionTrace) -> Option<ArchConfig> {
    let need = trace
        .head_calls
        .iter()
        .filter(|c| c.value_topk.is_some())
        .map(|c| c.queries as u64 * c.values.len() as u64)
        .max()?;
    if need <= arch.softmax.fifo_depth as u64 {
        return None;
    }
    let mut a = arch.clone();
    a.softmax.fifo_depth = need.next_power_of_two().min(u32::MAX as u64) as u32;
    Some(a)
}

/// Runs one design point on a ready trace.
pub fn run_point(
    arch: &ArchConfig,
    w: &WorkloadConfig,
    trace: &AttentionTrace,
) -> anyhow::Result<Outcome> {
    let (arch_used, workaround) = match deadlock_workaround(arch, trace) {
        Some(a) => {
            let note = format!(
                "softmax.fifo_depth {} -> {} (simulator deadlock workaround)",
                arch.softmax.fifo_depth, a.softmax.fifo_depth
            );
            (a, Some(note))
        }
        None => (arch.clone(), None),
    };
    let name = format!("{}-{}", arch.name, w.name);
    let result = experiment::evaluate(
        &name,
        &arch_used,
        w,
        trace.clone(),
        "reproduce",
        DramKind::Simple,
        false,
        &mut |_| {},
    );
    let r = match result {
        Ok(r) => r,
        Err(e) => {
            if let Some(se) = e.downcast_ref::<SimError>()
                && matches!(se, SimError::Config { .. } | SimError::BadHeadCall { .. })
            {
                return Ok(Outcome::Infeasible(se.to_string()));
            }
            if let Some(ce) = e.downcast_ref::<config::ConfigError>() {
                return Ok(Outcome::Infeasible(ce.to_string()));
            }
            return Err(e.context(format!("design point {} on {}", arch.name, w.name)));
        }
    };
    let traffic = TrafficSteps::of(&r.trace, r.arch.bitwidth_converter.output_bits);
    Ok(Outcome::Done(Box::new(PointResult {
        cycles: r.stats.cycles,
        seconds: r.stats.seconds,
        effective_gops: r.stats.effective_gops,
        effective_ops: r.stats.effective_ops,
        energy_j: r.energy.total_j,
        dram_bytes: r.stats.dram.bytes_read,
        lsb_refetch_fraction: r.stats.lsb_refetches as f64 / r.stats.head_calls.max(1) as f64,
        traffic,
        area_mm2: r.area.total_mm2(),
        comparisons: comparisons(&r),
        workaround,
    })))
}

/// Runs every point (grouped by trace), ticking `bar` once per point; results in point order.
pub fn run_all(points: &[Point], bar: &ProgressBar) -> anyhow::Result<Vec<Outcome>> {
    let mut groups: BTreeMap<(String, TraceKind), Vec<usize>> = BTreeMap::new();
    for (i, p) in points.iter().enumerate() {
        groups
            .entry((config::config_hash(&p.workload), p.kind))
            .or_default()
            .push(i);
    }
    // Largest traces first, so the long GPT-2 runs do not start last.
    let mut order: Vec<Vec<usize>> = groups.into_values().collect();
    order.sort_by_key(|ix| {
        let w = &points[ix[0]].workload;
        std::cmp::Reverse(
            w.model.layers as u64 * w.model.heads as u64 * (w.final_tokens() as u64).pow(2),
        )
    });
    let per_group: Vec<Vec<(usize, Outcome)>> = order
        .par_iter()
        .map(|ix| -> anyhow::Result<Vec<(usize, Outcome)>> {
            let first = &points[ix[0]];
            let trace = build_trace(&first.workload, first.kind)
                .map_err(|e| e.context(format!("building the trace of {}", first.workload.name)))?;
            ix.par_iter()
                .map(|&i| {
                    let p = &points[i];
                    let o = run_point(&p.arch, &p.workload, &trace)?;
                    bar.inc(1);
                    Ok((i, o))
                })
                .collect()
        })
        .collect::<anyhow::Result<_>>()?;
    let mut out: Vec<Option<Outcome>> = vec![None; points.len()];
    for (i, o) in per_group.into_iter().flatten() {
        out[i] = Some(o);
    }
    Ok(out
        .into_iter()
        .map(|o| o.expect("every point runs once"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load_arch, load_workload};

    #[test]
    fn workaround_deepens_the_fifo_only_past_its_capacity() {
        let arch = load_arch("spatten").unwrap();
        let mut w = load_workload("gpt2-small").unwrap();
        w.model.layers = 2;
        w.stage.prompt_tokens = 64;
        w.stage.generated_tokens = 2;
        let small = build_trace(&w, TraceKind::Reference).unwrap();
        // 66 keys at most, 30 % kept: well under the 128-deep FIFO.
        assert_eq!(deadlock_workaround(&arch, &small), None);
        let mut t = small.clone();
        let c = t
            .head_calls
            .iter_mut()
            .find(|c| c.value_topk.is_some())
            .unwrap();
        c.values = (0..300).collect();
        let a = deadlock_workaround(&arch, &t).unwrap();
        assert_eq!(a.softmax.fifo_depth, 512);
        assert_eq!(deadlock_workaround(&arch, &hw::dense_trace(&w)), None);
    }
}
