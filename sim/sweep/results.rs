//! Sweep results on disk: `sweep.json` (what was swept) and `results.csv` (one row per point,
//! appended as points finish, rewritten sorted by point id at the end). A row is written with
//! one `write_all` of a complete line, and readers ignore a final line without its newline, so
//! a crash never leaves a torn row behind.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::SweepError;
use crate::output_dir::{OutputDir, TMP_TAG};

pub const RESULTS_FILE: &str = "results.csv";
pub const MANIFEST_FILE: &str = "sweep.json";

/// What a results directory holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub name: String,
    pub spec_hash: String,
    pub points_total: usize,
    /// (index, count) when this directory holds one shard.
    pub shard: Option<(usize, usize)>,
    pub columns: Vec<String>,
    /// SHA-256 prefix of every file the spec reads (arch, workloads and their `base` chains),
    /// by file: a resumed run or a merge refuses when one changed.
    #[serde(default)]
    pub inputs: BTreeMap<String, String>,
}

impl Manifest {
    pub fn read(dir: &Path) -> Result<Self, SweepError> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| SweepError::io_while(&path, "reading the sweep manifest", e))?;
        serde_json::from_str(&text).map_err(|e| SweepError::Format {
            path,
            reason: e.to_string(),
        })
    }

    pub fn write(&self, dir: &Path) -> Result<(), SweepError> {
        let text = serde_json::to_string_pretty(self).expect("manifest serializes") + "\n";
        write_atomic(&dir.join(MANIFEST_FILE), text.as_bytes())
    }
}

/// Complete rows by point id, as read back from a results file.
pub type Rows = BTreeMap<usize, Vec<String>>;

/// Reads `results.csv`, checking its header; a torn last line is ignored.
pub fn read_rows(path: &Path, columns: &[String]) -> Result<Rows, SweepError> {
    let bytes =
        std::fs::read(path).map_err(|e| SweepError::io_while(path, "reading the results", e))?;
    let complete = match bytes.iter().rposition(|&b| b == b'\n') {
        Some(i) => &bytes[..=i],
        None => &bytes[..0],
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(complete);
    let format = |reason: String| SweepError::Format {
        path: path.to_path_buf(),
        reason,
    };
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format(e.to_string()))?
        .iter()
        .map(str::to_string)
        .collect();
    if !complete.is_empty() && header != columns {
        return Err(format(format!(
            "columns differ from this sweep's (file: {}; sweep: {})",
            header.join(","),
            columns.join(",")
        )));
    }
    let mut rows = Rows::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format(format!("row {}: {e}", i + 2)))?;
        let fields: Vec<String> = record.iter().map(str::to_string).collect();
        let id: usize = fields
            .first()
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| format(format!("row {}: first column is not a point id", i + 2)))?;
        if rows.insert(id, fields).is_some() {
            return Err(format(format!("point {id} appears twice")));
        }
    }
    Ok(rows)
}

/// Appends complete rows to a results file.
pub struct Appender {
    file: File,
}

impl Appender {
    /// Opens `path` for appending, writing the header first if the file is new or empty.
    pub fn open(path: &Path, columns: &[String]) -> Result<Self, SweepError> {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| SweepError::io_while(path, "appending to the results", e))?;
        let len = file
            .metadata()
            .map_err(|e| SweepError::io_while(path, "appending to the results", e))?
            .len();
        if len == 0 {
            file.write_all(&csv_line(columns))
                .map_err(|e| SweepError::io_while(path, "appending to the results", e))?;
        } else {
            // Drop a torn last line so the next row starts on a fresh line.
            let bytes = std::fs::read(path)
                .map_err(|e| SweepError::io_while(path, "appending to the results", e))?;
            if bytes.last() != Some(&b'\n') {
                let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                file.set_len(keep as u64)
                    .map_err(|e| SweepError::io_while(path, "appending to the results", e))?;
            }
        }
        Ok(Self { file })
    }

    pub fn append(&mut self, row: &[String]) -> std::io::Result<()> {
        self.file.write_all(&csv_line(row))?;
        self.file.flush()
    }
}

fn csv_line(fields: &[String]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(fields).expect("writing to memory");
    w.into_inner().expect("writing to memory")
}

/// Writes header + rows sorted by point id, replacing the file atomically.
pub fn write_sorted(path: &Path, columns: &[String], rows: &Rows) -> Result<(), SweepError> {
    let mut out = csv_line(columns);
    for row in rows.values() {
        out.extend(csv_line(row));
    }
    write_atomic(path, &out)
}

/// Writes through a temporary file in the same directory (named per process) and renames it
/// into place.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SweepError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp: PathBuf = path.with_file_name(format!(".{name}{TMP_TAG}{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| SweepError::io_while(&tmp, "writing", e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        SweepError::io_while(path, "replacing", e)
    })
}

