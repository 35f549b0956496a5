//! Writing a directory of results without ever destroying a user's files.
//!
//! Every command that writes a directory (`run`, `plot`, `golden`, `reproduce`, `sweep`)
//! goes through [`OutputDir`]. The rules:
//!
//! - A directory the tool made holds a marker file, [`MARKER`], listing the files it wrote.
//!   Only files listed in a marker are ever deleted.
//! - `--out` may be absent, an empty directory, or a directory the tool made that holds
//!   nothing but its own files; then it is replaced as a whole, atomically. Anything else (a
//!   file, a symbolic link, a directory with other files, one made by another command) is
//!   refused before any work, unless `force`; with `force` the tool's files are written beside
//!   the others, which stay untouched, and a name clash with a file it did not write is
//!   refused. `.`, `..`, the current directory and its ancestors are always refused.
//! - Results are staged in `.NAME.spatten-tmp-PID` beside `--out` and swapped into place
//!   (`renameat2(RENAME_EXCHANGE)` on Linux, so `--out` is never missing). The staging
//!   directory is removed on error; one left by a killed process is removed, with a note, by
//!   the next write to the same `--out`.

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The marker file a directory written by the tool holds.
pub const MARKER: &str = ".spatten-output";

/// Part of the name of every temporary file or directory the tool makes; such names are
/// the tool's own wherever they appear.
pub const TMP_TAG: &str = ".spatten-tmp-";

/// Why writing an output directory failed; every message names the path and the action.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    // The I/O error is part of the message, not a `source`, so `{:#}` does not repeat it.
    #[error("{}: {action}: {error}", path.display())]
    Io {
        path: PathBuf,
        action: String,
        error: std::io::Error,
    },
    #[error("{}: {reason}", path.display())]
    Refused { path: PathBuf, reason: String },
}

impl OutputError {
    /// An I/O error on `path` while doing `action`.
    pub fn io(path: &Path, action: impl Into<String>, error: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            action: action.into(),
            error,
        }
    }

    fn refused(path: &Path, reason: impl Into<String>) -> Self {
        Self::Refused {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
}

/// What the marker file records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Marker {
    tool: String,
    /// The command that wrote the directory (`run`, `sweep`, ...).
    kind: String,
    /// True in a staging directory, whose whole content is the tool's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    staging: bool,
    /// Files written, relative, `/`-separated, sorted.
    files: Vec<String>,
}

impl Marker {
    fn new(kind: &str, files: Vec<String>) -> Self {
        Self {
            tool: "spatten".into(),
            kind: kind.into(),
            staging: false,
            files,
        }
    }

    fn read(dir: &Path) -> Option<Marker> {
        let text = std::fs::read_to_string(dir.join(MARKER)).ok()?;
        serde_json::from_str::<Marker>(&text)
            .ok()
            .filter(|m| m.tool == "spatten")
    }

    /// Written through a temporary file and a rename: a concurrent reader (another sweep
    /// claiming the folder) never sees half a marker.
    fn write(&self, dir: &Path) -> Result<(), OutputError> {
        let path = dir.join(MARKER);
        let tmp = dir.join(format!("{MARKER}{TMP_TAG}{}", std::process::id()));
        let text = serde_json::to_string_pretty(self).expect("marker serializes") + "\n";
        std::fs::write(&tmp, text)
            .and_then(|_| std::fs::rename(&tmp, &path))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                OutputError::io(&path, "writing the marker", e)
            })
    }

    /// Listed files and every folder above them: what the tool may remove.
    fn owned(&self) -> BTreeSet<String> {
        let mut owned = BTreeSet::new();
        for f in &self.files {
            let mut prefix = String::new();
            for part in f.split('/') {
                if !prefix.is_empty() {
                    prefix.push('/');
                }
                prefix.push_str(part);
                owned.insert(prefix.clone());
            }
        }
        owned
    }
}

/// An existing `--out`: its marker, and the entries no marker lists.
#[derive(Debug)]
struct Found {
    marker: Option<Marker>,
    foreign: Vec<String>,
}

