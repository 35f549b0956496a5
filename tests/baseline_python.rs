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
