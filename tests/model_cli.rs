//! `spatten accuracy` end to end: output, agreement with the library, and bad input (exit 2).

mod common;

use common::data;
use std::process::Command;

use spatten::model::{BertModel, DenseAttention, evaluate, read_sts};

fn spatten() -> Command {
    Command::new(env!("CARGO_BIN_EXE_spatten"))
}

#[test]
#[cfg_attr(
    not(all(data_minilm, data_stsb)),
    ignore = "needs the MiniLM model and STS-B dev (see data/README.md)"
)]
fn prints_the_dense_spearman_of_the_library() {
    let model_dir = data("models/all-MiniLM-L6-v2");
    let data = data("data/stsb/sts-dev.tsv");
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
    cmd.args(args).env_remove("SPATTEN_DATA");
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
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("one.tsv");
    std::fs::write(&data, "g\tf\t2012\t1\t3.0\tA cat.\tA dog.\n").unwrap();
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
fn missing_default_data_names_the_flag_and_the_data_root() {
    let dir = tempfile::tempdir().unwrap();
    for needle in ["--data", "SPATTEN_DATA", "data/stsb/sts-dev.tsv"] {
        fails_with(
            &["accuracy", "--model", "/nonexistent/model"],
            Some(dir.path()),
            needle,
        );
    }
    // With the data given, the missing default model names the fetch script.
    let data = dir.path().join("one.tsv");
    std::fs::write(&data, "g\tf\t2012\t1\t3.0\tA cat.\tA dog.\n").unwrap();
    fails_with(
        &["accuracy", "--data", data.to_str().unwrap()],
        Some(dir.path()),
        "scripts/fetch-model.sh",
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
    // The STS file is read before the model is loaded.
    fails_with(
        &[
            "accuracy",
            "--model",
            "/nonexistent/model",
            "--data",
            file.to_str().unwrap(),
        ],
        None,
        "bad.tsv:2: score `nope`",
    );
}
