//! The 49 inputs an adversarial audit found that crashed, hung or aborted `spatten`
//! (tests/fuzz-regressions/README.md): each is run as the audit ran it and must end with the
//! manifest's exit code and, for refusals, a message naming the file, the key (or tensor or
//! field) and the reason. Times are printed, not asserted; the timeout only catches hangs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Far above the fraction of a second each case takes; only a hang reaches it.
const HANG: Duration = Duration::from_secs(60);

struct Outcome {
    code: Option<i32>,
    output: String,
    elapsed: Duration,
}

/// Runs `spatten args` in the repository root, killing it after `HANG`.
fn run(args: &[String]) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_spatten"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::from(
            std::fs::File::create(dir.path().join("out")).unwrap(),
        ))
        .stderr(Stdio::from(
            std::fs::File::create(dir.path().join("err")).unwrap(),
        ))
        .spawn()
        .unwrap();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if start.elapsed() > HANG {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap_or_default();
    Outcome {
        code,
        output: format!("{}{}", read("out"), read("err")),
        elapsed,
    }
}

/// The commands README.md lists for a file of this kind (directory), writing under `out`.
fn commands(file: &str, path: &Path, out: &Path, workload: &Path) -> Vec<Vec<String>> {
    let p = path.display().to_string();
    let o = out.display().to_string();
    let w = workload.display().to_string();
    let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match file.split('/').next().unwrap() {
        "arch" | "dram" => vec![
            v(&["config", "check", &p]),
            v(&[
                "run",
                "--arch",
                &p,
                "--workload",
                "minilm",
                "--out",
                &o,
                "--quiet",
            ]),
        ],
        "workload" => vec![v(&[
            "run",
            "--arch",
            "spatten",
            "--workload",
            &p,
            "--out",
            &o,
            "--quiet",
        ])],
        "sweep" => vec![v(&["sweep", &p, "--out", &o, "--jobs", "2", "--quiet"])],
        "values" => vec![
            v(&[
                "trace",
                "reference",
                "--workload",
                &w,
                "--values",
                &p,
                "--out",
                &format!("{o}.trace"),
            ]),
            v(&[
                "run",
                "--workload",
                &w,
                "--values",
                &p,
                "--out",
                &o,
                "--quiet",
            ]),
        ],
        "trace" => vec![
            v(&["trace", "info", &p]),
            v(&["run", "--trace", &p, "--out", &o, "--quiet"]),
        ],
        other => panic!("manifest entry {file}: unknown kind {other}"),
    }
}

#[test]
fn every_audit_finding_ends_cleanly() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("manifest.json")).unwrap())
            .unwrap();
    let entries = manifest.as_array().unwrap();
    assert_eq!(entries.len(), 49);
    let scratch = tempfile::tempdir().unwrap();
    let workload = root.join("tiny-workload.toml");
    let mut failures = Vec::new();
    let mut slowest = (Duration::ZERO, String::new());
    let mut runs = 0;
    for (i, e) in entries.iter().enumerate() {
        let file = e["file"].as_str().unwrap();
        let want = e["expect_exit"].as_i64().unwrap() as i32;
        let names: Vec<&str> = e["expect_names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect();
        let path = root.join(file);
        let stem = path.file_name().unwrap().to_string_lossy().into_owned();
        let out = scratch.path().join(format!("case-{i}"));
        for args in commands(file, &path, &out, &workload) {
            let r = run(&args);
            runs += 1;
            let label = format!("{file}: spatten {}", args[..2].join(" "));
            if r.elapsed > slowest.0 {
                slowest = (r.elapsed, label.clone());
            }
            if r.code != Some(want) {
                failures.push(format!(
                    "{label}: exit {:?} after {:.2?}, expected {want}:\n{}",
                    r.code, r.elapsed, r.output
                ));
                continue;
            }
            if want == 2 {
                let missing: Vec<&str> = std::iter::once(stem.as_str())
                    .chain(names.iter().copied())
                    .filter(|n| !r.output.contains(n))
                    .collect();
                if !missing.is_empty() {
                    failures.push(format!(
                        "{label}: the message does not name {missing:?}:\n{}",
                        r.output
                    ));
                }
                if r.output.contains("panicked") {
                    failures.push(format!("{label}: panicked:\n{}", r.output));
                }
            }
        }
    }
    eprintln!(
        "{runs} commands over {} files; slowest {:.3?} ({})",
        entries.len(),
        slowest.0,
        slowest.1
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Validation refuses fetcher lane counts that differ (the first audit panic); a design point
/// built past validation gets a typed error naming the module instead of the old panic.
#[test]
fn a_lane_mismatch_past_validation_is_a_typed_error() {
    use spatten::config::{self, ConfigKind, WorkloadConfig};
    let tiny: WorkloadConfig = config::load_from_str(
        &std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fuzz-regressions/tiny-workload.toml"),
        )
        .unwrap(),
        Path::new("tiny.toml"),
        ConfigKind::Workload,
    )
    .unwrap();
    let values = spatten::trace::generate(&tiny, &Default::default(), tiny.seed);
    let trace = spatten::reference::run_workload(&values, &tiny).unwrap();
    let mut arch = config::load_arch("spatten").unwrap();
    arch.fetcher.data_fifos = 16;
    let err =
        spatten::experiment::simulate(&arch, &trace, spatten::experiment::DramKind::Native, false)
            .unwrap_err()
            .to_string();
    assert!(
        err.contains("module data_crossbar") && err.contains("no reserved slot"),
        "{err}"
    );
}
