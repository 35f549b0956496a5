//! `spatten compare`: several pruning policies on one workload, the same values and the
//! same hardware, in one table (cycles, DRAM bytes, energy, kept fraction, accuracy where a
//! model is in the loop) with figures.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use rayon::prelude::*;
use serde::Serialize;

use super::compare_accuracy::{self, AccuracyColumn, AccuracyInputs};
use crate::budget::ValueSupply;
use crate::config::policy::{PolicyConfig, PolicyKind};
use crate::config::{self, Validate, WorkloadConfig};
use crate::experiment::{self, DramKind};
use crate::hw::policy_cost::PolicyCost;
use crate::output_dir::OutputDir;
use crate::report::plot::{self, Frame, Goal, ParetoScatter, ScatterPoint, Series, StackedBars};
use crate::trace::{AttentionTrace, SynthKnobs, SynthLayers, ValueTensors};

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Workload preset or TOML file (its `[policy]` table is replaced by each policy).
    #[arg(long)]
    pub workload: String,
    /// Comma-separated policies (see POLICIES.md).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "spatten,dense,random,streaming-llm,h2o,tova,snapkv,pyramidkv,quest,spatten-llm,duo-attention"
    )]
    pub policies: Vec<String>,
    /// Budget of every policy that reads one: tokens kept (an integer, e.g. 256) or a
    /// fraction of the prompt (below 1, e.g. 0.25) [default: each policy's own, 0.5 of the
    /// prompt for most]. spatten keeps its `[token_pruning]` schedule; dense and
    /// duo-attention read no budget.
    #[arg(long)]
    pub budget: Option<String>,
    /// Architecture preset or TOML file.
    #[arg(long, default_value = "spatten")]
    pub arch: String,
    /// Value tensor file; default: synthetic values seeded by the workload.
    #[arg(long)]
    pub values: Option<PathBuf>,
    /// Memory model (as for `run`).
    #[arg(long, default_value = "native")]
    pub dram: DramKind,
    /// STS-B pairs for the accuracy column of a summarization workload (needs MiniLM and
    /// STS-B under the data root, else the column is left out with a note); 0 skips it.
    #[arg(long, default_value_t = 200)]
    pub accuracy_pairs: usize,
    /// Text windows for the accuracy column of a generation workload: perplexity of
    /// --decoder with each policy in the loop; 0 skips it.
    #[arg(long, default_value_t = 40)]
    pub accuracy_windows: usize,
    /// Decoder for the perplexity column (HF layout: config.json, tokenizer.json,
    /// model.safetensors) [default: the shipped models/tiny-llama for a RoPE workload, else
    /// models/tiny-gpt2].
    #[arg(long)]
    pub decoder: Option<PathBuf>,
    /// Text for the perplexity column [default: the held-out last 10 % of
    /// data/wikitext-2/valid.txt under $SPATTEN_DATA (else ./data); without it the column
    /// is left out with a note].
    #[arg(long)]
    pub text: Option<PathBuf>,
    /// Output directory [default: reports/compare-<workload>] (same rules as `run --out`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write into --out even if it holds files spatten did not write: they are kept, and only
    /// spatten's own files are replaced.
    #[arg(long)]
    pub force: bool,
}

/// One policy's row.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub policy: String,
    /// Simulated cycles plus the policy's own serial actions.
    pub cycles: u64,
    pub milliseconds: f64,
    pub dram_bytes: u64,
    pub energy_j: f64,
    /// K rows fetched over the rows dense attention fetches.
    pub kept_fraction: f64,
    pub topk_calls: u64,
    pub contiguity_loss: f64,
    /// With the policy in a model's loop, when measured: STS-B Spearman (summarization)
    /// or the decoder's perplexity (generation); the table's footnote names which.
    pub accuracy: Option<f64>,
    pub cost: PolicyCost,
}