/// What an existing `--out` holds, as far as replacing it is concerned.
#[derive(Debug)]
enum State {
    Absent,
    /// An empty directory, or one that holds only the tool's own files of this kind.
    Replaceable,
    /// Other files are there too (allowed with `force` only): write beside them.
    Shared {
        marker: Option<Marker>,
    },
}

/// An output directory of one command, with its overwrite policy.
#[derive(Debug, Clone)]
pub struct OutputDir {
    path: PathBuf,
    kind: &'static str,
    force: bool,
}

impl OutputDir {
    /// `kind` names the command writing it (recorded in the marker).
    pub fn new(path: impl Into<PathBuf>, kind: &'static str) -> Self {
        Self {
            path: path.into(),
            kind,
            force: false,
        }
    }

    /// Allow writing into a directory that holds files the tool did not write (they are kept).
    pub fn force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Checks, before any work, that the directory may be written: refuses what the rules
    /// above refuse and makes sure the parent exists and takes new entries.
    pub fn check(&self) -> Result<(), OutputError> {
        self.state()?;
        let parent = self.parent();
        std::fs::create_dir_all(&parent)
            .map_err(|e| OutputError::io(&parent, "creating the folder that will hold --out", e))?;
        let probe = self.staging_path();
        if std::fs::symlink_metadata(&probe).is_err() {
            std::fs::create_dir(&probe)
                .map_err(|e| OutputError::io(&probe, "creating a staging folder for --out", e))?;
            let _ = std::fs::remove_dir(&probe);
        }
        Ok(())
    }

    /// Runs `fill` on an empty staging directory and puts the result at the output path.
    /// `fill`'s error (or a failure to move the result into place) leaves `--out` as it was.
    pub fn write<T, E: From<OutputError>>(
        &self,
        fill: impl FnOnce(&Path) -> Result<T, E>,
    ) -> Result<T, E> {
        self.state()?;
        let parent = self.parent();
        std::fs::create_dir_all(&parent)
            .map_err(|e| OutputError::io(&parent, "creating the folder that will hold --out", e))?;
        self.remove_stale()?;
        let staging = self.staging_path();
        if std::fs::symlink_metadata(&staging).is_ok()
            && (Marker::read(&staging).is_some() || holds_no_file(&staging))
        {
            // Left by an earlier process that had our PID.
            remove_owned(&staging)?;
        }
        std::fs::create_dir(&staging)
            .map_err(|e| OutputError::io(&staging, "creating the staging folder for --out", e))?;
        let staged = (|| -> Result<T, E> {
            Marker {
                staging: true,
                ..Marker::new(self.kind, Vec::new())
            }
            .write(&staging)?;
            let value = fill(&staging)?;
            let files = list_files(&staging)?;
            Marker::new(self.kind, files).write(&staging)?;
            // Re-read the destination: it may have changed during a long run.
            self.put_in_place(&staging, self.state()?)?;
            Ok(value)
        })();
        if staged.is_err() && std::fs::symlink_metadata(&staging).is_ok() {
            let _ = remove_owned(&staging);
        }
        staged
    }

    /// Takes the directory over in place, for commands that add to it file by file (sweeps):
    /// creates it, or accepts an empty one or one this kind of command made (whatever else it
    /// holds), or (with `force`) any other folder, as long as none of `files` is a file spatten
    /// did not write. Records `files` in the marker.
    pub fn claim(&self, files: &[&str]) -> Result<(), OutputError> {
        let mut listed: BTreeSet<String> = files.iter().map(|f| f.to_string()).collect();
        match self.inspect()? {
            None => std::fs::create_dir_all(&self.path)
                .map_err(|e| OutputError::io(&self.path, "creating the output folder", e))?,
            Some(found) => {
                let ours = found.marker.as_ref().is_some_and(|m| m.kind == self.kind);
                let empty = found.marker.is_none() && found.foreign.is_empty();
                if !(ours || empty || self.force) {
                    return Err(self.refusal(&found));
                }
                for f in files {
                    let p = self.path.join(f);
                    // The marker is read after the file is seen, for the reason `inspect` gives.
                    if std::fs::symlink_metadata(&p).is_ok()
                        && !Marker::read(&self.path).is_some_and(|m| m.owned().contains(*f))
                    {
                        return Err(OutputError::refused(
                            &p,
                            "exists and was not written by spatten; it is never overwritten \
                             (move it away or choose another --out)",
                        ));
                    }
                }
                listed.extend(found.marker.into_iter().flat_map(|m| m.files));
            }
        }
        Marker::new(self.kind, listed.into_iter().collect()).write(&self.path)
    }

