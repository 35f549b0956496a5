//! Runs many (workload, design point) pairs through the experiment pipeline in parallel.
//!
//! Points that replay the same attention trace are grouped so the reference runs once per
//! trace, and traces made from the same synthetic values (workloads that differ only in
//! pruning or quantization) share one generation of them; these families run in parallel
//! (rayon), and each family's traces and design points run in parallel too. Results come back in point order, so the output is the same at any thread count.
//! Memory: the command-level HBM2 model (`DramKind::Native`, the default of `spatten run`).

use std::collections::BTreeMap;

use indicatif::ProgressBar;
use rayon::prelude::*;

use serde::Serialize;

use super::cache::Cache;
use crate::config::workload::{ModelShape, StageConfig, StageKind};
use crate::config::{self, ArchConfig, WorkloadConfig};
use crate::experiment::{self, DramKind};
use crate::hw::{self, SimError};
use crate::report::run_report::{Comparison, comparisons};
use crate::trace::savings::TrafficSteps;
use crate::trace::{
    self, AttentionTrace, HeadCall, LayerRecord, SynthKnobs, TraceHeader, ValueTensors,
};

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
    /// Also simulate the prompt (iteration 0) alone, to split a generation run by stage.
    pub split_stages: bool,
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
    /// The part of `energy_j` spent on chip (logic, SRAM, leakage) and in DRAM.
    pub on_chip_j: f64,
    pub dram_j: f64,
    pub dram_bytes: u64,
    /// Head calls whose LSBs were refetched, over all head calls.
    pub lsb_refetch_fraction: f64,
    /// K/V volume by technique against dense K/V at the on-chip word width (12 bits).
    pub traffic: TrafficSteps,
    /// The same against dense fp32 K/V, as the paper counts its DRAM reduction.
    pub traffic_fp32: TrafficSteps,
    pub area_mm2: f64,
    pub comparisons: Vec<Comparison>,
    /// The prompt (iteration 0) simulated alone against the baselines' prompt stage, when
    /// asked for and the run generates tokens (the point itself is then the generation stage).
    pub prompt: Option<PromptResult>,
}

/// The prompt pass of a generation point, reported beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptResult {
    pub cycles: u64,
    pub seconds: f64,
    pub comparisons: Vec<Comparison>,
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
            check_reference_budget(workload)?;
            reference_trace(&synthetic_values(workload), workload)?
        }
    })
}

fn check_reference_budget(workload: &WorkloadConfig) -> anyhow::Result<()> {
    Ok(
        crate::budget::reference_estimate(workload)
            .check(&format!("workload {}", workload.name))?,
    )
}

/// The synthetic values of `workload` (default knobs, the workload's seed).
fn synthetic_values(workload: &WorkloadConfig) -> ValueTensors {
    trace::generate(workload, &SynthKnobs::for_workload(workload), workload.seed)
}

/// What the synthetic values of a workload depend on: its shape, token counts and seed, not
/// its pruning or quantization settings. Workloads with one key (the breakdown steps, say)
/// replay the reference on one set of values.
#[derive(Serialize)]
struct ValuesKey<'a> {
    model: &'a ModelShape,
    stage: &'a StageConfig,
    seed: u64,
}

fn values_key(w: &WorkloadConfig) -> String {
    config::config_hash(&ValuesKey {
        model: &w.model,
        stage: &w.stage,
        seed: w.seed,
    })
}

/// The reference trace of `workload` on `values` made for a workload of the same
/// [`values_key`]: the same bytes as generating the values for `workload` itself.
fn reference_trace(
    values: &ValueTensors,
    workload: &WorkloadConfig,
) -> anyhow::Result<AttentionTrace> {
    crate::reference::check_values(values, workload)?;
    Ok(crate::reference::run_workload_views(
        &crate::reference::layer_views(values),
        &trace::synth_source(&workload.name, &SynthKnobs::for_workload(workload)),
        workload,
        crate::trace::ReferenceDesign::default(),
    )?)
}

