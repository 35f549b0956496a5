//! `spatten reproduce`: the paper's evaluation (benchmarks, accelerators, design space) in one
//! command, written as CSVs, figures and EXPERIMENTS.md.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::reproduce::{self, Options};

#[derive(Debug, Args)]
pub struct ReproduceArgs {
    /// Output directory (replaced as a whole when the run succeeds).
    #[arg(long, default_value = "reports/reproduce")]
    pub out: PathBuf,
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
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:40}] {pos}/{len} points ({elapsed}, ETA {eta})",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    bar.set_prefix("reproduce");
    let command = format!("spatten reproduce{}", if a.quick { " --quick" } else { "" });
    let opts = Options {
        out: a.out.clone(),
        quick: a.quick,
        command,
        accuracy: if a.no_accuracy {
            None
        } else {
            reproduce::accuracy::Data::locate()
        },
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
    println!("  report: {}", a.out.join("EXPERIMENTS.md").display());
    Ok(ExitCode::SUCCESS)
}
