//! `spatten reproduce`: the paper's evaluation regenerated with one command.
//!
//! 1. [`bench`]: the 30 benchmarks ([`benchmarks`]) on the `spatten` preset against the
//!    CPU/GPU baselines; DRAM access reduction by technique; throughput.
//! 2. [`accel`]: `spatten-1-8` against A3 and MNNFast.
//! 3. [`design`]: top-k parallelism, SRAM size, and the step-by-step speedup on GPT-2.
//! 4. [`accuracy`]: STS-B accuracy of the real model against token and head pruning ratio.
//!
//! Every point runs through [`crate::experiment::evaluate`] ([`runner`]); the output
//! directory holds CSVs, figures and `EXPERIMENTS.md` ([`markdown`]), staged and swapped into
//! place by [`OutputDir`], so a failed run leaves no partial output.

pub mod accel;
pub mod accuracy;
pub mod bench;
pub mod benchmarks;
pub mod cache;
pub mod design;
pub mod figures;
pub mod lengths;
pub mod markdown;
pub mod runner;

use std::path::PathBuf;

use indicatif::ProgressBar;
use serde::Serialize;

use crate::config;
use crate::output_dir::OutputDir;

#[derive(Debug, Clone)]
pub struct Options {
    pub out: PathBuf,
    pub quick: bool,
    /// Write into `out` even if it holds files spatten did not write (they are kept).
    pub force: bool,
    /// The command line recorded in EXPERIMENTS.md.
    pub command: String,
    /// The source revision recorded in EXPERIMENTS.md ("commit 1a2b3c4d, 2026-12-03").
    pub revision: String,
    /// Model and STS-B data for item 4; `None` skips it (said in EXPERIMENTS.md).
    pub accuracy: Option<accuracy::Data>,
    /// Reuse reference traces and accuracy rows of earlier runs ([`cache`]).
    pub cache: Option<cache::Cache>,
}

/// What a run produced, for the CLI's summary.
#[derive(Debug, Clone)]
pub struct Summary {
    pub points: usize,
    pub files: Vec<PathBuf>,
    pub geomean_all: bench::GeomeanRow,
    pub accel: accel::AccelRow,
    /// The fidelity table of EXPERIMENTS.md.
    pub claims: Vec<markdown::Claim>,
}

/// All points of all studies, in a fixed order, with the ranges each study owns.
struct Plan {
    benches: Vec<benchmarks::Benchmark>,
    accel_benches: Vec<benchmarks::Benchmark>,
    variants: Vec<design::Variant>,
    points: Vec<runner::Point>,
}

fn plan(quick: bool) -> anyhow::Result<Plan> {
    let spatten = config::load_arch("spatten")?;
    let small = config::load_arch("spatten-1-8")?;
    let benches = benchmarks::load_all(quick)?;
    let accel_benches = accel::selected(&benches);
    let gpt2 = benches
        .iter()
        .find(|b| b.name.starts_with("gpt2-small"))
        .ok_or_else(|| anyhow::anyhow!("no GPT-2-small benchmark"))?;
    let squad = if quick {
        benchmarks::load("bert-base-mrpc")?
    } else {
        benchmarks::load("bert-base-squad-v1.1")?
    };
    let mut variants = design::topk_variants(&spatten, &gpt2.workload);
    variants.extend(design::sram_variants(
        &spatten,
        &[squad.workload.clone(), gpt2.workload.clone()],
    ));
    variants.extend(design::breakdown_variants(&spatten, &gpt2.workload));
    let mut points = bench::points(&spatten, &benches, true);
    points.extend(bench::points(&small, &accel_benches, false));
    points.extend(variants.iter().map(|v| v.point.clone()));
    Ok(Plan {
        benches,
        accel_benches,
        variants,
        points,
    })
}

/// Number of points a run simulates (for a progress bar's length).
pub fn point_count(quick: bool) -> anyhow::Result<usize> {
    Ok(plan(quick)?.points.len())
}

/// The distinct values of `items`, in the order they first appear (the order rows, series
/// and table groups follow).
pub(crate) fn first_seen<T: PartialEq>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut out = Vec::new();
    for x in items {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

fn csv_text<T: Serialize>(rows: &[T]) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r)?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

