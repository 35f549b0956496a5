//! The Rust decoders against an independent float64 numpy implementation
//! (scripts/decoder_numpy.py, no shared code) on both shipped models, and, when an interpreter
//! with PyTorch and transformers is at hand (`SPATTEN_TORCH_PYTHON`, else python3), against
//! GPT2LMHeadModel / LlamaForCausalLM loaded from the same folder.
//!
//! Tolerances: the Rust pass is f32 throughout; over 4 layers of width 128 its logits stay
//! within 2e-4 of float64 (measured: 9.5e-6 GPT-2, 1.1e-5 Llama);
//! perplexity, an average of ~380 log-probabilities, within a relative 1e-5.

mod common;

use std::path::{Path, PathBuf};

use spatten::model::{DecoderModel, DenseCausal, evaluate_lm, windows};

const LOGIT_TOL: f64 = 2e-4;
const PPL_REL_TOL: f64 = 1e-5;
const WINDOW: usize = 128;
const WINDOWS: usize = 3;

fn model_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(name)
}

struct Numpy {
    logits: Vec<Vec<f64>>,
    logprobs: Vec<Vec<f64>>,
    torch_logits: Option<Vec<Vec<f64>>>,
    torch_skipped: Option<String>,
}

/// Runs the numpy script (by `python`, or common::python's python3) on `windows`.
fn numpy(dir: &Path, wins: &[&[u32]], interpreter: Option<&str>) -> Option<Numpy> {
    let tmp = tempfile::tempdir().unwrap();
    let ids = tmp.path().join("ids.json");
    let out = tmp.path().join("out.json");
    std::fs::write(&ids, serde_json::to_string(&wins).unwrap()).unwrap();
    let mut argv = vec![
        "scripts/decoder_numpy.py".to_string(),
        "--model".into(),
        dir.display().to_string(),
        "--windows".into(),
        ids.display().to_string(),
        "--out".into(),
        out.display().to_string(),
    ];
    match interpreter {
        None => {
            let code = format!(
                "import runpy, sys; sys.argv = {}; runpy.run_path('scripts/decoder_numpy.py', run_name='__main__')",
                serde_json::to_string(&argv).unwrap()
            );
            common::python(&code, &["numpy", "safetensors"])?;
        }
        Some(py) => {
            argv.push("--torch".into());
            let o = std::process::Command::new(py)
                .args(&argv)
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
    }
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let mat =
        |x: &serde_json::Value| -> Vec<Vec<f64>> { serde_json::from_value(x.clone()).unwrap() };
    Some(Numpy {
        logits: mat(&v["logits"]),
        logprobs: mat(&v["logprobs"]),
        torch_logits: v.get("torch_logits").map(mat),
        torch_skipped: v
            .get("torch_skipped")
            .and_then(|s| s.as_str())
            .map(str::to_string),
    })
}

fn max_abs_diff(rust: &ndarray::Array2<f32>, other: &[Vec<f64>]) -> f64 {
    assert_eq!(rust.nrows(), other.len());
    rust.rows()
        .into_iter()
        .zip(other)
        .flat_map(|(r, o)| {
            assert_eq!(r.len(), o.len());
            r.iter()
                .zip(o)
                .map(|(&a, &b)| (a as f64 - b).abs())
                .collect::<Vec<_>>()
        })
        .fold(0.0, f64::max)
}

/// The token ids of the test text (tests/data/decoder-text.txt, written for these tests).
fn text_ids(model: &DecoderModel) -> Vec<u32> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/decoder-text.txt");
    model
        .encode(&std::fs::read_to_string(path).unwrap())
        .unwrap()
}

fn check(name: &str) {
    let dir = model_dir(name);
    let model = DecoderModel::load(&dir).unwrap();
    let ids = text_ids(&model);
    let wins: Vec<&[u32]> = windows(&ids, WINDOW).into_iter().take(WINDOWS).collect();
    let Some(np) = numpy(&dir, &wins, None) else {
        return;
    };

    let logits = model.logits(wins[0]).unwrap();
    let diff = max_abs_diff(&logits, &np.logits);
    eprintln!("{name}: max |logit(rust f32) - logit(numpy f64)| = {diff:.2e}");
    assert!(diff < LOGIT_TOL, "{name}: logits differ by {diff}");

    // Dense perplexity through the KV cache, one token per step, equals numpy's
    // full-window perplexity.
    let dense = evaluate_lm(&model, &wins, 1, || DenseCausal, &|| {}).unwrap();
    let np_lp: Vec<f64> = np.logprobs.concat();
    assert_eq!(dense.targets(), np_lp.len());
    let np_ppl = (-np_lp.iter().sum::<f64>() / np_lp.len() as f64).exp();
    let rel = (dense.perplexity() - np_ppl).abs() / np_ppl;
    eprintln!(
        "{name}: perplexity rust {:.6} numpy {np_ppl:.6} (rel {rel:.1e})",
        dense.perplexity()
    );
    assert!(rel < PPL_REL_TOL, "{name}: perplexity differs by {rel}");
}

#[test]
fn tiny_gpt2_matches_numpy() {
    check("tiny-gpt2");
}

#[test]
fn tiny_llama_matches_numpy() {
    check("tiny-llama");
}

/// Against transformers' own model classes when PyTorch is installed (CI has none: this
/// says so once and passes).
#[test]
fn shipped_models_match_transformers_when_available() {
    let py = std::env::var("SPATTEN_TORCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let has = std::process::Command::new(&py)
        .args(["-c", "import torch, transformers, numpy, safetensors"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has {
        eprintln!(
            "skipped: {py} lacks torch/transformers (set SPATTEN_TORCH_PYTHON to one that has them)"
        );
        return;
    }
    for name in ["tiny-gpt2", "tiny-llama"] {
        let dir = model_dir(name);
        let model = DecoderModel::load(&dir).unwrap();
        let ids = text_ids(&model);
        let wins: Vec<&[u32]> = windows(&ids, WINDOW).into_iter().take(1).collect();
        let np = numpy(&dir, &wins, Some(&py)).unwrap();
        let Some(t) = np.torch_logits else {
            panic!("{name}: {}", np.torch_skipped.unwrap_or_default());
        };
        let diff = max_abs_diff(&model.logits(wins[0]).unwrap(), &t);
        eprintln!("{name}: max |logit(rust) - logit(transformers f64)| = {diff:.2e}");
        assert!(
            diff < LOGIT_TOL,
            "{name}: differs from transformers by {diff}"
        );
    }
}
