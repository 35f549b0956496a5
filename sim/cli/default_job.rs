//! What `spatten` (or `cargo run --release`) does with no subcommand: the spatten design point
//! on real attention (MiniLM values captured from the shipped text) and on a GPT-2-small
//! generation workload, each written as a report.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::run::run_and_report;
use crate::config;
use crate::experiment::{DramKind, Experiment, Input};
use crate::output_dir::OutputDir;

/// The shipped real value file and its workload, relative to the repository root.
pub const REAL_VALUES: &str = "traces/minilm-sts.values.safetensors";
pub const REAL_WORKLOAD: &str = "workloads/minilm.toml";

/// Finds a shipped file from the current directory or, failing that, the source checkout.
fn shipped(rel: &str) -> PathBuf {
    let here = PathBuf::from(rel);
    if here.exists() {
        here
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
    }
}

pub fn run() -> anyhow::Result<ExitCode> {
    println!("spatten-sim: the default experiment (see `spatten --help` for everything else)\n");
    let arch = config::load_arch("spatten")?;
    let values = shipped(REAL_VALUES);
    let workload_file = shipped(REAL_WORKLOAD);
    let jobs = [
        Experiment {
            name: "spatten-minilm-real".into(),
            arch: arch.clone(),
            workload: Some(config::load_workload(&workload_file.to_string_lossy())?),
            input: Input::Values(values),
            dram: DramKind::Native,
            timeline: true,
        },
        Experiment {
            name: "spatten-gpt2-small".into(),
            arch,
            workload: Some(config::load_workload("gpt2-small")?),
            input: Input::Synthetic,
            dram: DramKind::Native,
            timeline: false,
        },
    ];
    let outs: Vec<OutputDir> = jobs
        .iter()
        .map(|e| OutputDir::new(PathBuf::from("reports").join(&e.name), "run"))
        .collect();
    for out in &outs {
        out.check()?;
    }
    for (e, out) in jobs.iter().zip(&outs) {
        println!("{}\n", run_and_report(e, &[], out, false)?);
    }
    println!("Open the summaries above; figures are in each report's figures/ folder.");
    Ok(ExitCode::SUCCESS)
}
