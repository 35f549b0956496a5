//! `spatten trace ...` end to end: outputs, exit code 2 on bad input, no partial files.

mod common;

use common::{spatten_output as spatten, text};

const SMALL_WORKLOAD: &str = r#"
base = "gpt2-small"
name = "tiny-gen"
[model]
layers = 2
heads = 2
head_dim = 8
hidden = 16
[stage]
kind = "generation"
prompt_tokens = 12
generated_tokens = 3
"#;

#[test]
fn synth_then_info_with_stats() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("tiny.toml");
    std::fs::write(&w, SMALL_WORKLOAD).unwrap();
    let knobs = dir.path().join("knobs.toml");
    std::fs::write(&knobs, "sink_bias = 5.0\n").unwrap();
    let out = dir.path().join("v.safetensors");
    let o = spatten(&[
        "trace",
        "synth",
        "--workload",
        w.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--seed",
        "5",
        "--knobs",
        knobs.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("2 layers x 2 heads x 15 tokens x 8 dims (seed 5)"),
        "{}",
        text(&o)
    );
    let o = spatten(&["trace", "info", out.to_str().unwrap(), "--stats"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("value tensors")
            && t.contains("\"sink_bias\":5.0")
            && t.contains("softmax rows   60"),
        "{t}"
    );
    let o = spatten(&["trace", "info", out.to_str().unwrap(), "--json"]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["tokens"], 15);
    assert_eq!(j["meta"]["prompt_tokens"], 12);
}

#[test]
#[cfg_attr(
    not(data_spatten_traces),
    ignore = "needs the SpAtten CSV traces (see data/README.md)"
)]
fn import_then_info() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t.safetensors");
    let csv = common::data("data/spatten-traces/small.csv");
    let o = spatten(&[
        "trace",
        "import-spatten-csv",
        csv.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = spatten(&["trace", "info", out.to_str().unwrap()]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    for want in [
        "attention trace",
        "head calls     1 over 1 iterations",
        "keys fetched   993",
        "LSB refetches  1",
    ] {
        assert!(t.contains(want), "missing {want:?} in {t}");
    }
    let o = spatten(&["trace", "info", out.to_str().unwrap(), "--json"]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["totals"]["values_fetched"], 993);
    assert_eq!(j["header"]["prompt_tokens"], 992);
}

#[test]
fn bad_input_exits_2_without_output_files() {
    let dir = tempfile::tempdir().unwrap();
    let bad_csv = dir.path().join("bad.csv");
    std::fs::write(&bad_csv, "iteration_id\n1\n").unwrap();
    let out = dir.path().join("out.safetensors");
    let o_ = out.to_str().unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec![
            "trace",
            "import-spatten-csv",
            bad_csv.to_str().unwrap(),
            "--out",
            o_,
        ],
        vec![
            "trace",
            "import-spatten-csv",
            "/nonexistent.csv",
            "--out",
            o_,
        ],
        vec![
            "trace",
            "synth",
            "--workload",
            "no-such-workload",
            "--out",
            o_,
        ],
        vec!["trace", "info", bad_csv.to_str().unwrap()],
        vec!["trace", "info", "/nonexistent.safetensors"],
    ];
    for args in cases {
        let o = spatten(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).starts_with("error: "),
            "{args:?}"
        );
    }
    let knobs = dir.path().join("k.toml");
    for (content, named) in [
        ("logit_std_median = -1.0\n", "logit_std_median"),
        ("no_such_knob = 1.0\n", "no_such_knob"),
    ] {
        std::fs::write(&knobs, content).unwrap();
        let o = spatten(&[
            "trace",
            "synth",
            "--workload",
            "bert-base",
            "--out",
            o_,
            "--knobs",
            knobs.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2));
        assert!(text(&o).contains(named), "{}", text(&o));
    }
    // Only the inputs remain: no output, no temporary file.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["bad.csv", "k.toml"]);
}