/// Runs everything and writes `opts.out`. `bar` ticks once per simulated point.
pub fn run(opts: &Options, bar: &ProgressBar) -> anyhow::Result<Summary> {
    // Before minutes of work: a refused --out fails now.
    OutputDir::new(&opts.out, "reproduce")
        .force(opts.force)
        .check()?;
    let p = plan(opts.quick)?;
    let acc_configs = match &opts.accuracy {
        Some(_) => accuracy::configs(opts.quick)?.len(),
        None => 0,
    };
    bar.set_length((p.points.len() + acc_configs) as u64);
    bar.set_message(if acc_configs > 0 {
        format!(
            "reproduce: {} simulated points + {acc_configs} accuracy settings",
            p.points.len()
        )
    } else {
        format!("reproduce: {} simulated points", p.points.len())
    });
    // The model evaluation overlaps the simulations; both split their work over the pool.
    let (outcomes, acc_rows) = rayon::join(
        || runner::run_all(&p.points, opts.cache.as_ref(), bar),
        || match &opts.accuracy {
            Some(d) => accuracy::run(d, opts.quick, opts.cache.as_ref(), bar).map(Some),
            None => Ok(None),
        },
    );
    let outcomes = outcomes?;
    let acc_rows = acc_rows?;
    let nb = p.benches.len();
    let na = p.accel_benches.len();
    let bench_rows = bench::rows(&p.benches, &outcomes[..nb])?;
    let geomeans = bench::geomeans(&bench_rows);
    let all = geomeans
        .first()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no benchmark results to average"))?;
    let mut accel_rows = accel::rows(&p.accel_benches, &outcomes[nb..nb + na])?;
    let accel_gm = accel::geomean_row(&accel_rows)
        .ok_or_else(|| anyhow::anyhow!("no spatten-1-8 results to average"))?;
    accel_rows.push(accel_gm.clone());
    let published = accel::published()?;
    let design_rows = design::rows(&p.variants, &outcomes[nb + na..]);
    let breakdown: Vec<design::DesignRow> = design_rows
        .iter()
        .filter(|r| r.study == "breakdown")
        .cloned()
        .collect();
    let cumulative = cumulative_speedup(&breakdown);
    let full_area = crate::energy::AreaBreakdown::of(&crate::config::load_arch("spatten")?);
    let claims = markdown::claims(&all, &accel_gm, full_area.total_mm2());
    let baseline_fit = benchmarks::baseline_fit()?;

    let out = OutputDir::new(&opts.out, "reproduce").force(opts.force);
    let files = out.write(|staging| -> anyhow::Result<Vec<PathBuf>> {
        let fig = staging.join("figures");
        std::fs::create_dir_all(&fig)
            .map_err(|e| anyhow::anyhow!("{}: creating the figure folder: {e}", fig.display()))?;
        let mut files = Vec::new();
        let mut put = |n: &str, text: String| -> anyhow::Result<()> {
            let p = staging.join(n);
            std::fs::write(&p, text)
                .map_err(|e| anyhow::anyhow!("{}: writing the results: {e}", p.display()))?;
            files.push(PathBuf::from(n));
            Ok(())
        };
        put("benchmarks.csv", csv_text(&bench_rows)?)?;
        put("benchmarks_geomean.csv", csv_text(&geomeans)?)?;
        put("accelerators.csv", csv_text(&accel_rows)?)?;
        put("accelerators_published.csv", csv_text(&published)?)?;
        put("design_space.csv", csv_text(&design_rows)?)?;
        if let Some(rows) = &acc_rows {
            put("accuracy.csv", csv_text(rows)?)?;
        }
        put(
            "EXPERIMENTS.md",
            markdown::render(&markdown::Inputs {
                fit: &baseline_fit,
                quick: opts.quick,
                command: opts.command.clone(),
                revision: opts.revision.clone(),
                benches: &bench_rows,
                geomeans: &geomeans,
                accel: &accel_rows,
                published: &published,
                design: &design_rows,
                breakdown_cumulative: &cumulative,
                claims: &claims,
                accuracy: acc_rows.as_deref(),
            }),
        )?;
        let mut figs = figures::versus_devices(&fig, &bench_rows, &all)?;
        figs.push(figures::dram_split(&fig, &bench_rows)?);
        figs.push(figures::throughput(&fig, &bench_rows)?);
        figs.extend(figures::accelerators(&fig, &accel_gm, &published)?);
        let topk: Vec<_> = design_rows
            .iter()
            .filter(|r| r.study == "topk_parallelism")
            .cloned()
            .collect();
        figs.push(figures::sweep(
            &fig,
            "topk_parallelism",
            "Throughput against top-k comparator parallelism",
            "comparators per array (both engines)",
            &topk,
        )?);
        let sram: Vec<_> = design_rows
            .iter()
            .filter(|r| r.study == "sram_size")
            .cloned()
            .collect();
        figs.push(figures::sweep(
            &fig,
            "sram_size",
            "Throughput against key/value SRAM size (feasible points)",
            "key and value SRAM (KiB each)",
            &sram,
        )?);
        figs.push(figures::breakdown(&fig, &breakdown, &cumulative)?);
        if let Some(rows) = &acc_rows {
            figs.push(figures::accuracy(&fig, rows)?);
        }
        for w in figs {
            for f in [w.svg, w.png] {
                files.push(f.strip_prefix(staging).unwrap_or(&f).to_path_buf());
            }
        }
        Ok(files)
    })?;
    Ok(Summary {
        points: p.points.len(),
        files: files.into_iter().map(|f| opts.out.join(f)).collect(),
        geomean_all: all,
        accel: accel_gm,
        claims,
    })
}

/// Speedup of each breakdown step over the first step (1 for the first).
pub fn cumulative_speedup(rows: &[design::DesignRow]) -> Vec<f64> {
    let first = rows.first().and_then(|r| r.cycles);
    rows.iter()
        .map(|r| match (first, r.cycles) {
            (Some(a), Some(b)) if b > 0 => a as f64 / b as f64,
            _ => 0.0,
        })
        .collect()
}
