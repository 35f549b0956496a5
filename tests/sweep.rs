//! Sweeps: expansion, validation of points, determinism across thread counts, resume after a
//! crash, shards and merging.

use std::path::{Path, PathBuf};

use spatten::config::{ArchConfig, WorkloadConfig};
use spatten::sweep::{self, Evaluator, SweepOptions, SweepSpec, results};

/// Closed-form metrics, so the tests exercise the sweep machinery and nothing else.
struct PeakEvaluator;

impl Evaluator for PeakEvaluator {
    fn metric_columns(&self) -> Vec<String> {
        vec!["peak_gops".into(), "bandwidth_gbps".into()]
    }
    fn evaluate(&self, a: &ArchConfig, w: &WorkloadConfig) -> Result<Vec<String>, String> {
        let gops = 2.0 * a.qk.multipliers as f64 * a.clock.frequency_mhz / 1000.0;
        // Spread the work unevenly so threads finish out of order.
        std::thread::sleep(std::time::Duration::from_millis(
            (a.hbm.channels as u64 * 7) % 5,
        ));
        Ok(vec![
            format!("{gops}"),
            format!(
                "{}",
                a.hbm.total_bandwidth_gbps() * w.model.layers as f64 / w.model.layers as f64
            ),
        ])
    }
}

const SPEC: &str = r#"
name = "test"
arch = "spatten"
workloads = ["bert-base", "gpt2-small"]
constraints = ["pv.multipliers <= qk.multipliers"]

[axes]
qk.multipliers = [128, 256, 500]
"hbm.channels" = [2, 16]

[zip]
pv.multipliers = [128, 512]
quant.msb_bits = [6, 8]
"#;

fn spec() -> SweepSpec {
    SweepSpec::parse(SPEC, Path::new("test.toml")).unwrap()
}

/// Quiet options writing to `dir`, one thread, no resume, no shard.
fn options(dir: &Path) -> SweepOptions {
    SweepOptions {
        out: dir.to_path_buf(),
        jobs: 1,
        resume: false,
        shard: None,
        progress: false,
        max_points: SweepOptions::DEFAULT_MAX_POINTS,
        force: false,
    }
}

fn run(
    dir: &Path,
    jobs: usize,
    shard: Option<(usize, usize)>,
    resume: bool,
) -> sweep::SweepSummary {
    let options = SweepOptions {
        jobs,
        resume,
        shard,
        ..options(dir)
    };
    sweep::run_sweep(&spec(), &PeakEvaluator, &options).unwrap()
}

#[test]
fn points_expand_in_a_documented_order() {
    let s = spec();
    assert_eq!(s.point_count(), 2 * 3 * 2 * 2);
    let p = s.point(0);
    assert_eq!(p.workload, "bert-base");
    let text: Vec<String> = p
        .settings
        .iter()
        .map(|(k, v)| format!("{k}={}", sweep::spec::value_text(v)))
        .collect();
    assert_eq!(
        text,
        [
            "qk.multipliers=128",
            "hbm.channels=2",
            "pv.multipliers=128",
            "quant.msb_bits=6"
        ]
    );
    // The zip group is fastest, then the last product axis.
    assert_eq!(sweep::spec::value_text(&s.point(1).settings[2].1), "512");
    assert_eq!(sweep::spec::value_text(&s.point(2).settings[1].1), "16");
    assert_eq!(s.point(12).workload, "gpt2-small");
}

#[test]
fn invalid_and_constrained_points_are_reported_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let summary = run(dir.path(), 2, None, false);
    assert_eq!(summary.ran, 24);
    let columns = sweep::runner::columns(&spec(), &PeakEvaluator);
    let rows = results::read_rows(&dir.path().join("results.csv"), &columns).unwrap();
    let status = |id: usize| rows[&id][columns.iter().position(|c| c == "status").unwrap()].clone();
    let detail = |id: usize| rows[&id][columns.iter().position(|c| c == "detail").unwrap()].clone();
    // qk 128 with pv 512 violates the constraint.
    assert_eq!(status(1), "skipped");
    assert!(detail(1).contains("pv.multipliers <= qk.multipliers"));
    // 500 multipliers is not a power of two.
    assert_eq!(status(8), "invalid");
    assert!(
        detail(8).contains("qk.multipliers: must be a power of two"),
        "{}",
        detail(8)
    );
    assert_eq!(status(0), "ok");
    assert_eq!(rows[&0][columns.len() - 2], "256");
    assert_eq!(summary.ok + summary.invalid + summary.skipped, 24);
    assert_eq!(summary.invalid, 8);
}

fn results_bytes(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("results.csv")).unwrap()
}

#[test]
fn results_are_identical_for_any_thread_count() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    run(a.path(), 1, None, false);
    run(b.path(), 2, None, false);
    assert_eq!(results_bytes(a.path()), results_bytes(b.path()));
}

