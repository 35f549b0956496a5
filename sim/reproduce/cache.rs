//! `spatten reproduce --cache DIR`: keeps what a run recomputes from the same inputs every
//! time (the reference traces and the accuracy rows) in a folder, one file per result, named
//! by a SHA-256 of everything it depends on: the build that made it (a fingerprint of the
//! executable, so a rebuilt binary never reads an older build's results), what it is, and its
//! inputs (the workload TOML, the model and data files). A later run with the same key reads
//! the file instead of recomputing; results are the same bytes either way. An entry that
//! cannot be read back (cut short, edited) is recomputed and replaced.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::trace::{self, AttentionTrace};

#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
    build: String,
}

impl Cache {
    /// A cache in `dir` (created when missing) for results of the build `build`.
    pub fn new(dir: &Path, build: String) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("{}: creating the cache folder: {e}", dir.display()))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            build,
        })
    }

    /// SHA-256 of the running executable's bytes: identifies the code that computes results.
    pub fn executable_fingerprint() -> anyhow::Result<String> {
        let exe = std::env::current_exe()
            .map_err(|e| anyhow::anyhow!("cannot locate the running executable: {e}"))?;
        let mut hasher = Sha256::new();
        hash_file(&mut hasher, &exe)?;
        Ok(hex(&hasher.finalize()))
    }

    fn entry(&self, what: &str, key: &[&[u8]], ext: &str) -> PathBuf {
        let mut h = Sha256::new();
        for part in [self.build.as_bytes(), what.as_bytes()]
            .into_iter()
            .chain(key.iter().copied())
        {
            // Length-prefixed, so no two different part lists hash the same bytes.
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        self.dir
            .join(format!("{what}-{}.{ext}", &hex(&h.finalize())[..32]))
    }

    /// The trace stored under `key`, if there is a readable one.
    pub fn read_trace(&self, key: &[&[u8]]) -> Option<AttentionTrace> {
        trace::read_trace(&self.entry("trace", key, "safetensors")).ok()
    }

    /// Stores a trace under `key` (atomically: a reader sees the old entry or the new one).
    pub fn store_trace(&self, key: &[&[u8]], t: &AttentionTrace) -> anyhow::Result<()> {
        Ok(trace::write_trace(
            &self.entry("trace", key, "safetensors"),
            t,
        )?)
    }

    /// The value stored under `key` (as JSON), or `make`'s, stored for next time.
    pub fn json<T: Serialize + DeserializeOwned>(
        &self,
        what: &str,
        key: &[&[u8]],
        make: impl FnOnce() -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let path = self.entry(what, key, "json");
        if let Some(v) = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
        {
            return Ok(v);
        }
        let v = make()?;
        let text = serde_json::to_vec(&v)?;
        trace::container::write_atomic(&path, &text)?;
        Ok(v)
    }
}

/// SHA-256 over the names and contents of the files directly in `dir` (in name order), for a
/// key that changes when any of them does.
pub fn hash_dir(dir: &Path) -> anyhow::Result<String> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("{}: cannot list: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    names.sort();
    let mut h = Sha256::new();
    for p in &names {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
        h.update(name.unwrap_or_default().as_bytes());
        hash_file(&mut h, p)?;
    }
    Ok(hex(&h.finalize()))
}

/// SHA-256 of one file's contents.
pub fn hash_path(path: &Path) -> anyhow::Result<String> {
    let mut h = Sha256::new();
    hash_file(&mut h, path)?;
    Ok(hex(&h.finalize()))
}

fn hash_file(h: &mut Sha256, path: &Path) -> anyhow::Result<()> {
    let mut f = std::fs::File::open(path)
        .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
        if n == 0 {
            return Ok(());
        }
        h.update(&buf[..n]);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_workload;
    use crate::reproduce::runner::{TraceKind, build_trace};

    #[test]
    fn a_cached_trace_reads_back_identical_and_a_damaged_entry_is_remade() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path(), "build-a".into()).unwrap();
        let mut w = load_workload("bert-base").unwrap();
        w.model.layers = 2;
        let made = build_trace(&w, TraceKind::Reference).unwrap();
        assert!(cache.read_trace(&[b"w"]).is_none());
        cache.store_trace(&[b"w"], &made).unwrap();
        assert_eq!(cache.read_trace(&[b"w"]).unwrap(), made);
        // Another build, or another key, does not see the entry.
        let other = Cache::new(dir.path(), "build-b".into()).unwrap();
        assert!(other.read_trace(&[b"w"]).is_none());
        assert!(cache.read_trace(&[b"v"]).is_none());
        // A cut entry reads as missing (and is then made and stored again).
        let entry = cache.entry("trace", &[b"w"], "safetensors");
        let bytes = std::fs::read(&entry).unwrap();
        std::fs::write(&entry, &bytes[..bytes.len() / 2]).unwrap();
        assert!(cache.read_trace(&[b"w"]).is_none());
    }

    #[test]
    fn json_entries_round_trip_floats_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path(), "b".into()).unwrap();
        let v = vec![0.1f64 + 0.2, 1.0 / 3.0, 6.02e23];
        assert_eq!(cache.json("x", &[], || Ok(v.clone())).unwrap(), v);
        let back: Vec<f64> = cache.json("x", &[], || anyhow::bail!("cached")).unwrap();
        assert_eq!(back, v);
    }
}
