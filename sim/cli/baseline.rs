//! `spatten baseline`: device profiles, modelled baselines and the measured host CPU.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;

use crate::baseline::cpu::{CpuMeasureOptions, EnergySource, measure_cpu};
use crate::baseline::profile::all_presets;
use crate::baseline::rapl::Rapl;
use crate::baseline::{BaselineResult, DeviceKind, Precision, load_profile, model_workload};
use crate::config;

#[derive(Debug, Subcommand)]
pub enum BaselineCommand {
    /// List the device profiles with their key numbers.
    List,
    /// Print a device profile (preset name or TOML path) with every source.
    Show { name: String },
    /// Model a device profile on a workload (roofline or published figures).
    Model {
        /// Device profile: preset name or TOML path.
        #[arg(long)]
        device: String,
        /// Workload preset name or TOML path.
        #[arg(long)]
        workload: String,
        #[arg(long, value_enum, default_value = "fp32")]
        precision: Precision,
        /// Write the result (JSON, format spatten-baseline v1) here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Time the dense f32 attention of a workload on this machine's CPU.
    MeasureCpu {
        /// Workload preset name or TOML path.
        #[arg(long)]
        workload: String,
        /// Timed runs per stage (after warm-up).
        #[arg(long, default_value_t = 10)]
        repeats: u32,
        /// Untimed warm-up runs per stage.
        #[arg(long, default_value_t = 2)]
        warmup: u32,
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
    Read { file: PathBuf },
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
            out,
        } => {
            let p = load_profile(&device)?;
            let w = config::load_workload(&workload)?;
            let r = model_workload(&p, &w, precision)?;
            print!("{}", r.summary());
            if let Some(out) = out {
                r.write(&out)?;
                println!("wrote {}", out.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        BaselineCommand::MeasureCpu {
            workload,
            repeats,
            warmup,
            threads,
            host_profile,
            out,
        } => {
            let w = config::load_workload(&workload)?;
            let energy = match Rapl::detect() {
                Some(r) => EnergySource::Rapl(r),
                None => {
                    let p = load_profile(&host_profile)?;
                    if p.kind != DeviceKind::Cpu {
                        anyhow::bail!(
                            "--host-profile {} is a {}, not a CPU profile",
                            p.name,
                            p.kind.label()
                        );
                    }
                    EnergySource::Profile(Box::new(p))
                }
            };
            let opts = CpuMeasureOptions {
                repeats,
                warmup,
                threads,
                idle_window: Duration::from_millis(1000),
            };
            eprintln!(
                "timing {} ({} warm-up + {} timed runs per stage)...",
                w.name, warmup, repeats
            );
            let r = measure_cpu(&w, &opts, &energy)?;
            print!("{}", r.summary());
            if let Some(out) = out {
                r.write(&out)?;
                println!("wrote {}", out.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        BaselineCommand::Read { file } => {
            let r = BaselineResult::read(&file)?;
            print!("{}", r.summary());
            Ok(ExitCode::SUCCESS)
        }
    }
}