#[test]
fn resume_after_a_crash_gives_the_same_results() {
    let full = tempfile::tempdir().unwrap();
    run(full.path(), 2, None, false);
    let expected = results_bytes(full.path());

    // Simulate a crash: keep the header and 5 rows, plus half of the next row.
    let crashed = tempfile::tempdir().unwrap();
    run(crashed.path(), 1, None, false);
    let text = String::from_utf8(results_bytes(crashed.path())).unwrap();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let torn = format!("{}{}", lines[..6].concat(), &lines[6][..lines[6].len() / 2]);
    std::fs::write(crashed.path().join("results.csv"), torn).unwrap();

    let err = sweep::run_sweep(&spec(), &PeakEvaluator, &options(crashed.path())).unwrap_err();
    assert!(err.to_string().contains("--resume"), "{err}");

    let summary = run(crashed.path(), 2, None, true);
    assert_eq!(summary.already_done, 5);
    assert_eq!(summary.ran, 19);
    assert_eq!(results_bytes(crashed.path()), expected);
}

#[test]
fn shards_merge_into_the_single_machine_result() {
    let single = tempfile::tempdir().unwrap();
    run(single.path(), 2, None, false);
    let root = tempfile::tempdir().unwrap();
    let shards: Vec<PathBuf> = (0..3)
        .map(|k| root.path().join(format!("shard{k}")))
        .collect();
    for (k, dir) in shards.iter().enumerate().take(2) {
        run(dir, 1, Some((k, 3)), false);
    }
    let merged = root.path().join("merged");
    match results::merge(&shards[..2], &merged) {
        Err(sweep::SweepError::Missing(ids)) => {
            assert_eq!(ids, (0..24).filter(|i| i % 3 == 2).collect::<Vec<_>>())
        }
        other => panic!("expected missing points, got {other:?}"),
    }
    run(&shards[2], 1, Some((2, 3)), false);
    results::merge(&shards, &merged).unwrap();
    assert_eq!(results_bytes(&merged), results_bytes(single.path()));

    let dup = results::merge(&[shards[0].clone(), shards[0].clone()], &merged).unwrap_err();
    assert!(dup.to_string().contains("appears in both"), "{dup}");
}

#[test]
fn bad_specs_name_the_key() {
    let bad = |text: &str| {
        SweepSpec::parse(text, Path::new("s.toml"))
            .unwrap_err()
            .to_string()
    };
    let base = "name = \"x\"\nworkloads = [\"bert-base\"]\n";
    assert!(
        bad(&format!("{base}[axes]\nqk.multiplierz = [1]\n"))
            .contains("no architecture or workload key")
    );
    assert!(bad(&format!("{base}[axes]\nname = [\"a\"]\n")).contains("exists in both"));
    assert!(
        bad(&format!(
            "{base}[zip]\nqk.multipliers = [1, 2]\npv.multipliers = [1]\n"
        ))
        .contains("zipped axes move together")
    );
    assert!(bad(&format!("{base}colour = 3\n")).contains("s.toml:3: key `colour`"));
    assert!(bad("name = \"x\"\n").contains("workloads"));
    assert!(bad(&format!("{base}[axes]\nqk.multipliers = 4\n")).contains("must be an array"));
    assert!(bad(&format!("constraints = [\"a <\"]\n{base}")).contains("empty side"));
}

#[test]
fn shipped_sweep_specs_resolve_every_point() {
    // A shipped spec names presets, so it runs from any directory, and none of its points is
    // invalid (a spec that ships one reports an error to every user who runs it).
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("arch/sweeps");
    let mut specs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    specs.sort();
    assert!(specs.len() >= 3, "{specs:?}");
    for path in specs {
        let s = SweepSpec::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(s.point_count() > 0, "{}", path.display());
        for p in s.points() {
            // Points a spec's constraints skip are skipped on purpose.
            if let sweep::spec::Resolved::Invalid(e) = s.resolve(&p) {
                panic!("{} point {}: {e}", path.display(), p.id);
            }
        }
    }
}

#[test]
fn plots_skip_axes_that_hold_one_value() {
    let spec = SweepSpec::parse(
        "name = \"p\"\narch = \"spatten\"\nworkloads = [\"bert-base\"]\n[axes]\nqk.multipliers = [128, 256]\n\"hbm.channels\" = [16]\n",
        Path::new("p.toml"),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s");
    sweep::run_sweep(&spec, &PeakEvaluator, &options(&out)).unwrap();
    let files = sweep::plot::plot_dir(&out, "peak_gops", &dir.path().join("f")).unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.contains(&"peak_gops_vs_qk_multipliers.png".to_string()),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.contains("hbm_channels")),
        "{names:?}"
    );
}
