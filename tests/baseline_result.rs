//! The baseline result file: a hand-written GPU file (as scripts/gpu_baseline.py writes it)
//! parses, its counts are checked against the dense-attention counts, and bad files are
//! refused with the file, key and reason.

use std::path::Path;

use spatten::baseline::result::BaselineResult;
use spatten::baseline::{Precision, Provenance, StageKindLabel, load_profile, model_workload};
use spatten::config::load_workload;

/// bert-base (12 layers x 12 heads, D = 64, L = 128), fp32, counted by hand:
/// ops = 12 * 12 * 128^2 * (4 * 64 + 4) = 613_416_960;
/// bytes = 12 * 4 * 12 * (4 * 128 * 64 + 4 * 128^2) = 56_623_104.
const SAMPLE: &str = r#"{
  "format": "spatten-baseline",
  "version": 1,
  "device": "nvidia-titan-xp",
  "device_description": "NVIDIA TITAN Xp (PyTorch 1.7.1, CUDA 10.2)",
  "device_kind": "gpu",
  "provenance": "measured",
  "precision": "fp32",
  "workload": {
    "name": "bert-base", "layers": 12, "heads": 12, "head_dim": 64, "causal": false,
    "stage": "summarization", "prompt_tokens": 128, "generated_tokens": 0
  },
  "energy_method": "nvidia-smi power.draw every 50 ms: loaded minus idle, x median latency",
  "stages": [
    {
      "stage": "summarization",
      "ops": 613416960,
      "bytes": 56623104,
      "latency_s": 0.0004,
      "power_w": 80.0,
      "energy_j": 0.032,
      "timing": {
        "runs": 1000, "warmup": 50, "median_s": 0.0004, "trimmed_mean_s": 0.00041,
        "trim_fraction": 0.15, "min_s": 0.00038, "max_s": 0.0009
      }
    }
  ],
  "notes": ["hand-written sample"]
}"#;

#[test]
fn hand_written_gpu_file_parses() {
    let r = BaselineResult::from_json(SAMPLE, Path::new("sample.json")).unwrap();
    assert_eq!(r.provenance, Provenance::Measured);
    assert_eq!(r.precision, Precision::Fp32);
    let s = r.stage(StageKindLabel::Summarization).unwrap();
    assert_eq!(s.ops, 613_416_960);
    assert!((s.throughput_gops() - 613_416_960.0 / 0.0004 / 1e9).abs() < 1e-9);
    assert!((r.total_energy_j() - 0.032).abs() < 1e-15);
    let text = r.summary();
    assert!(
        text.contains("measured") && text.contains("trimmed mean"),
        "{text}"
    );
    // Its counts agree with the model's counts for the same workload.
    let m = model_workload(
        &load_profile("titan-xp").unwrap(),
        &load_workload("bert-base").unwrap(),
        Precision::Fp32,
    )
    .unwrap();
    assert_eq!(m.stages[0].ops, s.ops);
    assert_eq!(m.stages[0].bytes, s.bytes);
}

fn error_of(text: &str) -> String {
    BaselineResult::from_json(text, Path::new("gpu.json"))
        .unwrap_err()
        .to_string()
}

#[test]
fn bad_files_name_file_key_and_reason() {
    let e = error_of(&SAMPLE.replace("\"ops\": 613416960", "\"ops\": 613416961"));
    assert!(
        e.starts_with("gpu.json: key `stages[0].ops`: 613416961 does not match"),
        "{e}"
    );
    let e = error_of(&SAMPLE.replace("\"power_w\": 80.0", "\"power_w\": 80.0, \"watts\": 1"));
    assert!(
        e.contains("unknown field `watts`") && e.contains("stages[0]"),
        "{e}"
    );
    let e = error_of(&SAMPLE.replace("\"version\": 1", "\"version\": 2"));
    assert!(e.contains("key `version`: unsupported version 2"), "{e}");
    let e = error_of(&SAMPLE.replace("\"latency_s\": 0.0004", "\"latency_s\": -1.0"));
    assert!(e.contains("stages[0].latency_s"), "{e}");
    let e = error_of(&SAMPLE.replace(
        "\"provenance\": \"measured\"",
        "\"provenance\": \"guessed\"",
    ));
    assert!(
        e.contains("provenance") && e.contains("unknown variant"),
        "{e}"
    );
    let e = error_of(&SAMPLE.replace(
        "\"stage\": \"summarization\",\n      \"ops\"",
        "\"stage\": \"generation\",\n      \"ops\"",
    ));
    assert!(e.contains("has no generation stage"), "{e}");
    let e = error_of(&SAMPLE.replace("\"min_s\": 0.00038", "\"min_s\": 0.001"));
    assert!(e.contains("stages[0].timing"), "{e}");
    let e = error_of("{ not json");
    assert!(e.starts_with("gpu.json:1:"), "{e}");
}

#[test]
fn modelled_results_round_trip_through_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let w = load_workload("gpt2-small").unwrap();
    for device in [
        "titan-xp",
        "xeon-e5-2640-v4",
        "jetson-nano",
        "raspberry-pi-4",
        "a100",
        "h100",
        "generic-host",
        "a3",
        "mnnfast",
    ] {
        let r = model_workload(&load_profile(device).unwrap(), &w, Precision::Fp32).unwrap();
        assert_eq!(r.provenance, Provenance::Modelled);
        assert_eq!(r.stages.len(), 2);
        let path = dir.path().join(format!("{device}.json"));
        r.write(&path).unwrap();
        let back = BaselineResult::read(&path).unwrap();
        // serde_json (without its float_roundtrip feature) may move the last bit of a float.
        let close = |a: f64, b: f64| (a - b).abs() <= 4.0 * f64::EPSILON * a.abs().max(b.abs());
        assert_eq!(back.stages.len(), r.stages.len());
        for (b, s) in back.stages.iter().zip(&r.stages) {
            assert_eq!(
                (b.stage, b.ops, b.bytes),
                (s.stage, s.ops, s.bytes),
                "{device}"
            );
            assert!(
                close(b.latency_s, s.latency_s)
                    && close(b.energy_j, s.energy_j)
                    && close(b.power_w, s.power_w),
                "{device}"
            );
        }
        let mut same = back.clone();
        same.stages = r.stages.clone();
        assert_eq!(same, r, "{device}");
    }
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains(".tmp")), "{names:?}");
    let e = BaselineResult::read(&dir.path().join("missing.json"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.json"), "{e}");
}
