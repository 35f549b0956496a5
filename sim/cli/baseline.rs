//! `spatten baseline`: device profiles, modelled baselines and the measured host CPU.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;

use crate::baseline::cpu::{CpuMeasureOptions, EnergySource, measure_cpu};
use crate::baseline::profile::all_presets;
use crate::baseline::rapl::Rapl;
use crate::baseline::{BaselineModel, model_presets_as, model_workload_as};
use crate::baseline::{
    BaselineResult, DeviceKind, Precision, StageKindLabel, StageResult, load_profile,
};
use crate::config;
use crate::report::plot::{self, Frame, GroupedBars, Series, Written};

/// What `baseline measure-cpu` times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CpuFramework {
    /// Our own f32 dense attention (rayon over heads), median of the runs.
    Native,
    /// Eager PyTorch running the HF models' attention operators; mean after trimming 15 %
    /// each side, as the paper.
    Torch,
}

#[derive(Debug, Subcommand)]
pub enum BaselineCommand {
    /// List the device profiles with their key numbers.
    List,
    /// Print a device profile (preset name or TOML path) with every source.
    Show {
        /// Device profile: preset name (see `baseline list`) or TOML path.
        name: String,
    },
    /// Model a device profile on a workload (roofline or published figures).
    Model {
        /// Device profile: preset name, TOML path, or `all` for every shipped profile.
        #[arg(long)]
        device: String,
        /// Workload preset name or TOML path.
        #[arg(long)]
        workload: String,
        /// Arithmetic precision the device computes the attention in.
        #[arg(long, value_enum, default_value = "fp32")]
        precision: Precision,
        /// How a CPU/GPU is costed: eager operators as the paper measured (fitted constants),
        /// three ideal kernels per layer, or one fused kernel per layer (both lower bounds).
        #[arg(long, value_enum, default_value = "eager")]
        model: BaselineModel,
        /// Write the result (JSON, format spatten-baseline v1) here; with `--device all`, a
        /// folder that receives one `<device>.json` per profile.
        #[arg(long)]
        out: Option<PathBuf>,
        /// With `--device all`: write latency and energy figures (SVG + PNG) into this folder.
        #[arg(long)]
        figures: Option<PathBuf>,
    },
    /// Refit the eager model's constants to the paper's published measurements and print
    /// each anchor with the model's value and the residual.
    Fit,
    /// Time the dense f32 attention of a workload on this machine's CPU: our own kernel
    /// (`native`), or the HF models' attention code in eager PyTorch with the paper's protocol
    /// (`torch`, via scripts/gpu_baseline.py).
    MeasureCpu {
        /// Workload preset name or TOML path.
        #[arg(long)]
        workload: String,
        /// What is timed: our f32 kernel, or eager PyTorch running the HF attention operators.
        #[arg(long, value_enum, default_value = "native")]
        framework: CpuFramework,
        /// Timed runs per stage (after warm-up) [default: 10 native, 1000 torch (the paper's)].
        #[arg(long)]
        repeats: Option<u32>,
        /// Untimed warm-up runs per stage [default: 2 native, 50 torch].
        #[arg(long)]
        warmup: Option<u32>,
        /// With `--framework torch`: the Python interpreter that has PyTorch.
        #[arg(long, default_value = "python3")]
        python: PathBuf,
        /// Worker threads (default: all available cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Profile whose power is used when RAPL is not readable.
        #[arg(long, default_value = "generic-host")]
        host_profile: String,
        /// Write the result (JSON, format spatten-baseline v1) here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Validate and summarize a baseline result file (e.g. from scripts/gpu_baseline.py).
    Read {
        /// Baseline result JSON (format spatten-baseline v1).
        file: PathBuf,
    },
}

pub fn run(cmd: BaselineCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BaselineCommand::List => {
            println!(
                "{:<16} {:<11} {:>12} {:>10} {:>9} {:>9}  description",
                "name", "kind", "GFLOP/s|GOP/s", "GB/s", "dyn. W", "ridge"
            );
            for p in all_presets()? {
                match (&p.roofline, &p.published) {
                    (Some(r), _) => {
                        let dynamic = p
                            .power
                            .as_ref()
                            .map(|w| w.dynamic().watts)
                            .unwrap_or(f64::NAN);
                        println!(
                            "{:<16} {:<11} {:>12.1} {:>10.1} {:>9.1} {:>9.2}  {}",
                            p.name,
                            p.kind.label(),
                            r.peak_fp32_gflops.value,
                            r.memory_bandwidth_gbps.value,
                            dynamic,
                            r.ridge_flop_per_byte(),
                            p.description
                        );
                    }
                    (None, Some(x)) => println!(
                        "{:<16} {:<11} {:>12.1} {:>10} {:>9.3} {:>9}  {} ({} GOP/J)",
                        p.name,
                        p.kind.label(),
                        x.throughput_gops.value,
                        "-",
                        x.throughput_gops.value / x.energy_efficiency_gops_per_j.value,
                        "-",
                        p.description,
                        x.energy_efficiency_gops_per_j.value
                    ),
                    (None, None) => {}
                }
            }
            println!(
                "(fp32 peak; ridge = achieved compute / achieved bandwidth in FLOP/B; dyn. W = loaded - idle)"
            );
            Ok(ExitCode::SUCCESS)
        }
        BaselineCommand::Show { name } => {
            let p = load_profile(&name)?;
            print!("{}", config::to_toml(&p));
            if let Some(w) = &p.power {
                let d = w.dynamic();
                println!("# dynamic power: {:.3} W ({})", d.watts, d.basis);
            }
            if let Some(r) = &p.roofline {
                println!(
                    "# ridge point: {:.3} FLOP/B (achieved compute / achieved bandwidth)",
                    r.ridge_flop_per_byte()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        BaselineCommand::Model {
            device,
            workload,
            precision,
            model,
            out,
            figures,
        } if device == "all" => {
            let w = config::load_workload(&workload)?;
            let (results, skipped) = model_presets_as(&w, precision, model)?;
            for r in &results {
                print!("{}", r.summary());
            }
            if !skipped.is_empty() {
                println!(
                    "skipped (no {} peak): {}",
                    precision.label(),
                    skipped.join(", ")
                );
            }
            if let Some(dir) = out {
                make_dir(&dir)?;
                for r in &results {
                    r.write(&dir.join(format!("{}.json", r.device)))?;
                }
                println!(
                    "wrote {} result files into {}",
                    results.len(),
                    dir.display()
                );
            }
            if let Some(dir) = figures {
                make_dir(&dir)?;
                for written in baseline_figures(&dir, &w.name, &results)? {
                    println!(
                        "wrote {} and {}",
                        written.svg.display(),
                        written.png.display()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        BaselineCommand::Model {
            device,
            workload,
            precision,
            model,
            out,
            figures,
        } => {
            if figures.is_some() {
                anyhow::bail!("--figures needs --device all");
            }
            let p = load_profile(&device)?;
            let w = config::load_workload(&workload)?;
            let r = model_workload_as(&p, &w, precision, model)?;
            print!("{}", r.summary());
            write_result(&r, out)
        }
        BaselineCommand::MeasureCpu {
            workload,
            framework: CpuFramework::Torch,
            repeats,
            warmup,
            python,
            threads,
            host_profile,
            out,
        } => {
            let w = config::load_workload(&workload)?;
            let host = host_cpu_profile(&host_profile)?;
            let opts = crate::baseline::torch::TorchOptions {
                python,
                runs: repeats.unwrap_or(1000),
                warmup: warmup.unwrap_or(50),
                threads,
            };
            eprintln!(
                "timing {} in eager PyTorch ({} warm-up + {} timed runs per stage)...",
                w.name, opts.warmup, opts.runs
            );
            let r = crate::baseline::torch::measure_torch(&w, &opts, &host)?;
            print!("{}", r.summary());
            // The modelled framework overhead beside the measured one.
            if let Ok(m) = model_workload_as(&host, &w, Precision::Fp32, BaselineModel::Eager) {
                for (measured, modelled) in r.stages.iter().zip(&m.stages) {
                    println!(
                        "  {:<13} measured {:.3} ms; modelled eager on profile {}: {:.3} ms",
                        measured.stage.label(),
                        measured.latency_s * 1e3,
                        host.name,
                        modelled.latency_s * 1e3
                    );
                }
            }
            write_result(&r, out)
        }
        BaselineCommand::MeasureCpu {
            workload,
            framework: CpuFramework::Native,
            repeats,
            warmup,
            python: _,
            threads,
            host_profile,
            out,
        } => {
            let (repeats, warmup) = (repeats.unwrap_or(10), warmup.unwrap_or(2));
            let w = config::load_workload(&workload)?;
            let energy = match Rapl::detect() {
                Some(r) => EnergySource::Rapl(r),
                None => EnergySource::Profile(Box::new(host_cpu_profile(&host_profile)?)),
            };
            let opts = CpuMeasureOptions {
                repeats,
                warmup,
                threads,
                idle_window: Duration::from_millis(1000),
                progress: true,
            };
            eprintln!(
                "timing {} ({} warm-up + {} timed runs per stage)...",
                w.name, warmup, repeats
            );
            let r = measure_cpu(&w, &opts, &energy)?;
            print!("{}", r.summary());
            write_result(&r, out)
        }
        BaselineCommand::Fit => {
            print_fit()?;
            Ok(ExitCode::SUCCESS)
        }
        BaselineCommand::Read { file } => {
            let r = BaselineResult::read(&file)?;
            print!("{}", r.summary());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `--host-profile`: a CPU profile, whose power stands in for an unreadable RAPL counter.
fn host_cpu_profile(name: &str) -> anyhow::Result<crate::baseline::DeviceProfile> {
    let p = load_profile(name)?;
    if p.kind != DeviceKind::Cpu {
        anyhow::bail!(
            "--host-profile {} is a {}, not a CPU profile",
            p.name,
            p.kind.label()
        );
    }
    Ok(p)
}

/// Writes a result where `--out` says, if it says.
fn write_result(r: &BaselineResult, out: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    if let Some(out) = out {
        r.write(&out)?;
        println!("wrote {}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn print_fit() -> anyhow::Result<()> {
    use crate::baseline::fit;
    let f = crate::reproduce::benchmarks::baseline_fit()?;
    println!("fitted constants (arch/baselines/*.toml hold them rounded to 3 digits):");
    for c in &f.constants {
        let shipped = fit::shipped_values(c)?;
        println!(
            "  {:<16} {:<14} {:>10.4}   shipped {}",
            c.device,
            c.key,
            c.value,
            shipped
                .iter()
                .map(|v| format!("{v}"))
                .collect::<Vec<_>>()
                .join(" / ")
        );
    }
    println!("anchors (published measurement vs the model with the fitted constants):");
    println!(
        "  {:<16} {:<9} {:>11} {:>11} {:>9}  what",
        "device", "role", "published", "modelled", "residual"
    );
    for a in &f.anchors {
        println!(
            "  {:<16} {:<9} {:>11.4} {:>11.4} {:>+8.1}%  {} [{}]",
            a.device,
            if a.fitted { "fitted" } else { "held out" },
            a.published,
            a.modelled,
            a.residual() * 100.0,
            a.what,
            a.unit
        );
    }
    Ok(())
}

/// Latency and energy per device and stage (log scale), from modelled or measured results.
fn baseline_figures(
    dir: &Path,
    workload: &str,
    results: &[BaselineResult],
) -> anyhow::Result<Vec<Written>> {
    let categories: Vec<String> = results.iter().map(|r| r.device.clone()).collect();
    let mut stages: Vec<StageKindLabel> = Vec::new();
    for r in results {
        for s in &r.stages {
            if !stages.contains(&s.stage) {
                stages.push(s.stage);
            }
        }
    }
    let series = |value: &dyn Fn(&StageResult) -> f64| -> anyhow::Result<Vec<Series>> {
        stages
            .iter()
            .map(|st| {
                let values = results
                    .iter()
                    .map(|r| {
                        r.stage(*st).map(value).ok_or_else(|| {
                            anyhow::anyhow!("{} has no {} stage", r.device, st.label())
                        })
                    })
                    .collect::<anyhow::Result<Vec<f64>>>()?;
                Ok(Series {
                    name: st.label().to_string(),
                    values,
                })
            })
            .collect()
    };
    let tags: Vec<&str> = results.iter().map(|r| r.provenance.label()).collect();
    let tag = if tags.iter().all(|t| *t == tags[0]) {
        tags.first().copied().unwrap_or("")
    } else {
        "measured and modelled"
    };
    let mut written = Vec::new();
    let mut frame = Frame::new(
        &format!("Dense attention latency, {workload} ({tag})"),
        "Device",
        "Latency per stage (ms, log scale)",
    );
    frame.size = (1100, 650);
    let latency = GroupedBars {
        frame,
        categories: categories.clone(),
        series: series(&|s| s.latency_s * 1e3)?,
        log_y: true,
        value_labels: Some(String::new()),
        reference: None,
    };
    written.push(plot::grouped_bars(
        &dir.join(format!("{workload}-baseline-latency")),
        &latency,
    )?);
    let mut frame = Frame::new(
        &format!("Dense attention energy, {workload} ({tag})"),
        "Device",
        "Dynamic energy per stage (mJ, log scale)",
    );
    frame.size = (1100, 650);
    let energy = GroupedBars {
        frame,
        categories,
        series: series(&|s| s.energy_j * 1e3)?,
        log_y: true,
        value_labels: Some(String::new()),
        reference: None,
    };
    written.push(plot::grouped_bars(
        &dir.join(format!("{workload}-baseline-energy")),
        &energy,
    )?);
    Ok(written)
}

fn make_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))
}
