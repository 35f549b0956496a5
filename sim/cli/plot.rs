//! `spatten plot`: figures again from saved reports, several runs overlaid.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::report::overlay;

#[derive(Debug, Args)]
pub struct PlotArgs {
    /// Report directories written by `spatten run` (one or more: design points, workloads).
    #[arg(required = true)]
    pub reports: Vec<PathBuf>,
    /// Where the figures go.
    #[arg(long, default_value = "reports/overlay")]
    pub out: PathBuf,
}

pub fn run(a: PlotArgs) -> anyhow::Result<ExitCode> {
    let runs = a
        .reports
        .iter()
        .map(|d| overlay::read_run(d))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for f in overlay::draw(&runs, &a.out)? {
        println!("{}", f.display());
    }
    Ok(ExitCode::SUCCESS)
}