/// What a cached reference trace depends on besides the build: the whole workload.
fn trace_key(w: &WorkloadConfig) -> String {
    format!(
        "reference trace, synthetic values (default knobs)\n{}",
        config::to_toml(w)
    )
}

/// The traces of groups of points that share one [`values_key`] (or, for dense traces, of one
/// group): the values are made once, only if some trace is not in `cache`, and dropped once
/// every trace is built; traces in parallel.
fn build_family(
    points: &[Point],
    groups: &[Vec<usize>],
    cache: Option<&Cache>,
) -> anyhow::Result<Vec<AttentionTrace>> {
    let first = &points[groups[0][0]];
    let context = |w: &WorkloadConfig| format!("building the trace of {}", w.name);
    match first.kind {
        TraceKind::Dense => Ok(groups
            .iter()
            .map(|ix| hw::dense_trace(&points[ix[0]].workload))
            .collect()),
        TraceKind::Reference => {
            let workloads: Vec<&WorkloadConfig> =
                groups.iter().map(|ix| &points[ix[0]].workload).collect();
            for w in &workloads {
                check_reference_budget(w).map_err(|e| e.context(context(w)))?;
            }
            let cached: Vec<Option<AttentionTrace>> = workloads
                .iter()
                .map(|w| cache.and_then(|c| c.read_trace(&[trace_key(w).as_bytes()])))
                .collect();
            if cached.iter().all(Option::is_some) {
                return Ok(cached.into_iter().flatten().collect());
            }
            let values = synthetic_values(&first.workload);
            workloads
                .par_iter()
                .zip(cached)
                .map(|(w, hit)| {
                    if let Some(t) = hit {
                        return Ok(t);
                    }
                    let t = reference_trace(&values, w).map_err(|e| e.context(context(w)))?;
                    if let Some(c) = cache {
                        c.store_trace(&[trace_key(w).as_bytes()], &t)?;
                    }
                    Ok(t)
                })
                .collect()
        }
    }
}

/// The element width of the paper's dense baseline K/V.
const FP32_BITS: u32 = 32;

/// The prompt summarization (iteration 0) of a generation trace, as a trace of its own.
pub fn prompt_only(trace: &AttentionTrace) -> AttentionTrace {
    let mut header = trace.header.clone();
    header.generated_tokens = 0;
    header.stage = StageKind::Summarization;
    iterations_of(trace, header, |i| i == 0)
}

/// The generation iterations (1 ..) of a generation trace, without the prompt pass: what the
/// paper's GPT-2 benchmarks measure, and what an imported SpAtten CSV trace holds.
pub fn generation_only(trace: &AttentionTrace) -> AttentionTrace {
    iterations_of(trace, trace.header.clone(), |i| i > 0)
}

/// The calls of the iterations `keep` selects, with the top-k calls they use renumbered in
/// execution order.
fn iterations_of(
    trace: &AttentionTrace,
    header: TraceHeader,
    keep: impl Fn(u32) -> bool,
) -> AttentionTrace {
    let mut head_calls: Vec<HeadCall> = trace
        .head_calls
        .iter()
        .filter(|c| keep(c.iteration))
        .cloned()
        .collect();
    let mut layers: Vec<LayerRecord> = trace
        .layers
        .iter()
        .filter(|l| keep(l.iteration))
        .cloned()
        .collect();
    let mut used: Vec<u32> = head_calls
        .iter()
        .filter_map(|c| c.value_topk)
        .chain(
            layers
                .iter()
                .flat_map(|l| l.token_topk.into_iter().chain(l.head_topk)),
        )
        .collect();
    used.sort_unstable();
    used.dedup();
    let renumber = |i: u32| used.binary_search(&i).expect("collected above") as u32;
    for c in &mut head_calls {
        c.value_topk = c.value_topk.map(renumber);
    }
    for l in &mut layers {
        l.token_topk = l.token_topk.map(renumber);
        l.head_topk = l.head_topk.map(renumber);
    }
    AttentionTrace {
        header,
        head_calls,
        layers,
        topk_calls: used
            .iter()
            .map(|&i| trace.topk_calls[i as usize].clone())
            .collect(),
    }
}

