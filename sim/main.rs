use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Die quietly when the reader of our output goes away (`spatten trace info T | head`),
    // like other command-line tools, instead of panicking on a failed print.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = spatten::cli::Cli::parse();
    match spatten::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
