//! Helpers shared by integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// A path under the shared data folder: `$SPATTEN_SHARED`, else `../shared` beside the
/// repository, else `/work/shared`.
pub fn shared(rel: &str) -> PathBuf {
    if let Ok(dir) = std::env::var("SPATTEN_SHARED") {
        return PathBuf::from(dir).join(rel);
    }
    let beside = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared")).join(rel);
    if beside.exists() {
        beside
    } else {
        PathBuf::from("/work/shared").join(rel)
    }
}
