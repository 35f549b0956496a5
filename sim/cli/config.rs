//! `spatten config`: check, show and list configurations.

use std::path::Path;
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};

use crate::config::{self, ArchConfig, ConfigError, ConfigKind, WorkloadConfig, presets};

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate configuration files; prints one line per file, exits 2 if any is invalid.
    ///
    /// The kind (architecture or workload) is taken from --kind, else guessed from the
    /// file's tables ([model], [stage], [quant], ... or a workload base mean workload).
    Check {
        /// Files or preset names.
        #[arg(required = true)]
        files: Vec<String>,
        /// Read the files as this kind instead of guessing it from their tables.
        #[arg(long, value_enum)]
        kind: Option<Kind>,
    },
    /// Print a resolved configuration (base applied) as TOML.
    Show {
        /// Preset name or file.
        name: String,
        /// Read the files as this kind instead of guessing it from their tables.
        #[arg(long, value_enum)]
        kind: Option<Kind>,
    },
    /// List the shipped presets.
    List,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    /// An architecture (arch/*.toml).
    Arch,
    /// A workload (workloads/*.toml).
    Workload,
}

pub fn run(cmd: ConfigCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ConfigCommand::Check { files, kind } => {
            let mut failed = false;
            for f in &files {
                match load_any(f, kind) {
                    Ok((k, name)) => println!("ok: {f} ({} {name})", k.label()),
                    Err(e) => {
                        eprintln!("error: {e}");
                        failed = true;
                    }
                }
            }
            Ok(if failed {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
        ConfigCommand::Show { name, kind } => {
            let text = match guess_kind(&name, kind) {
                ConfigKind::Arch => config::to_toml(&config::load_arch(&name)?),
                ConfigKind::Workload => config::to_toml(&config::load_workload(&name)?),
            };
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        ConfigCommand::List => {
            println!("architectures (--arch):");
            for (name, _) in presets::ARCH {
                let a: ArchConfig = config::load_arch(name)?;
                println!(
                    "  {name:<24} {} QxK multipliers, {} HBM channels ({:.0} GB/s), {:.0} MHz",
                    a.qk.multipliers,
                    a.hbm.channels,
                    a.hbm.total_bandwidth_gbps(),
                    a.clock.frequency_mhz
                );
            }
            println!("workloads (--workload):");
            for (name, _) in presets::WORKLOAD {
                let w: WorkloadConfig = config::load_workload(name)?;
                let kv = match w.model.kv_heads() {
                    k if k == w.model.heads => String::new(),
                    k => format!(" ({k} K/V)"),
                };
                let cached = if w.stage.runs_prompt() {
                    ""
                } else {
                    " (prompt cached)"
                };
                println!(
                    "  {name:<24} {} layers x {} heads{kv}, D = {}, {}, {} + {} tokens{cached}",
                    w.model.layers,
                    w.model.heads,
                    w.model.head_dim,
                    w.stage.kind.label(),
                    w.stage.prompt_tokens,
                    w.stage.generated_tokens
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn load_any(spec: &str, kind: Option<Kind>) -> Result<(ConfigKind, String), ConfigError> {
    match guess_kind(spec, kind) {
        ConfigKind::Arch => config::load_arch(spec).map(|a| (ConfigKind::Arch, a.name)),
        ConfigKind::Workload => config::load_workload(spec).map(|w| (ConfigKind::Workload, w.name)),
    }
}

/// Workload preset names, workload tables and a workload `base` identify workloads; everything
/// else is an architecture.
fn guess_kind(spec: &str, kind: Option<Kind>) -> ConfigKind {
    match kind {
        Some(Kind::Arch) => return ConfigKind::Arch,
        Some(Kind::Workload) => return ConfigKind::Workload,
        None => {}
    }
    if presets::WORKLOAD.iter().any(|(n, _)| *n == spec) {
        return ConfigKind::Workload;
    }
    if presets::ARCH.iter().any(|(n, _)| *n == spec) {
        return ConfigKind::Arch;
    }
    let Ok(text) = std::fs::read_to_string(Path::new(spec)) else {
        return ConfigKind::Arch;
    };
    let Ok(table) = text.parse::<toml::Table>() else {
        return ConfigKind::Arch;
    };
    const WORKLOAD_TABLES: [&str; 6] = [
        "model",
        "stage",
        "token_pruning",
        "head_pruning",
        "local_v",
        "quant",
    ];
    let base_is_workload = match table.get("base") {
        Some(toml::Value::String(b)) => {
            presets::WORKLOAD.iter().any(|(n, _)| n == b) || b.contains("workloads/")
        }
        _ => false,
    };
    if base_is_workload || WORKLOAD_TABLES.iter().any(|t| table.contains_key(*t)) {
        ConfigKind::Workload
    } else {
        ConfigKind::Arch
    }
}
