//! `spatten reproduce`: the paper's evaluation (benchmarks, accelerators, design space) in one
//! command, written as CSVs, figures and EXPERIMENTS.md.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use indicatif::ProgressBar;

use super::progress;
use crate::reproduce::cache::Cache;
use crate::reproduce::markdown::DEVIATION;
use crate::reproduce::{self, Options};

#[derive(Debug, Args)]
pub struct ReproduceArgs {
    /// Output directory (replaced as a whole when the run succeeds, if spatten wrote it; a
    /// folder with other files is refused before any work).
    #[arg(long, default_value = "reports/reproduce")]
    pub out: PathBuf,
    /// Write into --out even if it holds files spatten did not write (they are kept).
    #[arg(long)]
    pub force: bool,
    /// A reduced run for CI: a few BERT benchmarks and a shortened GPT-2 prompt.
    #[arg(long)]
    pub quick: bool,
    /// Worker threads [default: all cores].
    #[arg(long)]
    pub jobs: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Skip item 4 (accuracy of the real model against pruning ratio).
    #[arg(long)]
    pub no_accuracy: bool,
    /// Keep the reference traces and accuracy results in this folder and reuse them on
    /// later runs with the same inputs and the same spatten executable (same output bytes).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
}

pub fn run(a: ReproduceArgs) -> anyhow::Result<ExitCode> {
    let mut builder = rayon::ThreadPoolBuilder::new();
    if a.jobs.is_some() {
        builder = builder.num_threads(super::jobs::worker_threads(a.jobs)?);
    }
    let pool = builder.build()?;
    let bar = if a.quiet {
        ProgressBar::hidden()
    } else {
        progress::bar("reproduce", 0, "runs")
    };
    let command = format!("spatten reproduce{}", if a.quick { " --quick" } else { "" });
    let cache = match &a.cache {
        Some(dir) => Some(Cache::new(dir, Cache::executable_fingerprint()?)?),
        None => None,
    };
    let opts = Options {
        out: a.out.clone(),
        force: a.force,
        quick: a.quick,
        command,
        revision: source_revision(),
        accuracy: if a.no_accuracy {
            None
        } else {
            reproduce::accuracy::Data::locate()
        },
        cache,
    };
    let start = Instant::now();
    let summary = pool.install(|| reproduce::run(&opts, &bar))?;
    bar.finish_and_clear();
    let g = &summary.geomean_all;
    println!(
        "{} points in {:.1} s; geomean over {} benchmarks: {:.1}x over TITAN Xp, {:.1}x over Xeon, DRAM access reduced {:.2}x; spatten-1-8: {:.2}x over A3, {:.2}x over MNNFast",
        summary.points,
        start.elapsed().as_secs_f64(),
        g.benchmarks,
        g.speedup_titan_xp,
        g.speedup_xeon,
        g.dram_reduction,
        summary.accel.speedup_a3,
        summary.accel.speedup_mnnfast
    );
    println!("fidelity (paper -> ours, ours / paper):");
    let width = summary
        .claims
        .iter()
        .map(|c| c.what.len())
        .max()
        .unwrap_or(0);
    for c in &summary.claims {
        let [paper, ours, ratio] = c.cells();
        let note = if c.deviates() {
            format!(
                "  (off by more than {:.0} %: cause in the report)",
                DEVIATION * 100.0
            )
        } else {
            String::new()
        };
        println!("  {:width$}  {paper} -> {ours}  {ratio}{note}", c.what);
    }
    println!("  report: {}", a.out.join("EXPERIMENTS.md").display());
    Ok(ExitCode::SUCCESS)
}

/// The commit (and its date) of the checkout the command runs in, so EXPERIMENTS.md says what
/// it was made from; the commit date rather than today's keeps reruns byte-identical.
fn source_revision() -> String {
    let git = |args: &[&str]| -> Option<String> {
        let o = std::process::Command::new("git").args(args).output().ok()?;
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let version = env!("CARGO_PKG_VERSION");
    match git(&["log", "-1", "--format=%h, %cs"]) {
        Some(rev) if !rev.is_empty() => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            format!(
                "spatten-sim {version}, commit {rev}{}",
                if dirty {
                    ", with uncommitted changes"
                } else {
                    ""
                }
            )
        }
        _ => format!("spatten-sim {version} (not a git checkout)"),
    }
}