    fn parent(&self) -> PathBuf {
        self.path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf()
    }

    fn leaf(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    fn staging_path(&self) -> PathBuf {
        self.parent()
            .join(format!(".{}{TMP_TAG}{}", self.leaf(), std::process::id()))
    }

    /// The checks no flag overrides; `None` when `--out` does not exist.
    fn inspect(&self) -> Result<Option<Found>, OutputError> {
        let path = &self.path;
        let last = path.components().next_back();
        if !matches!(last, Some(Component::Normal(_))) {
            return Err(OutputError::refused(
                path,
                "not a folder name spatten can write (--out must not be `.`, `..` or `/`)",
            ));
        }
        let meta = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(OutputError::io(path, "looking at --out", e)),
        };
        if meta.file_type().is_symlink() {
            return Err(OutputError::refused(
                path,
                "is a symbolic link; spatten does not write through it (give the folder it \
                 points to, or another --out)",
            ));
        }
        if !meta.is_dir() {
            return Err(OutputError::refused(
                path,
                "exists and is a file, not a folder; spatten never replaces it (choose another \
                 --out)",
            ));
        }
        let canonical = path
            .canonicalize()
            .map_err(|e| OutputError::io(path, "resolving --out", e))?;
        if let Ok(cwd) = std::env::current_dir().and_then(|d| d.canonicalize())
            && cwd.starts_with(&canonical)
        {
            return Err(OutputError::refused(
                path,
                "is the current folder or holds it; spatten replaces --out as a whole, so it \
                 must be a folder of its own (e.g. reports/NAME)",
            ));
        }
        // The listing comes before the marker: a concurrent sweep claiming this folder writes
        // its marker before any file it lists, so every such file seen here is in the marker.
        let entries = walk(path)?;
        let marker = Marker::read(path);
        let owned = marker.as_ref().map(Marker::owned).unwrap_or_default();
        let foreign = entries
            .into_iter()
            .filter(|e| e != MARKER && !owned.contains(e) && !e.contains(TMP_TAG))
            .collect();
        Ok(Some(Found { marker, foreign }))
    }

    fn state(&self) -> Result<State, OutputError> {
        let Some(found) = self.inspect()? else {
            return Ok(State::Absent);
        };
        let other_kind = found.marker.as_ref().is_some_and(|m| m.kind != self.kind);
        if found.foreign.is_empty() && (!other_kind || self.force) {
            return Ok(State::Replaceable);
        }
        if self.force {
            return Ok(State::Shared {
                marker: found.marker,
            });
        }
        Err(self.refusal(&found))
    }

    fn refusal(&self, found: &Found) -> OutputError {
        let path = &self.path;
        if found.foreign.is_empty()
            && let Some(m) = &found.marker
        {
            return OutputError::refused(
                path,
                format!(
                    "holds the output of `spatten {}`; refusing to replace it with `spatten {}` \
                     output (choose another --out, or pass --force to replace it)",
                    m.kind, self.kind
                ),
            );
        }
        let foreign = &found.foreign;
        let shown: Vec<&str> = foreign.iter().take(5).map(String::as_str).collect();
        OutputError::refused(
            path,
            format!(
                "exists and holds {} {} spatten did not write ({}{}); refusing to touch it. \
                 Choose another --out, or pass --force to write spatten's files beside them \
                 (files spatten did not write are never deleted)",
                foreign.len(),
                if foreign.len() == 1 {
                    "entry"
                } else {
                    "entries"
                },
                shown.join(", "),
                if foreign.len() > shown.len() {
                    ", ..."
                } else {
                    ""
                }
            ),
        )
    }

