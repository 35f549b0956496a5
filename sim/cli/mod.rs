//! The `spatten` command line: one file per subcommand, each a thin face over the library.

mod accuracy;
mod config;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Cycle-level simulator of a SpAtten-style sparse-attention accelerator.
///
/// Architectures (`--arch`) and workloads (`--workload`) are named by preset
/// (see `spatten config list`) or by a path to a TOML file.
#[derive(Debug, Parser)]
#[command(name = "spatten", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check, show and list architecture and workload configurations.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Sentence-similarity accuracy (Spearman on STS) of a BERT model, dense attention.
    Accuracy(accuracy::AccuracyArgs),
}

/// Runs one parsed command line. Errors are printed by `main` and exit with code 2.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Config(c) => config::run(c),
        Command::Accuracy(a) => accuracy::run(a),
    }
}