pub fn run(a: CompareArgs) -> anyhow::Result<ExitCode> {
    let arch = config::load_arch(&a.arch)?;
    let base = config::load_workload(&a.workload)?;
    if base.stage.batch > 1 {
        bail!(
            "{}: key `stage.batch` = {}: compare ranks policies on one sequence's values; \
             set batch = 1 (a batch's cost is `spatten run` on the batched workload)",
            a.workload,
            base.stage.batch
        );
    }
    let budget = a.budget.as_deref().map(parse_budget).transpose()?;
    let mut workloads = Vec::new();
    for name in &a.policies {
        let kind = PolicyKind::parse(name.trim()).with_context(|| {
            format!(
                "--policies: unknown policy {name:?}; known: {}",
                PolicyKind::ALL.map(|k| k.label()).join(", ")
            )
        })?;
        workloads.push(with_policy(&base, kind, budget)?);
    }
    if workloads.is_empty() {
        bail!("--policies: give at least one policy");
    }
    let out = OutputDir::new(
        a.out
            .clone()
            .unwrap_or_else(|| PathBuf::from("reports").join(format!("compare-{}", base.name))),
        "compare",
    )
    .force(a.force);
    out.check()?;
    let inputs = AccuracyInputs {
        sts_pairs: a.accuracy_pairs,
        decoder: a.decoder.clone(),
        text: a.text.clone(),
        windows: a.accuracy_windows,
    };
    compare_accuracy::check_inputs(&base, &inputs)?;
    // Synthetic values too large to hold are made layer by layer for each policy's
    // reference run (the same values for every policy), and the policies run one at a time.
    let streamed = a.values.is_none() && crate::budget::streams_synthetic_values(&base);
    let supply = if streamed {
        ValueSupply::Synthetic
    } else {
        ValueSupply::Whole
    };
    for w in &workloads {
        config::check_feasible(&arch, w)?;
        crate::budget::run_estimate(&arch, w, supply).check(&format!("workload {}", w.name))?;
    }
    let knobs = SynthKnobs::for_workload(&base);
    let values = match &a.values {
        Some(p) => Values::Whole(crate::trace::read_values(p)?),
        None if streamed => Values::Streamed(SynthLayers::new(&base, &knobs, base.seed)),
        None => Values::Whole(crate::trace::generate(&base, &knobs, base.seed)),
    };
    if let Values::Whole(v) = &values {
        crate::reference::check_values(v, &base)?;
    }
    let input = match &a.values {
        Some(p) => format!("value file {}", p.display()),
        None => crate::experiment::Input::Synthetic.describe(),
    };
    let run = |w: &WorkloadConfig| simulate(&arch, w, &values, &input, a.dram);
    let mut rows: Vec<Row> = if streamed {
        let bar = super::progress::bar("policies", workloads.len() as u64, "policies");
        let rows = workloads
            .iter()
            .map(|w| {
                bar.set_message(format!("policy {}", w.policy.kind.label()));
                let r = run(w);
                bar.inc(1);
                r
            })
            .collect::<anyhow::Result<_>>()?;
        bar.finish_and_clear();
        rows
    } else {
        workloads
            .par_iter()
            .map(run)
            .collect::<anyhow::Result<_>>()?
    };
    let accuracy = compare_accuracy::fill(&base, &workloads, &inputs, &mut rows)?;
    let table = table(&base, &arch.name, &input, budget, &rows, &accuracy);
    out.write(|dir| -> anyhow::Result<()> {
        std::fs::write(dir.join("compare.md"), &table)
            .with_context(|| format!("{}: writing the table", dir.display()))?;
        std::fs::write(
            dir.join("compare.json"),
            serde_json::to_string_pretty(&rows)? + "\n",
        )
        .with_context(|| format!("{}: writing compare.json", dir.display()))?;
        figures(dir, &base.name, &rows, accuracy.as_ref().ok())
    })?;
    print!("{table}");
    println!("report: {}", out.path().join("compare.md").display());
    Ok(ExitCode::SUCCESS)
}

/// Tokens (an integer) or a fraction of the prompt (below 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Budget {
    Tokens(u32),
    Fraction(f64),
}

fn parse_budget(s: &str) -> anyhow::Result<Budget> {
    if let Ok(n) = s.parse::<u32>() {
        if n == 0 {
            bail!("--budget: must be at least 1 token (got 0)");
        }
        return Ok(Budget::Tokens(n));
    }
    match s.parse::<f64>() {
        Ok(f) if f > 0.0 && f <= 1.0 => Ok(Budget::Fraction(f)),
        _ => bail!("--budget: {s:?} is neither a token count nor a fraction in (0, 1]"),
    }
}

