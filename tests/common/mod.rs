//! Helpers shared by integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A path under the shared data folder: `$SPATTEN_SHARED`, else `../shared` beside the
/// repository, else `/work/shared`.
pub fn shared(rel: &str) -> PathBuf {
    if let Ok(dir) = std::env::var("SPATTEN_SHARED") {
        return PathBuf::from(dir).join(rel);
    }
    let beside = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared"));
    if beside.is_dir() {
        beside.join(rel)
    } else {
        PathBuf::from("/work/shared").join(rel)
    }
}

/// Runs the `spatten` binary in `cwd`; returns (exit code, stdout, stderr).
pub fn spatten_in(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_spatten"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs the `spatten` binary in the repository root.
pub fn spatten(args: &[&str]) -> (i32, String, String) {
    spatten_in(args, Path::new(env!("CARGO_MANIFEST_DIR")))
}
