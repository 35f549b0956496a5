//! `spatten golden`: golden vectors of the reference datapath for RTL verification.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::config;
use crate::hw::topk::topk_call_cycles;
use crate::output_dir::OutputDir;
use crate::reference::golden;
use crate::trace::{TopkCall, TopkPurpose};

#[derive(Debug, Args)]
pub struct GoldenArgs {
    /// Directory to write (replaced atomically if spatten wrote it; a folder with other files
    /// is refused).
    #[arg(long, required_unless_present_any = ["check", "topk_cycles"])]
    pub out: Option<PathBuf>,
    /// Write into --out even if it holds files spatten did not write (they are kept).
    #[arg(long)]
    pub force: bool,
    /// Module(s) to write (repeatable): quantizer, qk, softmax, requant, topk,
    /// zero_eliminator, pv, importance. Default: all.
    #[arg(long = "module")]
    pub modules: Vec<String>,
    /// Vectors per module (at most 10000).
    #[arg(long, default_value_t = 16)]
    pub count: usize,
    /// Seed of the random inputs.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Verify DIR: every file's line format, word count and sha256 against the manifest, and
    /// every expected output recomputed by the reference.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["out", "topk_cycles"])]
    pub check: Option<PathBuf>,
    /// Verify DIR, then print the cycle simulator's cycles for each top-k vector of DIR as
    /// one call of the local-V engine of --arch (hex, one line a vector: the RTL testbench
    /// reads it with $readmemh).
    #[arg(long, value_name = "DIR", conflicts_with = "out")]
    pub topk_cycles: Option<PathBuf>,
    /// Architecture preset or TOML file for --topk-cycles.
    #[arg(long, default_value = "spatten", requires = "topk_cycles")]
    pub arch: String,
}

pub fn run(args: GoldenArgs) -> anyhow::Result<ExitCode> {
    if let Some(dir) = args.check {
        for (module, n) in golden::verify(&dir)? {
            println!("ok: {module} ({n} vectors)");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(dir) = args.topk_cycles {
        let arch = config::load_arch(&args.arch)?;
        golden::verify(&dir)?;
        for v in golden::topk_vectors(&dir)? {
            let call = TopkCall {
                purpose: TopkPurpose::LocalValue,
                n: v.n,
                k: v.k,
                rounds: v.rounds,
                stages: Vec::new(),
            };
            println!("{:08x}", topk_call_cycles(&call, &arch.topk_value));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let out = args.out.expect("clap requires --out without --check");
    let target = OutputDir::new(&out, "golden").force(args.force);
    let manifest = golden::write_to(&target, &args.modules, args.count, args.seed)?;
    for m in &manifest.modules {
        println!("{}: {} vectors, {} files", m.name, m.vectors, m.files.len());
    }
    println!("wrote {}", out.display());
    Ok(ExitCode::SUCCESS)
}
