//! Sweeps never mix results: one writer per directory, a resumed run refuses when a file the
//! spec reads has changed, and point counts are checked before anything is allocated.

mod common;

use std::path::Path;

use spatten::config::{ArchConfig, WorkloadConfig};
use spatten::output_dir::OutputDir;
use spatten::sweep::{self, Evaluator, SweepError, SweepOptions, SweepSpec, results};

/// Closed-form metrics: the tests exercise the sweep machinery only.
struct ClockEvaluator;

impl Evaluator for ClockEvaluator {
    fn metric_columns(&self) -> Vec<String> {
        vec!["frequency_mhz".into()]
    }
    fn evaluate(&self, a: &ArchConfig, _: &WorkloadConfig) -> Result<Vec<String>, String> {
        Ok(vec![a.clock.frequency_mhz.to_string()])
    }
}

fn options(out: &Path, resume: bool) -> SweepOptions {
    SweepOptions {
        out: out.to_path_buf(),
        jobs: 1,
        resume,
        shard: None,
        progress: false,
        max_points: SweepOptions::DEFAULT_MAX_POINTS,
        force: false,
    }
}

/// A spec over an arch file of its own (`base.toml` <- `myarch.toml`), by absolute path.
fn spec_in(dir: &Path) -> SweepSpec {
    std::fs::write(dir.join("base.toml"), "base = \"spatten\"\n").unwrap();
    std::fs::write(
        dir.join("myarch.toml"),
        "base = \"base.toml\"\nname = \"mine\"\n",
    )
    .unwrap();
    let text = format!(
        "name = \"t\"\narch = {:?}\nworkloads = [\"bert-base\"]\n[axes]\nhbm.channels = [2, 4, 8]\n",
        dir.join("myarch.toml").to_str().unwrap()
    );
    SweepSpec::parse(&text, &dir.join("spec.toml")).unwrap()
}

#[test]
fn resume_refuses_when_a_file_the_spec_reads_changed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let spec = spec_in(dir.path());
    sweep::run_sweep(&spec, &ClockEvaluator, &options(&out, false)).unwrap();
    // Unchanged inputs resume fine.
    sweep::run_sweep(&spec, &ClockEvaluator, &options(&out, true)).unwrap();
    let rows_before = std::fs::read(out.join("results.csv")).unwrap();
    for file in ["myarch.toml", "base.toml"] {
        let path = dir.path().join(file);
        let original = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{original}[clock]\nfrequency_mhz = 500.0\n")).unwrap();
        let err = sweep::run_sweep(&spec, &ClockEvaluator, &options(&out, true))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(path.to_str().unwrap()) && err.contains("changed"),
            "{err}"
        );
        std::fs::write(&path, original).unwrap();
    }
    assert_eq!(std::fs::read(out.join("results.csv")).unwrap(), rows_before);
}

#[test]
fn a_second_writer_is_refused_naming_the_holders_pid() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let spec = spec_in(dir.path());
    // Hold the directory as a running sweep does.
    OutputDir::new(&out, "sweep")
        .claim(&results::OWN_FILES)
        .unwrap();
    let lock = results::lock(&out).unwrap();
    let err = sweep::run_sweep(&spec, &ClockEvaluator, &options(&out, false))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("PID {}", std::process::id())),
        "{err}"
    );
    assert!(!out.join("results.csv").exists());
    drop(lock);
    sweep::run_sweep(&spec, &ClockEvaluator, &options(&out, false)).unwrap();
}

#[test]
fn concurrent_resumed_sweeps_never_duplicate_rows() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tiny.toml"),
        "base = \"bert-base\"\nname = \"tiny\"\n[model]\nlayers = 2\nheads = 4\nhidden = 256\n\
         [stage]\nprompt_tokens = 32\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("spec.toml"),
        "name = \"c\"\nworkloads = [\"tiny.toml\"]\n[axes]\nhbm.channels = [2, 4, 8, 16]\n\
         \"qk.multipliers\" = [128, 256, 512]\n",
    )
    .unwrap();
    const RESUME: [&str; 8] = [
        "sweep",
        "spec.toml",
        "--out",
        "o",
        "--resume",
        "--quiet",
        "--dram",
        "simple",
    ];
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_spatten"))
            .args(RESUME)
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    // Four writers race for a folder none of them has made yet.
    let children: Vec<_> = (0..4).map(|_| spawn()).collect();
    for child in children {
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            o.status.success() || err.contains("PID"),
            "exit {:?}: {err}",
            o.status
        );
    }
    // Whatever ran, each point has exactly one row and a further resume accepts the folder.
    let (code, _, err) = common::spatten_in(&RESUME, dir.path());
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(dir.path().join("o/results.csv")).unwrap();
    assert_eq!(text.lines().count(), 1 + 12, "{text}");
}

#[test]
fn point_counts_are_checked_and_bounded_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let values = |n: usize| {
        (0..n)
            .map(|i| (128 + i).to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    // 3 axes x 2000 values: 8e9 points.
    let big = format!(
        "name = \"big\"\nworkloads = [\"bert-base\"]\n[axes]\n\"qk.multipliers\" = [{v}]\n\
         \"pv.multipliers\" = [{v}]\n\"hbm.channels\" = [{v}]\n",
        v = values(2000)
    );
    let spec = SweepSpec::parse(&big, Path::new("big.toml")).unwrap();
    let err = sweep::run_sweep(
        &spec,
        &ClockEvaluator,
        &options(&dir.path().join("a"), false),
    )
    .unwrap_err();
    assert!(
        matches!(&err, SweepError::Usage(m) if m.contains("8000000000 points") && m.contains("--max-points")),
        "{err}"
    );
    // 13 axes x 50 values overflow 64 bits.
    let keys = [
        "qk.multipliers",
        "pv.multipliers",
        "hbm.channels",
        "clock.frequency_mhz",
        "softmax.lanes",
        "softmax.fifo_depth",
        "requant.tree_inputs",
        "importance.token_entries",
        "importance.head_entries",
        "importance.adders",
        "qk.key_sram_bytes",
        "pv.value_sram_bytes",
        "fetcher.transaction_bytes",
    ];
    let mut huge = String::from("name = \"huge\"\nworkloads = [\"bert-base\"]\n[axes]\n");
    for k in keys {
        huge.push_str(&format!("\"{k}\" = [{}]\n", values(50)));
    }
    // Refused when the spec is read, before any sweep state exists.
    let err = SweepSpec::parse(&huge, Path::new("huge.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("huge.toml:3") && err.contains("points"),
        "{err}"
    );
    // Nothing was written for either.
    assert!(!dir.path().join("a/results.csv").exists());
    assert!(!dir.path().join("b/results.csv").exists());
}

#[test]
fn a_sweep_refuses_a_user_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mine");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("results.csv"), "my,own,data\n").unwrap();
    let spec = spec_in(dir.path());
    let err = sweep::run_sweep(&spec, &ClockEvaluator, &options(&out, true))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("results.csv") && err.contains("--force"),
        "{err}"
    );
    // Even with --force, a file spatten did not write is never overwritten.
    let forced = SweepOptions {
        force: true,
        ..options(&out, true)
    };
    let err = sweep::run_sweep(&spec, &ClockEvaluator, &forced)
        .unwrap_err()
        .to_string();
    assert!(err.contains("never overwritten"), "{err}");
    assert_eq!(
        std::fs::read_to_string(out.join("results.csv")).unwrap(),
        "my,own,data\n"
    );
}