/// Evaluates a trace on a design point; `Ok(Err(why))` when the point cannot hold it.
fn evaluate_point(
    name: &str,
    arch: &ArchConfig,
    w: &WorkloadConfig,
    trace: AttentionTrace,
) -> anyhow::Result<Result<experiment::ExperimentResult, String>> {
    match experiment::evaluate(
        name,
        arch,
        w,
        trace,
        "reproduce",
        DramKind::Native,
        false,
        &mut |_| {},
    ) {
        Ok(r) => Ok(Ok(r)),
        Err(e) => {
            if let Some(se) = e.downcast_ref::<SimError>()
                && matches!(se, SimError::Config { .. } | SimError::BadHeadCall { .. })
            {
                return Ok(Err(se.to_string()));
            }
            if let Some(ce) = e.downcast_ref::<config::ConfigError>() {
                return Ok(Err(ce.to_string()));
            }
            Err(e.context(format!("design point {} on {}", arch.name, w.name)))
        }
    }
}

/// Runs one design point on a ready trace.
pub fn run_point(
    arch: &ArchConfig,
    w: &WorkloadConfig,
    trace: &AttentionTrace,
    split_stages: bool,
) -> anyhow::Result<Outcome> {
    let name = format!("{}-{}", arch.name, w.name);
    // A generation run is measured on its generation stage, as the paper measures GPT-2; the
    // prompt is a separate figure.
    let generates = trace.header.generated_tokens > 0;
    let main = if generates {
        generation_only(trace)
    } else {
        trace.clone()
    };
    let r = match evaluate_point(&name, arch, w, main)? {
        Ok(r) => r,
        Err(why) => return Ok(Outcome::Infeasible(why)),
    };
    let traffic = TrafficSteps::of(&r.trace, r.arch.bitwidth_converter.output_bits);
    let traffic_fp32 = TrafficSteps::of(&r.trace, FP32_BITS);
    let prompt = if split_stages && generates {
        match evaluate_point(&format!("{name}-prompt"), arch, w, prompt_only(trace))? {
            Ok(p) => Some(PromptResult {
                cycles: p.stats.cycles,
                seconds: p.stats.seconds,
                comparisons: comparisons(&p),
            }),
            Err(why) => return Ok(Outcome::Infeasible(format!("prompt: {why}"))),
        }
    } else {
        None
    };
    Ok(Outcome::Done(Box::new(PointResult {
        cycles: r.stats.cycles,
        seconds: r.stats.seconds,
        effective_gops: r.stats.effective_gops,
        effective_ops: r.stats.effective_ops,
        energy_j: r.energy.total_j,
        on_chip_j: r.energy.on_chip_j,
        dram_j: r.energy.dram_j,
        dram_bytes: r.stats.dram.bytes_read,
        lsb_refetch_fraction: r.stats.lsb_refetches as f64 / r.stats.head_calls.max(1) as f64,
        traffic,
        traffic_fp32,
        area_mm2: r.area.total_mm2(),
        comparisons: comparisons(&r),
        prompt,
    })))
}

/// What a point simulates, names aside: the design, the workload's settings, the trace kind
/// and whether a prompt pass is simulated apart (only a generating workload has one). Names
/// label reports and traces but change no cycle, byte or joule.
fn simulation_key(p: &Point) -> String {
    let mut arch = p.arch.clone();
    arch.name.clear();
    let mut workload = p.workload.clone();
    workload.name.clear();
    let split = p.split_stages && workload.stage.generated_tokens > 0;
    format!(
        "{}\n{}\n{:?} {split}",
        config::to_toml(&arch),
        config::to_toml(&workload),
        p.kind
    )
}

