//! `spatten accuracy` end to end: output, agreement with the library, and bad input (exit 2).

mod common;

use common::shared;
use std::process::Command;

use spatten::model::{BertModel, DenseAttention, evaluate, read_sts};

fn spatten() -> Command {
    Command::new(env!("CARGO_BIN_EXE_spatten"))
}

#[test]
fn prints_the_dense_spearman_of_the_library() {
    let model_dir = shared("models/all-MiniLM-L6-v2");
    let data = shared("data/stsb/sts-dev.tsv");
    let out = spatten()
        .args(["accuracy", "--limit", "16", "--model"])
        .arg(&model_dir)
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("(16 pairs)"), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("Spearman (dense): "))
        .expect("Spearman line");
    let printed: f64 = line
        .trim_start_matches("Spearman (dense): ")
        .parse()
        .unwrap();

    let pairs = read_sts(&data).unwrap();
    let model = BertModel::load(&model_dir).unwrap();
    let want = evaluate(&model, &pairs[..16], || DenseAttention, &|| ())
        .unwrap()
        .spearman;
    // Printed with 4 decimals: off by at most half a unit in the last place.
    assert!((printed - want).abs() <= 5.0001e-5, "{printed} vs {want}");
}

fn fails_with(args: &[&str], cwd: Option<&std::path::Path>, needle: &str) {
    let mut cmd = spatten();
    cmd.args(args);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(needle), "expected {needle:?} in {stderr}");
}

#[test]
fn missing_model_directory_exits_2() {
    let data = shared("data/stsb/sts-dev.tsv");
    fails_with(
        &[
            "accuracy",
            "--model",
            "/nonexistent/model",
            "--data",
            data.to_str().unwrap(),
        ],
        None,
        "does not exist",
    );
}

#[test]
fn missing_default_data_asks_for_data_flag() {
    let dir = tempfile::tempdir().unwrap();
    let model = shared("models/all-MiniLM-L6-v2");
    fails_with(
        &["accuracy", "--model", model.to_str().unwrap()],
        Some(dir.path()),
        "--data",
    );
}

#[test]
fn malformed_data_line_is_reported_with_its_number() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.tsv");
    std::fs::write(
        &file,
        "g\tf\t2012\t1\t3.0\tA.\tB.\ng\tf\t2012\t2\tnope\tA.\tB.\n",
    )
    .unwrap();
    let model = shared("models/all-MiniLM-L6-v2");
    fails_with(
        &[
            "accuracy",
            "--model",
            model.to_str().unwrap(),
            "--data",
            file.to_str().unwrap(),
        ],
        None,
        "bad.tsv:2: score `nope`",
    );
}