/// `base` with `[policy] kind = kind` and the budget, validated as a workload file is.
fn with_policy(
    base: &WorkloadConfig,
    kind: PolicyKind,
    budget: Option<Budget>,
) -> anyhow::Result<WorkloadConfig> {
    let mut p = PolicyConfig {
        kind,
        ..PolicyConfig::default()
    };
    if kind.keys().contains(&"budget") {
        match budget {
            Some(Budget::Tokens(n)) => p.budget = Some(n),
            Some(Budget::Fraction(f)) if kind.keys().contains(&"keep_fraction") => {
                p.keep_fraction = Some(f)
            }
            Some(Budget::Fraction(f)) => {
                p.budget = Some(((base.stage.prompt_tokens as f64 * f).ceil() as u32).max(1))
            }
            None => {}
        }
    }
    let mut w = WorkloadConfig {
        policy: p,
        ..base.clone()
    };
    w.name = format!("{}+{}", base.name, kind.label());
    if let Some(v) = w.violations().into_iter().next() {
        bail!(
            "workload {} with policy {}: key `{}`: {}",
            base.name,
            kind.label(),
            v.key,
            v.reason
        );
    }
    Ok(w)
}

/// Keys dense attention reads over the iterations the trace ran: a decode-only run
/// (`prefill = "cached"`) has no prompt pass, and counting one would understate every
/// kept fraction.
fn dense_keys(t: &AttentionTrace) -> u64 {
    let h = &t.header;
    let per_pass = h.layers as u64 * h.heads as u64;
    let iterations: std::collections::BTreeSet<u32> =
        t.head_calls.iter().map(|c| c.iteration).collect();
    iterations
        .into_iter()
        .map(|i| per_pass * crate::trace::trace_check::tokens_in_iteration(h.prompt_tokens, i))
        .sum()
}

/// The values every policy runs on: held whole, or made one layer at a time.
enum Values {
    Whole(ValueTensors),
    Streamed(SynthLayers),
}

fn simulate(
    arch: &config::ArchConfig,
    w: &WorkloadConfig,
    values: &Values,
    input: &str,
    dram: DramKind,
) -> anyhow::Result<Row> {
    let label = w.policy.kind.label();
    let design = config::tiles::reference_design(arch, w.model.head_dim);
    let trace = match values {
        Values::Whole(v) => crate::reference::run_workload_with_progress(v, w, design, &|_, _| {}),
        Values::Streamed(layers) => {
            crate::reference::run_workload_streamed(layers, w, design, &|_, _| {})
        }
    }
    .with_context(|| format!("policy {label}: the reference"))?;
    let kept: u64 = trace.head_calls.iter().map(|c| c.keys.len() as u64).sum();
    let kept_fraction = kept as f64 / dense_keys(&trace).max(1) as f64;
    let r = experiment::evaluate(&w.name, arch, w, trace, input, dram, false, &mut |_| {})
        .with_context(|| format!("policy {label}: the simulation"))?;
    let cost = PolicyCost::of(arch, &r.trace, &r.stats);
    let cycles = r.stats.cycles + cost.extra_cycles();
    Ok(Row {
        policy: label.to_string(),
        cycles,
        milliseconds: cycles as f64 / (arch.clock.frequency_mhz * 1e3),
        dram_bytes: r.stats.dram.bytes_moved()
            + cost.summary_bytes_read
            + cost.summary_bytes_written
            + cost.metadata_bytes,
        energy_j: r.energy.total_j + cost.extra_j(),
        kept_fraction,
        topk_calls: cost.eviction_calls + cost.page_calls,
        contiguity_loss: cost.contiguity_loss,
        accuracy: None,
        cost,
    })
}

fn table(
    base: &WorkloadConfig,
    arch: &str,
    input: &str,
    budget: Option<Budget>,
    rows: &[Row],
    accuracy: &Result<AccuracyColumn, String>,
) -> String {
    let mut s = String::new();
    let budget = match budget {
        Some(Budget::Tokens(n)) => format!("{n} tokens"),
        Some(Budget::Fraction(f)) => format!("{f} of the prompt"),
        None => "each policy's default".into(),
    };
    let _ = writeln!(
        s,
        "# Policies on {} (arch {arch}, {input}, budget: {budget})\n",
        base.name
    );
    let acc = accuracy.as_ref().ok();
    let _ = writeln!(
        s,
        "| policy | cycles | ms | DRAM MB | energy mJ | kept | top-k calls | contiguity loss |{}",
        acc.map_or(String::new(), |c| format!(" {} |", c.header))
    );
    let _ = writeln!(
        s,
        "|---|---:|---:|---:|---:|---:|---:|---:|{}",
        if acc.is_some() { "---:|" } else { "" }
    );
    for r in rows {
        let _ = write!(
            s,
            "| {} | {} | {:.3} | {:.2} | {:.4} | {:.3} | {} | {:.2} |",
            r.policy,
            r.cycles,
            r.milliseconds,
            r.dram_bytes as f64 / 1e6,
            r.energy_j * 1e3,
            r.kept_fraction,
            r.topk_calls,
            r.contiguity_loss
        );
        if acc.is_some() {
            let _ = write!(
                s,
                " {} |",
                r.accuracy.map_or("-".into(), |x| format!("{x:.4}"))
            );
        }
        s.push('\n');
    }
    let _ = writeln!(
        s,
        "\nkept: K rows fetched over dense attention's. cycles and energy include the \
         policy's own actions (top-k passes, Quest's page bounds and summaries, kept-index \
         metadata; compare.json itemizes them). contiguity loss: K transactions over the same \
         rows packed."
    );
    match accuracy {
        Ok(c) => {
            let _ = writeln!(s, "{}", c.footnote);
        }
        Err(note) => {
            let _ = writeln!(s, "\n{note}");
        }
    }
    s
}