/// Runs every point, ticking `bar` once per point; results in point order. Points that
/// simulate the same thing under other names (the paper's default design appears in several
/// studies) run once. Points that replay one trace share it, and traces whose values are the
/// same share those ([`build_family`]).
/// With a `cache`, reference traces are read from it when there and stored when made.
pub fn run_all(
    points: &[Point],
    cache: Option<&Cache>,
    bar: &ProgressBar,
) -> anyhow::Result<Vec<Outcome>> {
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let mut distinct: Vec<Point> = Vec::new();
    let mut ticks: Vec<u64> = Vec::new();
    let of: Vec<usize> = points
        .iter()
        .map(|p| {
            let d = *index.entry(simulation_key(p)).or_insert_with(|| {
                distinct.push(p.clone());
                ticks.push(0);
                distinct.len() - 1
            });
            ticks[d] += 1;
            d
        })
        .collect();
    let outcomes = run_distinct(&distinct, &ticks, cache, bar)?;
    Ok(of.into_iter().map(|d| outcomes[d].clone()).collect())
}

/// [`run_all`] on points that all simulate different things; `bar` ticks `ticks[i]` when point
/// `i` is done.
fn run_distinct(
    points: &[Point],
    ticks: &[u64],
    cache: Option<&Cache>,
    bar: &ProgressBar,
) -> anyhow::Result<Vec<Outcome>> {
    let mut groups: BTreeMap<(String, TraceKind), Vec<usize>> = BTreeMap::new();
    for (i, p) in points.iter().enumerate() {
        groups
            .entry((config::config_hash(&p.workload), p.kind))
            .or_default()
            .push(i);
    }
    let mut families: BTreeMap<(TraceKind, String), Vec<Vec<usize>>> = BTreeMap::new();
    for ((trace_key, kind), ix) in groups {
        let family = match kind {
            TraceKind::Reference => values_key(&points[ix[0]].workload),
            TraceKind::Dense => trace_key,
        };
        families.entry((kind, family)).or_default().push(ix);
    }
    // Largest traces first, so the long GPT-2 runs do not start last.
    let size = |ix: &Vec<usize>| {
        let w = &points[ix[0]].workload;
        w.model.layers as u64 * w.model.heads as u64 * (w.final_tokens() as u64).pow(2)
    };
    let mut order: Vec<Vec<Vec<usize>>> = families.into_values().collect();
    order.sort_by_key(|fam| std::cmp::Reverse(fam.iter().map(size).max()));
    let per_family: Vec<Vec<(usize, Outcome)>> = order
        .par_iter()
        .map(|fam| -> anyhow::Result<Vec<(usize, Outcome)>> {
            let traces = build_family(points, fam, cache)?;
            let jobs: Vec<(usize, &AttentionTrace)> = fam
                .iter()
                .zip(&traces)
                .flat_map(|(ix, t)| ix.iter().map(move |&i| (i, t)))
                .collect();
            jobs.par_iter()
                .map(|&(i, trace)| {
                    let p = &points[i];
                    let o = run_point(&p.arch, &p.workload, trace, p.split_stages)?;
                    bar.inc(ticks[i]);
                    Ok((i, o))
                })
                .collect()
        })
        .collect::<anyhow::Result<_>>()?;
    let mut out: Vec<Option<Outcome>> = vec![None; points.len()];
    for (i, o) in per_family.into_iter().flatten() {
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
    fn prompt_only_keeps_iteration_zero_and_simulates_faster() {
        let arch = load_arch("spatten").unwrap();
        let mut w = load_workload("gpt2-small").unwrap();
        w.model.layers = 4;
        w.stage.prompt_tokens = 48;
        w.stage.generated_tokens = 3;
        let full = build_trace(&w, TraceKind::Reference).unwrap();
        let prompt = prompt_only(&full);
        assert!(prompt.head_calls.iter().all(|c| c.iteration == 0));
        assert_eq!(
            prompt.head_calls.len(),
            full.head_calls.iter().filter(|c| c.iteration == 0).count()
        );
        assert_eq!(prompt.layers.len(), 4);
        assert_eq!(prompt.header.generated_tokens, 0);
        let whole = experiment::simulate(&arch, &full, DramKind::Native, false).unwrap();
        let part = experiment::simulate(&arch, &prompt, DramKind::Native, false).unwrap();
        assert!(part.cycles > 0 && part.cycles < whole.cycles);
        assert!(part.head_calls < whole.head_calls);
    }

    #[test]
    fn breakdown_steps_share_values_and_their_traces_are_unchanged() {
        let arch = load_arch("spatten").unwrap();
        let mut w = load_workload("gpt2-small").unwrap();
        w.model.layers = 2;
        w.stage.prompt_tokens = 40;
        w.stage.generated_tokens = 3;
        let variants = crate::reproduce::design::breakdown_variants(&arch, &w);
        let points: Vec<Point> = variants
            .iter()
            .map(|v| v.point.clone())
            .filter(|p| p.kind == TraceKind::Reference)
            .collect();
        let keys: Vec<String> = points.iter().map(|p| values_key(&p.workload)).collect();
        assert!(keys.len() >= 5 && keys.iter().all(|k| *k == keys[0]));
        let groups: Vec<Vec<usize>> = (0..points.len()).map(|i| vec![i]).collect();
        let shared = build_family(&points, &groups, None).unwrap();
        for (p, t) in points.iter().zip(&shared) {
            let own = build_trace(&p.workload, TraceKind::Reference).unwrap();
            assert_eq!(&own, t, "{}", p.workload.name);
            assert!(t.header.source.contains(&p.workload.name));
        }
        // A different seed or shape is a different family.
        let mut other = w.clone();
        other.seed += 1;
        assert_ne!(values_key(&other), values_key(&w));
        other = w.clone();
        other.stage.prompt_tokens += 1;
        assert_ne!(values_key(&other), values_key(&w));
    }

    #[test]
    fn points_that_differ_only_in_names_simulate_once_with_the_same_result() {
        let mut w = load_workload("bert-base").unwrap();
        w.model.layers = 2;
        let base = Point {
            arch: load_arch("spatten").unwrap(),
            workload: w.clone(),
            kind: TraceKind::Reference,
            split_stages: true,
        };
        let mut renamed = base.clone();
        renamed.arch.name = "another-name".into();
        renamed.workload.name = "another-workload".into();
        // No generation, so no prompt pass to split off either.
        renamed.split_stages = false;
        let mut other = base.clone();
        other.arch.topk_token.comparators = 4;
        assert_eq!(simulation_key(&base), simulation_key(&renamed));
        assert_ne!(simulation_key(&base), simulation_key(&other));
        let mut generating = base.clone();
        generating.workload.stage.generated_tokens = 2;
        let mut unsplit = generating.clone();
        unsplit.split_stages = false;
        assert_ne!(simulation_key(&generating), simulation_key(&unsplit));

        let bar = ProgressBar::hidden();
        let points = [base.clone(), other.clone(), renamed.clone()];
        let all = run_all(&points, None, &bar).unwrap();
        assert_eq!(bar.position(), 3, "one tick per point, shared or not");
        assert_eq!(all[0], all[2]);
        assert_ne!(all[0], all[1]);
        let alone = run_all(&[renamed], None, &bar).unwrap();
        assert_eq!(alone[0], all[2]);
    }

    #[test]
    fn a_head_too_large_for_the_sram_is_infeasible_not_an_error() {
        let mut arch = load_arch("spatten").unwrap();
        arch.qk.key_sram_bytes = 2 * 1024;
        let mut w = load_workload("bert-base").unwrap();
        w.model.layers = 2;
        let t = build_trace(&w, TraceKind::Dense).unwrap();
        match run_point(&arch, &w, &t, false).unwrap() {
            Outcome::Infeasible(why) => assert!(why.contains("key_sram_bytes"), "{why}"),
            Outcome::Done(_) => panic!("128 keys cannot fit 1 KiB banks"),
        }
    }
}