    fn put_in_place(&self, staging: &Path, state: State) -> Result<(), OutputError> {
        let out = &self.path;
        match state {
            State::Absent => std::fs::rename(staging, out)
                .map_err(|e| OutputError::io(out, "moving the finished output into place", e)),
            State::Replaceable => {
                if exchange(staging, out)? {
                    // `staging` now holds the old output.
                    remove_owned(staging)
                } else {
                    let old = self.parent().join(format!(
                        ".{}{TMP_TAG}old-{}",
                        self.leaf(),
                        std::process::id()
                    ));
                    std::fs::rename(out, &old)
                        .map_err(|e| OutputError::io(out, "moving the previous output aside", e))?;
                    std::fs::rename(staging, out).map_err(|e| {
                        let _ = std::fs::rename(&old, out);
                        OutputError::io(out, "moving the finished output into place", e)
                    })?;
                    remove_owned(&old)
                }
            }
            State::Shared { marker } => self.write_beside(staging, marker),
        }
    }

    /// `--force` into a folder with files of others: move each new file in, replacing only
    /// files the previous marker lists, and remove the previous run's files that are gone.
    fn write_beside(&self, staging: &Path, marker: Option<Marker>) -> Result<(), OutputError> {
        let out = &self.path;
        let owned = marker.as_ref().map(Marker::owned).unwrap_or_default();
        let new_files = list_files(staging)?;
        for f in &new_files {
            // Every prefix must be ours or absent, or a folder (for the folders above a file).
            let mut prefix = PathBuf::new();
            let parts: Vec<&str> = f.split('/').collect();
            for (i, part) in parts.iter().enumerate() {
                prefix.push(part);
                let rel = prefix.to_string_lossy().replace('\\', "/");
                let p = out.join(&prefix);
                let Ok(meta) = std::fs::symlink_metadata(&p) else {
                    break;
                };
                let is_last = i + 1 == parts.len();
                if (is_last || !meta.is_dir()) && !owned.contains(&rel) {
                    return Err(OutputError::refused(
                        &p,
                        "exists and was not written by spatten; --force never overwrites it \
                         (move it away or choose another --out)",
                    ));
                }
            }
        }
        let new: BTreeSet<&String> = new_files.iter().collect();
        if let Some(m) = &marker {
            for f in m.files.iter().filter(|f| !new.contains(f)) {
                remove_file_if_there(&out.join(f))?;
            }
            // Folders only the previous files needed, deepest first, if now empty.
            let needed = Marker::new(self.kind, new_files.clone()).owned();
            let mut gone: Vec<&String> = owned
                .iter()
                .filter(|d| !needed.contains(*d) && out.join(d).is_dir())
                .collect();
            gone.sort_by_key(|d| std::cmp::Reverse(d.len()));
            for d in gone {
                let _ = std::fs::remove_dir(out.join(d));
            }
        }
        for f in &new_files {
            let to = out.join(f);
            if let Some(dir) = to.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| OutputError::io(dir, "creating a folder of the output", e))?;
            }
            std::fs::rename(staging.join(f), &to)
                .map_err(|e| OutputError::io(&to, "moving a finished file into place", e))?;
        }
        Marker::new(self.kind, new_files).write(out)?;
        remove_owned(staging)
    }

    /// Removes staging (and moved-aside) folders of this `--out` left by processes that no
    /// longer run, saying so on stderr.
    fn remove_stale(&self) -> Result<(), OutputError> {
        let parent = self.parent();
        let prefix = format!(".{}{TMP_TAG}", self.leaf());
        let Ok(entries) = std::fs::read_dir(&parent) else {
            return Ok(());
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix(&prefix) else {
                continue;
            };
            let Ok(pid) = rest.trim_start_matches("old-").parse::<u32>() else {
                continue;
            };
            if pid == std::process::id() || process_alive(pid) {
                continue;
            }
            let path = entry.path();
            if Marker::read(&path).is_none() && !holds_no_file(&path) {
                continue;
            }
            remove_owned(&path)?;
            eprintln!(
                "note: removed {}, left behind by process {pid}, which no longer runs",
                path.display()
            );
        }
        Ok(())
    }
}