/// Files of a sweep directory that are the tool's own.
pub const OWN_FILES: [&str; 3] = [RESULTS_FILE, MANIFEST_FILE, LOCK_FILE];

/// The lock file of a sweep directory; it holds the PID of the writer holding the lock.
pub const LOCK_FILE: &str = ".spatten-lock";

/// An exclusive lock on a sweep directory, held until dropped (or the process ends).
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

/// Takes the exclusive lock of `dir`, or says which process holds it.
pub fn lock(dir: &Path) -> Result<DirLock, SweepError> {
    let path = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| SweepError::io_while(&path, "opening the lock file", e))?;
    let mut attempt = 0;
    let locked = loop {
        match file.try_lock() {
            Err(std::fs::TryLockError::WouldBlock)
                if attempt < 100 && lock_holder(&path) == std::process::id().to_string() =>
            {
                // Held by this process, which has let go of it: a child being spawned by
                // another thread holds a copy of the descriptor until its exec closes it.
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => break other,
        }
    };
    match locked {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = lock_holder(&path);
            let holder = holder.as_str();
            return Err(SweepError::Usage(format!(
                "{}: another spatten process ({}) is writing this sweep directory; wait for it \
                 to finish or choose another --out",
                dir.display(),
                if holder.is_empty() {
                    "PID unknown".to_string()
                } else {
                    format!("PID {holder}")
                }
            )));
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(SweepError::io_while(
                &path,
                "locking the sweep directory",
                e,
            ));
        }
    }
    file.set_len(0)
        .and_then(|_| file.write_all(format!("{}\n", std::process::id()).as_bytes()))
        .map_err(|e| SweepError::io_while(&path, "writing the lock file", e))?;
    Ok(DirLock { _file: file })
}

/// The PID a lock file names ("" when unreadable).
fn lock_holder(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The first input file whose hash differs between two manifests: (file, before, now), with
/// "none" where a side did not read the file.
pub fn changed_input(
    before: &BTreeMap<String, String>,
    now: &BTreeMap<String, String>,
) -> Option<(String, String, String)> {
    let none = "none".to_string();
    before
        .keys()
        .chain(now.keys())
        .find(|k| before.get(*k) != now.get(*k))
        .map(|k| {
            (
                k.clone(),
                before.get(k).unwrap_or(&none).clone(),
                now.get(k).unwrap_or(&none).clone(),
            )
        })
}

/// Merges shard directories into `out`: every point must appear exactly once.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<(Manifest, Rows), SweepError> {
    merge_into(dirs, &OutputDir::new(out, "sweep"))
}

/// [`merge`] under an explicit overwrite policy (`--force`).
pub fn merge_into(dirs: &[PathBuf], target: &OutputDir) -> Result<(Manifest, Rows), SweepError> {
    let out = target.path();
    let first = dirs.first().ok_or(SweepError::Usage(
        "merge needs at least one directory".into(),
    ))?;
    let manifest = Manifest::read(first)?;
    let mut rows = Rows::new();
    let mut origin: BTreeMap<usize, &Path> = BTreeMap::new();
    for dir in dirs {
        let m = Manifest::read(dir)?;
        if let Some((file, a, b)) = changed_input(&manifest.inputs, &m.inputs) {
            return Err(SweepError::Usage(format!(
                "{} and {} read different versions of {file} (sha256 {a} and {b}); their rows \
                 cannot be merged",
                first.display(),
                dir.display()
            )));
        }
        if m.spec_hash != manifest.spec_hash || m.columns != manifest.columns {
            return Err(SweepError::Usage(format!(
                "{} comes from a different sweep spec (hash {}) than {} (hash {})",
                dir.display(),
                m.spec_hash,
                first.display(),
                manifest.spec_hash
            )));
        }
        for (id, row) in read_rows(&dir.join(RESULTS_FILE), &m.columns)? {
            if let Some(other) = origin.insert(id, dir) {
                return Err(SweepError::Usage(format!(
                    "point {id} appears in both {} and {}",
                    other.display(),
                    dir.display()
                )));
            }
            rows.insert(id, row);
        }
    }
    let missing: Vec<usize> = (0..manifest.points_total)
        .filter(|i| !rows.contains_key(i))
        .collect();
    if !missing.is_empty() {
        return Err(SweepError::Missing(missing));
    }
    target.claim(&OWN_FILES)?;
    let _lock = lock(out)?;
    let merged = Manifest {
        shard: None,
        ..manifest
    };
    write_sorted(&out.join(RESULTS_FILE), &merged.columns, &rows)?;
    merged.write(out)?;
    Ok((merged, rows))
}
