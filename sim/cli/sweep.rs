//! `spatten sweep`: run a design-space sweep, merge shards, plot results.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::experiment::DramKind;
use crate::output_dir::OutputDir;
use crate::sweep::evaluate::PipelineEvaluator;
use crate::sweep::{self, SweepOptions, SweepSpec, results};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SweepArgs {
    #[command(subcommand)]
    pub command: Option<SweepCommand>,
    /// Sweep spec (TOML): base arch, workloads, [axes] / [zip] over dotted keys, constraints.
    /// See arch/sweeps/ for examples.
    #[arg(required = true)]
    pub spec: Option<PathBuf>,
    /// Worker threads [default: all cores; at most 4 per core].
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Output directory [default: reports/sweep-<name>]. One writer at a time (a second
    /// exits naming the first's PID); a folder spatten did not make is refused.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Use an --out that holds files spatten did not write (they are kept and never
    /// overwritten).
    #[arg(long)]
    pub force: bool,
    /// Refuse a spec with more points than this.
    #[arg(long, default_value_t = SweepOptions::DEFAULT_MAX_POINTS)]
    pub max_points: usize,
    /// Continue an interrupted sweep in --out, skipping points already there.
    #[arg(long)]
    pub resume: bool,
    /// Run only slice K of N (0 <= K < N): points whose id % N == K. Merge with `sweep merge`.
    #[arg(long, value_name = "K/N", value_parser = sweep::parse_shard)]
    pub shard: Option<(usize, usize)>,
    /// Memory model: native (command-level HBM model), simple (bandwidth + latency), or
    /// dramsim3 (needs a build with --features dramsim3).
    #[arg(long, default_value = "native")]
    pub dram: DramKind,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum SweepCommand {
    /// Merge shard directories; fails naming any point that is missing or duplicated.
    Merge {
        /// Shard output directories (each holds the sweep.json and results.csv of one
        /// `sweep --shard K/N` run).
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Directory for the merged sweep.json and results.csv.
        #[arg(long)]
        out: PathBuf,
        /// Use an --out that holds files spatten did not write (they are kept).
        #[arg(long)]
        force: bool,
    },
    /// Draw Pareto fronts and METRIC against every numeric axis (SVG + PNG).
    Plot {
        /// Sweep output directory (with results.csv).
        dir: PathBuf,
        /// Metric column for the line plots.
        #[arg(long, default_value = "effective_gops")]
        metric: String,
        /// Figure directory [default: DIR/figures].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Use an --out that holds files spatten did not write (they are kept).
        #[arg(long)]
        force: bool,
    },
}

pub fn run(a: SweepArgs) -> anyhow::Result<ExitCode> {
    match a.command {
        Some(SweepCommand::Merge { dirs, out, force }) => {
            let target = OutputDir::new(&out, "sweep").force(force);
            let (m, rows) = results::merge_into(&dirs, &target)?;
            println!(
                "merged {} points of sweep {} into {}",
                rows.len(),
                m.name,
                out.join(results::RESULTS_FILE).display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(SweepCommand::Plot {
            dir,
            metric,
            out,
            force,
        }) => {
            let out = out.unwrap_or_else(|| dir.join("figures"));
            let target = OutputDir::new(&out, "sweep-plot").force(force);
            target.check()?;
            let files = target.write(|staging| -> anyhow::Result<Vec<PathBuf>> {
                Ok(sweep::plot::plot_dir(&dir, &metric, staging)?
                    .into_iter()
                    .map(|f| f.strip_prefix(staging).map(PathBuf::from).unwrap_or(f))
                    .collect())
            })?;
            for f in files {
                println!("{}", out.join(f).display());
            }
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let spec_path = a.spec.expect("clap requires SPEC without a subcommand");
            let spec = SweepSpec::load(&spec_path)?;
            let points = spec.point_count();
            if points > a.max_points {
                let axes: Vec<String> = spec
                    .axes()
                    .map(|x| format!("{} {}", x.key, x.values.len()))
                    .collect();
                anyhow::bail!(
                    "{}: {points} design points ({} workloads; axes: {}) are more than \
                     --max-points {}; raise it to run them all",
                    spec_path.display(),
                    spec.workloads.len(),
                    axes.join(", "),
                    a.max_points
                );
            }
            let out = a
                .out
                .unwrap_or_else(|| PathBuf::from("reports").join(format!("sweep-{}", spec.name)));
            let jobs = super::jobs::worker_threads(a.jobs)?;
            let options = SweepOptions {
                out: out.clone(),
                jobs,
                resume: a.resume,
                shard: a.shard,
                progress: !a.quiet,
                max_points: a.max_points,
                force: a.force,
            };
            let evaluator = PipelineEvaluator::new(a.dram);
            let s = sweep::run_sweep(&spec, &evaluator, &options)?;
            if !a.quiet {
                println!(
                    "sweep {}: {} points{}, {} run now ({} ok, {} invalid, {} skipped by constraints, {} failed), {} already done",
                    spec.name,
                    s.points_in_shard,
                    a.shard
                        .map(|(k, n)| format!(" in shard {k}/{n} of {}", s.points_total))
                        .unwrap_or_default(),
                    s.ran,
                    s.ok,
                    s.invalid,
                    s.skipped,
                    s.failed,
                    s.already_done
                );
                println!(
                    "{:.2} s with {jobs} thread(s): {:.2} points/s\nresults: {}",
                    s.seconds,
                    s.points_per_second(),
                    out.join(results::RESULTS_FILE).display()
                );
            }
            Ok(if s.failed > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}
