//! `spatten golden`: golden vectors of the reference datapath for RTL verification.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::output_dir::OutputDir;
use crate::reference::golden;

#[derive(Debug, Args)]
pub struct GoldenArgs {
    /// Directory to write (replaced atomically if spatten wrote it; a folder with other files
    /// is refused).
    #[arg(long, required_unless_present = "check")]
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
    /// Re-read DIR and recompute every expected output instead of writing.
    #[arg(long, value_name = "DIR", conflicts_with = "out")]
    pub check: Option<PathBuf>,
}

pub fn run(args: GoldenArgs) -> anyhow::Result<ExitCode> {
    if let Some(dir) = args.check {
        for (module, n) in golden::verify(&dir)? {
            println!("ok: {module} ({n} vectors)");
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
