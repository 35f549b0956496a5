use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = spatten::cli::Cli::parse();
    match spatten::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
