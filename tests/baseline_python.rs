//! scripts/gpu_baseline.py compiles, and its dense-attention counts and trimmed mean agree with
//! the Rust side (it cannot run its GPU part here). Needs python3 (3.8+); set
//! SPATTEN_SKIP_PYTHON=1 to skip on machines without it.

mod common;

use spatten::baseline::stats::trimmed_mean;
use spatten::baseline::{Precision, attention_work};
use spatten::config::load_workload;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/gpu_baseline.py");

fn python(code: &str) -> Option<String> {
    common::python(code, &[])
}

#[test]
fn script_compiles() {
    let code = format!(
        "import py_compile; import os, tempfile; py_compile.compile({SCRIPT:?}, cfile=os.path.join(tempfile.mkdtemp(), 'g.pyc'), doraise=True)"
    );
    python(&code);
}

#[test]
fn script_counts_match_work_rs() {
    for (name, precision, e) in [
        ("gpt2-small", Precision::Fp32, 4),
        ("bert-large", Precision::Fp16, 2),
    ] {
        let w = load_workload(name).unwrap();
        let code = format!(
            "import sys, json; sys.path.insert(0, 'scripts'); import gpu_baseline as g\n\
             shape = dict(layers={}, heads={}, head_dim={}, stage='{}', prompt_tokens={}, generated_tokens={})\n\
             print(json.dumps(g.stage_counts(shape, {e})))",
            w.model.layers,
            w.model.heads,
            w.model.head_dim,
            w.stage.kind.label(),
            w.stage.prompt_tokens,
            w.stage.generated_tokens
        );
        let Some(out) = python(&code) else { return };
        let got: serde_json::Value = serde_json::from_str(&out).unwrap();
        for sw in attention_work(&w, precision) {
            let pair = &got[sw.stage.label()];
            assert_eq!(
                pair[0].as_u64(),
                Some(sw.ops()),
                "{name} {} ops",
                sw.stage.label()
            );
            assert_eq!(
                pair[1].as_u64(),
                Some(sw.bytes()),
                "{name} {} bytes",
                sw.stage.label()
            );
        }
    }
}

#[test]
fn script_trimmed_mean_matches() {
    let v: Vec<f64> = (0..40).map(|i| ((i * 37) % 41) as f64 * 0.25).collect();
    let list = v
        .iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let code = format!(
        "import sys; sys.path.insert(0, 'scripts'); import gpu_baseline as g; print(repr(g.trimmed_mean([{list}])))"
    );
    let Some(out) = python(&code) else { return };
    let got: f64 = out.trim().parse().unwrap();
    assert!((got - trimmed_mean(&v, 0.15).unwrap()).abs() < 1e-12);
}

/// `measure-cpu --framework torch` end to end, when an interpreter with PyTorch is at hand
/// (`SPATTEN_TORCH_PYTHON`, else python3). CI does not install PyTorch, so this skips there and
/// says so once.
#[test]
fn torch_measurement_writes_a_checked_result() {
    let py = std::env::var("SPATTEN_TORCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_torch = std::process::Command::new(&py)
        .args(["-c", "import torch"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_torch {
        eprintln!("skipped: {py} has no PyTorch (set SPATTEN_TORCH_PYTHON to one that has)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wl = dir.path().join("tiny.toml");
    std::fs::write(
        &wl,
        "base = \"gpt2-small\"\nname = \"tiny\"\n[model]\nlayers = 2\nheads = 2\nhead_dim = 8\nhidden = 16\ncausal = true\n[stage]\nkind = \"generation\"\nprompt_tokens = 8\ngenerated_tokens = 2\n",
    )
    .unwrap();
    let out = dir.path().join("torch.json");
    let (code, stdout, stderr) = common::spatten(&[
        "baseline",
        "measure-cpu",
        "--framework",
        "torch",
        "--python",
        &py,
        "--workload",
        wl.to_str().unwrap(),
        "--repeats",
        "5",
        "--warmup",
        "1",
        "--threads",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("modelled eager on profile generic-host"),
        "{stdout}"
    );
    // The reader checks the counts against work.rs; the protocol is the paper's.
    let r = spatten::baseline::BaselineResult::read(&out).unwrap();
    assert_eq!(r.provenance, spatten::baseline::Provenance::Measured);
    assert_eq!(r.stages.len(), 2);
    for s in &r.stages {
        let t = s.timing.as_ref().unwrap();
        assert_eq!((t.runs, t.trim_fraction), (5, 0.15));
        assert_eq!(s.latency_s, t.trimmed_mean_s);
        assert!(s.energy_j > 0.0);
    }
}
