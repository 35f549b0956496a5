//! The `spatten` command line: one file per subcommand, each a thin face over the library.

mod accuracy;
mod accuracy_lm;
mod baseline;
mod compare;
mod compare_accuracy;
mod config;
mod default_job;
mod golden;
mod jobs;
mod plot;
mod progress;
mod reproduce;
mod run;
mod sweep;
mod trace;
mod trace_capture_decoder;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Cycle-level simulator of a SpAtten-style sparse-attention accelerator.
///
/// Architectures (`--arch`) and workloads (`--workload`) are named by preset
/// (see `spatten config list`) or by a path to a TOML file.
#[derive(Debug, Parser)]
#[command(
    name = "spatten",
    version,
    about,
    long_about = None,
    propagate_version = true,
    after_help = "Run with no command for the default experiment. A typical session:\n  \
                  spatten config list                          # presets\n  \
                  spatten run --workload gpt2-small            # report in reports/spatten-gpt2-small/\n  \
                  spatten run --arch spatten-1-8 --workload bert-base --timeline\n  \
                  spatten sweep arch/sweeps/quick.toml         # design-space sweep\n  \
                  spatten reproduce --quick                    # the paper's evaluation\n\n\
                  Exit codes: 0 success, 2 bad input (the message names the file, key and reason)."
)]
pub struct Cli {
    /// With no command, runs the default experiment: the spatten design point on real MiniLM
    /// attention and on GPT-2-small generation, writing reports under reports/.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Refuse a run whose estimated memory (values, trace, simulator tables) is above this
    /// size, e.g. 16G [default: 8G].
    #[arg(long, global = true, value_name = "SIZE", value_parser = crate::budget::parse_bytes)]
    pub max_memory: Option<u64>,
    /// Refuse a run whose estimated multiply-accumulates (Q x K and Prob x V) are above this
    /// count [default: 1e12].
    #[arg(long, global = true, value_name = "MACS", value_parser = crate::budget::parse_count)]
    pub max_work: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Simulate a workload on a design point and write a report (summary.md, stats.json, figures).
    Run(run::RunArgs),
    /// Draw figures again from saved `run` reports, several runs overlaid (throughput,
    /// efficiency, energy, traffic, speedup and energy saving over the baselines).
    Plot(plot::PlotArgs),
    /// Design-space sweeps: run a spec in parallel (resumable, shardable), merge, plot.
    Sweep(sweep::SweepArgs),
    /// Check, show and list architecture and workload configurations.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Baselines: device profiles, modelled CPUs/GPUs/accelerators, the measured host CPU.
    #[command(subcommand)]
    Baseline(baseline::BaselineCommand),
    /// Inspect, synthesize and import value files and attention traces.
    #[command(subcommand)]
    Trace(trace::TraceCommand),
    /// Write (or --check) golden vectors of the reference datapath for RTL.
    Golden(golden::GoldenArgs),
    /// STS-B Spearman of a BERT model, or perplexity of a GPT-2 / Llama decoder on a text,
    /// dense and with a workload's pruning and quantization in the loop.
    Accuracy(accuracy::AccuracyArgs),
    /// Compare pruning policies (spatten, h2o, streaming-llm, quest, ...) on one workload:
    /// cycles, DRAM bytes, energy, kept fraction and accuracy in one table, with figures.
    Compare(compare::CompareArgs),
    /// Reproduce the paper's evaluation: benchmarks, accelerators, design space, EXPERIMENTS.md.
    Reproduce(reproduce::ReproduceArgs),
}

/// Runs one parsed command line. Errors are printed by `main` and exit with code 2.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let defaults = crate::budget::Limits::default();
    crate::budget::set_limits(crate::budget::Limits {
        max_memory_bytes: cli.max_memory.unwrap_or(defaults.max_memory_bytes),
        max_work_macs: cli.max_work.unwrap_or(defaults.max_work_macs),
    });
    let Some(command) = cli.command else {
        return default_job::run();
    };
    match command {
        Command::Run(a) => run::run(a),
        Command::Plot(a) => plot::run(a),
        Command::Sweep(a) => sweep::run(a),
        Command::Config(c) => config::run(c),
        Command::Baseline(c) => baseline::run(c),
        Command::Trace(c) => trace::run(c),
        Command::Golden(g) => golden::run(g),
        Command::Accuracy(a) => accuracy::run(a),
        Command::Reproduce(a) => reproduce::run(a),
        Command::Compare(a) => compare::run(a),
    }
}