/// Every entry under `dir` (files, links and folders), relative, `/`-separated; links are
/// not followed.
fn walk(dir: &Path) -> Result<Vec<String>, OutputError> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let here = dir.join(&rel);
        let entries =
            std::fs::read_dir(&here).map_err(|e| OutputError::io(&here, "listing a folder", e))?;
        for entry in entries {
            let entry = entry.map_err(|e| OutputError::io(&here, "listing a folder", e))?;
            let r = rel.join(entry.file_name());
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            out.push(r.to_string_lossy().replace('\\', "/"));
            if is_dir {
                stack.push(r);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Files (not folders) under `dir` except the marker, sorted.
fn list_files(dir: &Path) -> Result<Vec<String>, OutputError> {
    Ok(walk(dir)?
        .into_iter()
        .filter(|f| f != MARKER && !dir.join(f).is_dir())
        .collect())
}

/// Deletes what the marker of `dir` lists (everything, in a staging folder), then every
/// folder left empty, then the marker and `dir`. The marker goes last, so a process killed
/// part-way leaves a folder the next run still recognises. A file the marker does not list
/// survives, and so does the folder around it (said on stderr).
fn remove_owned(dir: &Path) -> Result<(), OutputError> {
    let marker = Marker::read(dir);
    let everything = marker.as_ref().is_some_and(|m| m.staging);
    let listed: BTreeSet<&str> = marker
        .iter()
        .flat_map(|m| m.files.iter().map(String::as_str))
        .collect();
    let is_dir = |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir());
    let entries = walk(dir)?;
    for e in entries.iter().filter(|e| e.as_str() != MARKER) {
        let p = dir.join(e);
        if !is_dir(&p) && (everything || listed.contains(e.as_str()) || e.contains(TMP_TAG)) {
            remove_file_if_there(&p)?;
        }
    }
    // Deepest folders first.
    let mut dirs: Vec<&String> = entries.iter().filter(|e| is_dir(&dir.join(e))).collect();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.len()));
    for d in dirs {
        let _ = std::fs::remove_dir(dir.join(d));
    }
    if walk(dir)?.iter().all(|e| e == MARKER) {
        remove_file_if_there(&dir.join(MARKER))?;
    }
    if let Err(e) = std::fs::remove_dir(dir) {
        eprintln!(
            "note: kept {}: it holds files spatten did not write ({e})",
            dir.display()
        );
    }
    Ok(())
}

/// True when `dir` holds only folders and spatten's temporary files (what a process killed
/// while creating or removing a staging folder can leave without a marker): removing it
/// loses nothing.
fn holds_no_file(dir: &Path) -> bool {
    walk(dir).is_ok_and(|entries| {
        entries.iter().all(|e| {
            e.contains(TMP_TAG) || std::fs::symlink_metadata(dir.join(e)).is_ok_and(|m| m.is_dir())
        })
    })
}

fn remove_file_if_there(p: &Path) -> Result<(), OutputError> {
    match std::fs::remove_file(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(OutputError::io(
            p,
            "removing a file of the previous output",
            e,
        )),
    }
}

/// Swaps two directories atomically; false where the platform or filesystem cannot.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> Result<bool, OutputError> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).ok();
    let (Some(ca), Some(cb)) = (c(a), c(b)) else {
        return Ok(false);
    };
    // SAFETY: both arguments are valid NUL-terminated paths that outlive the call.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if r == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) => Ok(false),
        _ => Err(OutputError::io(
            b,
            "swapping the finished output into place",
            e,
        )),
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> Result<bool, OutputError> {
    Ok(false)
}

