//! The decoder forward pass on the shipped test models (models/tiny-gpt2, models/tiny-llama):
//! KV-cache steps against one full pass, sharded checkpoints, greedy generation, load errors,
//! and the closed loop's closed-form case (pruning a token that receives no attention).

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ndarray::{Array3, s};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use spatten::config::workload::QuantMode;
use spatten::model::{
    DecoderArch, DecoderConfig, DecoderKernel, DecoderModel, DenseCausal, KvCache, ModelError,
    ReferenceDecoder, decoder_config::Activation,
};

const MODELS: [&str; 2] = ["tiny-gpt2", "tiny-llama"];

fn model_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(name)
}

fn prompt(model: &DecoderModel) -> Vec<u32> {
    model
        .encode(" The European lobster is a species of clawed lobster from the eastern Atlantic Ocean .")
        .unwrap()
}

#[test]
fn kv_cache_steps_equal_one_full_pass() {
    for name in MODELS {
        let model = DecoderModel::load(&model_dir(name)).unwrap();
        let ids = prompt(&model);
        let full = model.logits(&ids).unwrap();
        let mut cache = KvCache::new(model.config(), ids.len());
        // A 5-token prompt, then one token per call.
        let first = model
            .forward(&ids[..5], &mut cache, &mut DenseCausal)
            .unwrap();
        assert_eq!(first.positions, vec![0, 1, 2, 3, 4]);
        let mut worst = 0.0f32;
        for (r, row) in first.logits.rows().into_iter().enumerate() {
            for (a, b) in row.iter().zip(full.row(r)) {
                worst = worst.max((a - b).abs());
            }
        }
        for t in 5..ids.len() {
            let step = model
                .forward(&ids[t..t + 1], &mut cache, &mut DenseCausal)
                .unwrap();
            assert_eq!(step.positions, vec![t]);
            for (a, b) in step.logits.row(0).iter().zip(full.row(t)) {
                worst = worst.max((a - b).abs());
            }
        }
        // Same arithmetic in a different grouping of the matrix products: f32 rounding only.
        assert!(worst < 1e-4, "{name}: cached steps differ by {worst}");
    }
}

#[test]
fn greedy_generation_picks_the_argmax_of_a_full_pass() {
    for name in MODELS {
        let model = DecoderModel::load(&model_dir(name)).unwrap();
        let ids = prompt(&model);
        let generated = model.generate(&ids, 12, &mut DenseCausal).unwrap();
        assert_eq!(generated.len(), 12);
        let mut all = ids.clone();
        all.extend(&generated);
        let logits = model.logits(&all).unwrap();
        for (i, &g) in generated.iter().enumerate() {
            let row = logits.row(ids.len() - 1 + i);
            let best = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            // The chosen token is the maximum (up to f32 noise between the two paths).
            assert!(row[g as usize] >= best - 1e-4, "{name}: step {i}");
        }
        let text = model.tokenizer().decode(&generated).unwrap();
        eprintln!("{name}: greedy continuation: {text:?}");
    }
}