fn figures(
    dir: &Path,
    workload: &str,
    rows: &[Row],
    accuracy: Option<&AccuracyColumn>,
) -> anyhow::Result<()> {
    let figs = dir.join("figures");
    std::fs::create_dir_all(&figs)
        .with_context(|| format!("{}: creating the figure folder", figs.display()))?;
    let names: Vec<String> = rows.iter().map(|r| r.policy.clone()).collect();
    let max_j = rows.iter().map(|r| r.energy_j).fold(0.0, f64::max);
    let (k, unit) = plot::energy_unit(max_j);
    let parts = vec![
        Series {
            name: "attention datapath and DRAM".into(),
            values: rows
                .iter()
                .map(|r| (r.energy_j - r.cost.extra_j() - r.cost.eviction_topk_j) * k)
                .collect(),
        },
        Series {
            name: "eviction top-k".into(),
            values: rows.iter().map(|r| r.cost.eviction_topk_j * k).collect(),
        },
        Series {
            name: "page top-k and bounds".into(),
            values: rows
                .iter()
                .map(|r| (r.cost.page_topk_j + r.cost.page_bound_j) * k)
                .collect(),
        },
        Series {
            name: "summaries and metadata (DRAM)".into(),
            values: rows
                .iter()
                .map(|r| (r.cost.summary_dram_j + r.cost.metadata_dram_j) * k)
                .collect(),
        },
    ];
    plot::stacked_bars(
        &figs.join("energy_by_action"),
        &StackedBars::new(
            Frame::new(
                &format!("Energy by policy action, {workload}"),
                "policy",
                &format!("energy ({unit})"),
            )
            .sized(plot::WIDE_SIZE),
            names.clone(),
            parts,
        ),
    )?;
    let scatter = |stem: &str,
                   title: &str,
                   x_label: &str,
                   x: &dyn Fn(&Row) -> f64,
                   y_label: &str,
                   y: &dyn Fn(&Row) -> f64,
                   y_goal: Goal|
     -> anyhow::Result<()> {
        plot::pareto_scatter(
            &figs.join(stem),
            &ParetoScatter {
                frame: Frame::new(title, x_label, y_label),
                points: rows
                    .iter()
                    .map(|r| ScatterPoint {
                        label: r.policy.clone(),
                        x: x(r),
                        y: y(r),
                    })
                    .collect(),
                x_goal: Goal::Minimize,
                y_goal,
                log_x: false,
                log_y: false,
            },
        )?;
        Ok(())
    };
    scatter(
        "kept_vs_energy",
        &format!("Kept fraction and energy, {workload}"),
        &format!("energy ({unit})"),
        &|r| r.energy_j * k,
        "kept fraction of dense K rows",
        &|r| r.kept_fraction,
        Goal::Maximize,
    )?;
    if let Some(c) = accuracy.filter(|_| rows.iter().all(|r| r.accuracy.is_some())) {
        let goal = if c.higher_is_better {
            Goal::Maximize
        } else {
            Goal::Minimize
        };
        scatter(
            "pareto_accuracy_energy",
            &format!("Accuracy and energy, {workload}"),
            &format!("energy ({unit})"),
            &|r| r.energy_j * k,
            &c.axis,
            &|r| r.accuracy.unwrap_or(0.0),
            goal,
        )?;
        scatter(
            "pareto_accuracy_latency",
            &format!("Accuracy and latency, {workload}"),
            "latency (ms)",
            &|r| r.milliseconds,
            &c.axis,
            &|r| r.accuracy.unwrap_or(0.0),
            goal,
        )?;
    }
    Ok(())
}
