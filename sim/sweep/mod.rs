//! Design-space sweeps: specs, parallel and resumable runs, shards for clusters, merging and
//! Pareto fronts.

pub mod constraint;
pub mod evaluate;
pub mod plot;
pub mod results;
pub mod runner;
pub mod spec;

use std::path::{Path, PathBuf};

pub use runner::{Evaluator, SweepOptions, SweepSummary, run_sweep, run_sweep_with};
pub use spec::{Point, SweepSpec};

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    // The I/O error is part of the message, not a `source`, so `{:#}` does not repeat it.
    #[error("{}: {}{error}", path.display(), action.map(|a| format!("{a}: ")).unwrap_or_default())]
    Io {
        path: PathBuf,
        action: Option<&'static str>,
        error: std::io::Error,
    },
    #[error(transparent)]
    Output(#[from] crate::output_dir::OutputError),
    #[error("{path}: {reason}")]
    Format { path: PathBuf, reason: String },
    #[error("{0}")]
    Usage(String),
    #[error("{} point(s) missing from the merged results: {}", .0.len(), format_ids(.0))]
    Missing(Vec<usize>),
}

impl SweepError {
    pub fn io(path: &Path, error: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            action: None,
            error,
        }
    }

    /// An I/O error on `path` while doing `action` ("reading the results", ...).
    pub fn io_while(path: &Path, action: &'static str, error: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            action: Some(action),
            error,
        }
    }
}

/// Compresses ids into ranges: 1-3, 7, 9-10.
fn format_ids(ids: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let mut j = i;
        while j + 1 < ids.len() && ids[j + 1] == ids[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            ids[i].to_string()
        } else {
            format!("{}-{}", ids[i], ids[j])
        });
        i = j + 1;
    }
    parts.join(", ")
}

/// Parses `K/N` (0 <= K < N).
pub fn parse_shard(text: &str) -> Result<(usize, usize), String> {
    let (k, n) = text.split_once('/').ok_or("expected K/N, e.g. 0/4")?;
    let k: usize = k
        .trim()
        .parse()
        .map_err(|_| format!("shard index `{k}` is not a number"))?;
    let n: usize = n
        .trim()
        .parse()
        .map_err(|_| format!("shard count `{n}` is not a number"))?;
    if n == 0 || k >= n {
        return Err(format!("shard {k}/{n}: need 0 <= K < N"));
    }
    Ok((k, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_compressed_into_ranges() {
        assert_eq!(format_ids(&[1, 2, 3, 7, 9, 10]), "1-3, 7, 9-10");
    }

    #[test]
    fn shards_parse() {
        assert_eq!(parse_shard("2/4"), Ok((2, 4)));
        assert!(parse_shard("4/4").is_err());
        assert!(parse_shard("x").is_err());
    }
}