/// Whether a process with this id exists (so its temporary folders may still be in use).
pub fn process_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return false;
        };
        // SAFETY: signal 0 only checks that the process exists; nothing is sent.
        let r = unsafe { libc::kill(pid, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill_with<'a>(files: &'a [&'a str]) -> impl FnOnce(&Path) -> Result<(), OutputError> + 'a {
        move |dir| {
            for f in files {
                let p = dir.join(f);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(&p, f).unwrap();
            }
            Ok(())
        }
    }

    #[test]
    fn a_user_folder_is_refused_and_kept() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("mine");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("thesis.tex"), "x").unwrap();
        let o = OutputDir::new(&out, "run");
        let e = o.check().unwrap_err().to_string();
        assert!(e.contains("thesis.tex") && e.contains("--force"), "{e}");
        assert!(o.write(fill_with(&["a.txt"])).is_err());
        assert_eq!(
            std::fs::read_to_string(out.join("thesis.tex")).unwrap(),
            "x"
        );
        assert!(!out.join("a.txt").exists());
    }

    #[test]
    fn force_writes_beside_and_replaces_only_its_own_files() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("mine");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("thesis.tex"), "x").unwrap();
        let o = OutputDir::new(&out, "run").force(true);
        o.write(fill_with(&["a.txt", "figures/f.svg"])).unwrap();
        o.write(fill_with(&["b.txt"])).unwrap();
        assert_eq!(
            std::fs::read_to_string(out.join("thesis.tex")).unwrap(),
            "x"
        );
        assert!(out.join("b.txt").is_file());
        assert!(!out.join("a.txt").exists() && !out.join("figures").exists());
        // A clash with a file spatten did not write is refused even with force.
        let e = o.write(fill_with(&["thesis.tex"])).unwrap_err().to_string();
        assert!(e.contains("never overwrites"), "{e}");
        assert_eq!(
            std::fs::read_to_string(out.join("thesis.tex")).unwrap(),
            "x"
        );
    }

    #[test]
    fn its_own_folder_is_replaced_atomically_and_no_temporary_is_left() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("r");
        let o = OutputDir::new(&out, "run");
        o.write(fill_with(&["a.txt", "figures/x.svg"])).unwrap();
        o.write(fill_with(&["b.txt"])).unwrap();
        assert!(out.join("b.txt").is_file() && !out.join("a.txt").exists());
        let names: Vec<_> = std::fs::read_dir(t.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "{names:?}");
        // A failing fill leaves the old output and no staging folder.
        let r: Result<(), OutputError> = o.write(|_| Err(OutputError::refused(&out, "boom")));
        assert!(r.is_err());
        assert!(out.join("b.txt").is_file());
        assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 1);
    }

    #[test]
    fn stale_staging_folders_of_dead_processes_are_removed() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("r");
        // PIDs above the kernel's maximum never run.
        let stale = t.path().join(format!(".r{TMP_TAG}4999999"));
        std::fs::create_dir(&stale).unwrap();
        Marker {
            staging: true,
            ..Marker::new("run", vec![])
        }
        .write(&stale)
        .unwrap();
        std::fs::write(stale.join("half.csv"), "x").unwrap();
        // No marker but a file in it: not known to be ours, kept.
        let other = t.path().join(format!(".r{TMP_TAG}4999998"));
        std::fs::create_dir(&other).unwrap();
        std::fs::write(other.join("f"), "x").unwrap();
        // No marker and folders only (a kill while removing one): nothing to lose, removed.
        let husk = t.path().join(format!(".r{TMP_TAG}4999997"));
        std::fs::create_dir_all(husk.join("figures")).unwrap();
        OutputDir::new(&out, "run")
            .write(fill_with(&["a.txt"]))
            .unwrap();
        assert!(!stale.exists() && !husk.exists());
        assert!(other.join("f").exists());
    }

    #[test]
    fn dot_dotdot_files_and_other_commands_output_are_refused() {
        let t = tempfile::tempdir().unwrap();
        for p in [".", "..", "/"] {
            assert!(OutputDir::new(p, "run").check().is_err(), "{p}");
        }
        let f = t.path().join("file");
        std::fs::write(&f, "keep").unwrap();
        let e = OutputDir::new(&f, "run").force(true).check().unwrap_err();
        assert!(e.to_string().contains("is a file"), "{e}");
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "keep");
        let s = t.path().join("s");
        OutputDir::new(&s, "sweep").claim(&["results.csv"]).unwrap();
        let e = OutputDir::new(&s, "run").check().unwrap_err().to_string();
        assert!(e.contains("spatten sweep"), "{e}");
    }
}