/// Every tensor of a checkpoint, owned: (name, dtype, shape, bytes).
fn read_all(path: &Path) -> Vec<(String, Dtype, Vec<usize>, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut v: Vec<_> = st
        .tensors()
        .into_iter()
        .map(|(n, t)| (n, t.dtype(), t.shape().to_vec(), t.data().to_vec()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn write(path: &Path, tensors: &[(String, Dtype, Vec<usize>, Vec<u8>)]) {
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    std::fs::write(path, safetensors::serialize(views, &None).unwrap()).unwrap();
}

/// A copy of a shipped model folder without its weights.
fn copy_without_weights(name: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(model_dir(name).join(f), tmp.path().join(f)).unwrap();
    }
    tmp
}

#[test]
fn a_sharded_checkpoint_gives_the_same_logits() {
    for name in MODELS {
        let tensors = read_all(&model_dir(name).join("model.safetensors"));
        let tmp = copy_without_weights(name);
        let half = tensors.len() / 2;
        let mut map = HashMap::new();
        for (i, part) in [&tensors[..half], &tensors[half..]].iter().enumerate() {
            let file = format!("model-{:05}-of-00002.safetensors", i + 1);
            write(&tmp.path().join(&file), part);
            for t in part.iter() {
                map.insert(t.0.clone(), file.clone());
            }
        }
        std::fs::write(
            tmp.path().join("model.safetensors.index.json"),
            serde_json::json!({"metadata": {}, "weight_map": map}).to_string(),
        )
        .unwrap();
        let sharded = DecoderModel::load(tmp.path()).unwrap();
        let single = DecoderModel::load(&model_dir(name)).unwrap();
        let ids = prompt(&single);
        assert_eq!(sharded.logits(&ids).unwrap(), single.logits(&ids).unwrap());
    }
}

#[test]
fn half_precision_weights_load_widened() {
    // BF16 is how real Llama checkpoints ship: the loader widens it to f32.
    let name = "tiny-llama";
    let tensors: Vec<_> = read_all(&model_dir(name).join("model.safetensors"))
        .into_iter()
        .map(|(n, _, s, b)| {
            let bf: Vec<u8> = b
                .chunks_exact(4)
                .flat_map(|c| {
                    half::bf16::from_f32(f32::from_le_bytes([c[0], c[1], c[2], c[3]])).to_le_bytes()
                })
                .collect();
            (n, Dtype::BF16, s, bf)
        })
        .collect();
    let tmp = copy_without_weights(name);
    write(&tmp.path().join("model.safetensors"), &tensors);
    let bf = DecoderModel::load(tmp.path()).unwrap();
    let full = DecoderModel::load(&model_dir(name)).unwrap();
    let ids = prompt(&full);
    let (a, b) = (bf.logits(&ids).unwrap(), full.logits(&ids).unwrap());
    let worst = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max);
    // bf16 keeps 8 bits of mantissa: close, not equal.
    assert!(worst > 0.0 && worst < 0.5, "bf16 logits differ by {worst}");
}

#[test]
fn a_wrong_or_missing_tensor_is_named_with_both_shapes() {
    let name = "tiny-gpt2";
    let tensors = read_all(&model_dir(name).join("model.safetensors"));
    let target = "transformer.h.1.attn.c_proj.weight";

    let tmp = copy_without_weights(name);
    let shrunk: Vec<_> = tensors
        .iter()
        .cloned()
        .map(|(n, d, s, b)| {
            if n == target {
                (n, d, vec![127, 128], b[..127 * 128 * 4].to_vec())
            } else {
                (n, d, s, b)
            }
        })
        .collect();
    write(&tmp.path().join("model.safetensors"), &shrunk);
    let err = DecoderModel::load(tmp.path()).unwrap_err();
    assert!(matches!(err, ModelError::TensorShape { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(target) && msg.contains("[127, 128]") && msg.contains("expected [128, 128]"),
        "{msg}"
    );
    // Through the CLI: one message, exit code 2.
    let (code, _, stderr) = common::spatten(&[
        "accuracy",
        "--model",
        tmp.path().to_str().unwrap(),
        "--limit",
        "1",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(target) && stderr.contains("[127, 128]"),
        "{stderr}"
    );

    let tmp = copy_without_weights(name);
    let missing: Vec<_> = tensors.iter().filter(|t| t.0 != target).cloned().collect();
    write(&tmp.path().join("model.safetensors"), &missing);
    let msg = DecoderModel::load(tmp.path()).unwrap_err().to_string();
    assert!(msg.contains(target) && msg.contains("missing"), "{msg}");
}

#[test]
fn unsupported_config_settings_are_refused_by_name() {
    let tmp = copy_without_weights("tiny-llama");
    std::fs::copy(
        model_dir("tiny-llama").join("model.safetensors"),
        tmp.path().join("model.safetensors"),
    )
    .unwrap();
    let cfg_path = tmp.path().join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg_path).unwrap()).unwrap();
    cfg["rope_parameters"] = serde_json::json!({"rope_type": "llama3", "rope_theta": 500000.0});
    std::fs::write(&cfg_path, cfg.to_string()).unwrap();
    let msg = DecoderModel::load(tmp.path()).unwrap_err().to_string();
    assert!(
        msg.contains("llama3") && msg.contains("config.json"),
        "{msg}"
    );
}

/// A one-layer, one-head decoder shape for driving the reference kernel directly.
fn tiny_config() -> DecoderConfig {
    DecoderConfig {
        arch: DecoderArch::Gpt2,
        vocab_size: 4,
        hidden_size: 4,
        num_layers: 1,
        num_heads: 1,
        num_kv_heads: 1,
        head_dim: 4,
        intermediate_size: 4,
        max_positions: 16,
        norm_eps: 1e-5,
        activation: Activation::GeluTanh,
        rope_theta: 0.0,
        tie_word_embeddings: true,
        attention_bias: true,
        mlp_bias: true,
    }
}

/// Runs a 3-token prompt and 3 generation steps through the reference with a token-pruning
/// ratio; returns each call's context rows and the rows kept.
fn run_reference(ratio: f64, k: &Array3<f32>, v: &Array3<f32>) -> (Vec<Vec<f32>>, Vec<usize>) {
    let mut w = spatten::config::load_workload("gpt2-small").unwrap();
    w.token_pruning.average_ratio = ratio;
    w.token_pruning.unpruned_leading_fraction = 0.0;
    w.token_pruning.ramp = 0.0;
    w.head_pruning.average_ratio = 0.0;
    w.local_v.keep_ratio = 1.0;
    w.quant.mode = QuantMode::Static;
    w.quant.msb_bits = 12;
    w.quant.lsb_bits = 0;
    let mut kernel = ReferenceDecoder::new(&w, &tiny_config(), 6);
    let q = |rows: usize| {
        Array3::from_shape_fn((1, rows, 4), |(_, _, c)| if c == 0 { 40.0 } else { 0.0 })
    };
    let mut outputs = Vec::new();
    let prefill = kernel
        .attend(
            0,
            q(3).view(),
            &[0, 1, 2],
            k.slice(s![.., ..3, ..]),
            v.slice(s![.., ..3, ..]),
        )
        .unwrap();
    outputs.extend(
        prefill
            .context
            .outer_iter()
            .next()
            .unwrap()
            .rows()
            .into_iter()
            .map(|r| r.to_vec()),
    );
    for p in 3..6 {
        let out = kernel
            .attend(
                0,
                q(1).view(),
                &[p],
                k.slice(s![.., ..=p, ..]),
                v.slice(s![.., ..=p, ..]),
            )
            .unwrap();
        assert_eq!(out.keep, vec![0], "the query of a generation step stays");
        outputs.push(out.context.as_slice().unwrap().to_vec());
    }
    let (kept, seq) = kernel.kv_kept().unwrap();
    (outputs, vec![kept as usize, seq as usize])
}

#[test]
fn pruning_a_token_that_receives_no_attention_changes_nothing() {
    // Every query is (40, 0, 0, 0); every key has first component +1 except token 1's, -1:
    // after the 1/sqrt(4) scale token 1 scores 40 below the others, so its fixed-point
    // probability is exactly 0 and so is its importance. Token 1's key and value are no
    // larger than the others', so removing them leaves the quantization scales unchanged.
    let k = Array3::from_shape_fn((1, 6, 4), |(_, t, c)| match (t, c) {
        (1, 0) => -1.0,
        (_, 0) => 1.0,
        (_, 1) => 0.1 * t as f32,
        _ => 0.0,
    });
    let v = Array3::from_shape_fn((1, 6, 4), |(_, t, c)| ((t * 4 + c) % 7) as f32 * 0.25 - 0.5);
    let (dense, dense_kept) = run_reference(0.0, &k, &v);
    // Ratio 0.25: at 4 tokens keep ceil(3) = 3, so exactly the least important (token 1)
    // goes; at 5 and 6 tokens ceil(3.75) = 4 and ceil(4.5) = 5 keep everything left.
    let (pruned, pruned_kept) = run_reference(0.25, &k, &v);
    assert_eq!(dense_kept, vec![4 + 5 + 6, 15]);
    assert_eq!(
        pruned_kept,
        vec![3 + 4 + 5, 15],
        "token 1 must have been pruned"
    );
    assert_eq!(dense, pruned, "pruning an unattended token moved an output");
    // Control: pruning half the tokens removes attended ones, and the outputs move.
    let (harsh, _) = run_reference(0.5, &k, &v);
    assert_ne!(dense, harsh);
}
