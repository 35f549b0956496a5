//! `spatten run`: one experiment end to end, written as a report directory.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::config;
use crate::experiment::{self, DramKind, Experiment, Input};
use crate::output_dir::OutputDir;
use crate::report::run_report;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Architecture preset or TOML file.
    #[arg(long, default_value = "spatten")]
    pub arch: String,
    /// Workload preset or TOML file (needed unless --trace is given).
    #[arg(long)]
    pub workload: Option<String>,
    /// Run the reference on this value tensor file instead of synthetic values.
    #[arg(long, conflicts_with = "trace")]
    pub values: Option<PathBuf>,
    /// Replay this attention trace (from `spatten trace reference` or an import).
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Memory model: native (command-level HBM model), simple (bandwidth + latency), or
    /// dramsim3 (needs a build with --features dramsim3).
    #[arg(long, default_value = "native")]
    pub dram: DramKind,
    /// Report directory [default: reports/<arch>-<workload>]. An existing one is replaced
    /// only if spatten wrote it and it holds nothing else; otherwise the run is refused.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write into --out even if it holds files spatten did not write: they are kept, and only
    /// spatten's own files are replaced.
    #[arg(long)]
    pub force: bool,
    /// Also write timeline.json (per-module busy intervals for ui.perfetto.dev).
    #[arg(long)]
    pub timeline: bool,
    /// A measured baseline to compare with (from `spatten baseline measure-cpu` or
    /// scripts/gpu_baseline.py); repeatable. Modelled device profiles are always included.
    #[arg(long = "baseline", value_name = "FILE")]
    pub baselines: Vec<PathBuf>,
    /// No progress display.
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(a: RunArgs) -> anyhow::Result<ExitCode> {
    let arch = config::load_arch(&a.arch)?;
    let workload = a
        .workload
        .as_deref()
        .map(config::load_workload)
        .transpose()?;
    let input = match (&a.values, &a.trace) {
        (Some(v), _) => Input::Values(v.clone()),
        (_, Some(t)) => Input::Trace(t.clone()),
        _ => Input::Synthetic,
    };
    if workload.is_none() && input != Input::Synthetic && a.trace.is_none() {
        anyhow::bail!("--values needs --workload (the pruning and quantization settings to apply)");
    }
    if workload.is_none() && a.trace.is_none() {
        anyhow::bail!("give --workload W (see `spatten config list`) or --trace T");
    }
    let label = match (&workload, &a.trace) {
        (Some(w), _) => w.name.clone(),
        (None, Some(t)) => t
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        _ => unreachable!("checked above"),
    };
    let name = format!("{}-{}", arch.name, label);
    let out = OutputDir::new(
        a.out
            .clone()
            .unwrap_or_else(|| PathBuf::from("reports").join(&name)),
        "run",
    )
    .force(a.force);
    // Before any work: a refused --out should not cost a simulation.
    out.check()?;
    let experiment = Experiment {
        name,
        arch,
        workload,
        input,
        dram: a.dram,
        timeline: a.timeline,
    };
    // Name the inputs as given (files or presets): errors about the pair carry only names.
    let inputs = match (&a.workload, &a.trace) {
        (Some(w), _) => format!("--arch {} --workload {w}", a.arch),
        (None, Some(t)) => format!("--arch {} --trace {}", a.arch, t.display()),
        _ => format!("--arch {}", a.arch),
    };
    let summary =
        run_and_report(&experiment, &a.baselines, &out, a.quiet).map_err(|e| e.context(inputs))?;
    println!("{summary}");
    Ok(ExitCode::SUCCESS)
}

/// Runs with a spinner naming the phase, writes the report, and returns a short summary.
pub fn run_and_report(
    e: &Experiment,
    measured: &[PathBuf],
    out: &OutputDir,
    quiet: bool,
) -> anyhow::Result<String> {
    let spinner = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    spinner.set_style(
        ProgressStyle::with_template("{spinner} {prefix}: {msg} ({elapsed})").expect("template"),
    );
    spinner.set_prefix(e.name.clone());
    spinner.enable_steady_tick(Duration::from_millis(120));
    let result = e.run_with(&mut |phase| spinner.set_message(phase.to_string()));
    let result = match result.and_then(|mut r| {
        experiment::add_measured_baselines(&mut r, measured)?;
        Ok(r)
    }) {
        Ok(r) => r,
        Err(err) => {
            spinner.finish_and_clear();
            return Err(err.context(format!("experiment {}", e.name)));
        }
    };
    spinner.set_message("writing the report");
    if let Err(err) = run_report::write_to(&result, out) {
        spinner.finish_and_clear();
        return Err(err);
    }
    spinner.finish_and_clear();
    let s = &result.stats;
    let spill = &s.dram.score_spill;
    let spilled = if spill.is_zero() {
        String::new()
    } else {
        format!(
            " (+ {:.2} MB of exponentials spilled and read back)",
            (spill.bytes_written + spill.bytes_read) as f64 / 1e6
        )
    };
    Ok(format!(
        "{}: {} cycles ({:.3} ms), {:.0} effective GOP/s, {:.2} MB from DRAM{spilled}, {:.3} mJ\n  report: {}",
        result.name,
        s.cycles,
        s.seconds * 1e3,
        s.effective_gops,
        s.dram.bytes_read as f64 / 1e6,
        result.energy.total_j * 1e3,
        out.path().join("summary.md").display()
    ))
}
