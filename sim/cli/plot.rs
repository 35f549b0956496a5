//! `spatten plot`: figures again from saved reports, several runs overlaid.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::output_dir::OutputDir;
use crate::report::overlay;

#[derive(Debug, Args)]
pub struct PlotArgs {
    /// Report directories written by `spatten run` (one or more: design points, workloads).
    #[arg(required = true)]
    pub reports: Vec<PathBuf>,
    /// Where the figures go (replaced as a whole if spatten wrote it; a folder with other
    /// files is refused).
    #[arg(long, default_value = "reports/overlay")]
    pub out: PathBuf,
    /// Write into --out even if it holds files spatten did not write (they are kept).
    #[arg(long)]
    pub force: bool,
}

pub fn run(a: PlotArgs) -> anyhow::Result<ExitCode> {
    let out = OutputDir::new(&a.out, "plot").force(a.force);
    out.check()?;
    // Every input is read and checked before the first figure: no partial output.
    let mut runs = a
        .reports
        .iter()
        .map(|d| overlay::read_run(d))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let dropped = overlay::keep_shared_baselines(&mut runs)?;
    if !dropped.is_empty() {
        eprintln!(
            "note: plotting only the baselines every report has; left out: {}",
            dropped.join(", ")
        );
    }
    let files = out.write(|dir| -> anyhow::Result<Vec<PathBuf>> {
        Ok(overlay::draw(&runs, dir)?
            .into_iter()
            .map(|f| f.strip_prefix(dir).map(PathBuf::from).unwrap_or(f))
            .collect())
    })?;
    for f in files {
        println!("{}", a.out.join(f).display());
    }
    Ok(ExitCode::SUCCESS)
}
