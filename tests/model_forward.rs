//! The f32 encoder against an independent float64 numpy implementation
//! (tests/golden/model/embeddings_f64.json, written by scripts/gen-embedding-golden.py), plus
//! the kernel contract: determinism across thread counts and real token pruning.

mod common;

use common::data;
use std::sync::OnceLock;

use ndarray::{Array3, ArrayView3, Axis};
use serde_json::Value;
use spatten::model::{
    AttentionKernel, AttentionOutput, BertModel, DenseAttention, ModelError, capture,
    dense_attention, embedding_drift, evaluate, read_sts,
};

/// Embedding values are ~0.05; the measured f32-vs-f64 gap is ~1.5e-7, so this leaves a wide
/// margin for other CPUs' matrix kernels while catching any real error.
const EMBED_TOL: f32 = 1e-5;

fn model() -> &'static BertModel {
    static M: OnceLock<BertModel> = OnceLock::new();
    M.get_or_init(|| BertModel::load(&data("models/all-MiniLM-L6-v2")).unwrap())
}

fn golden() -> &'static Value {
    static G: OnceLock<Value> = OnceLock::new();
    G.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/golden/model/embeddings_f64.json"
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    })
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
#[cfg_attr(
    not(data_minilm),
    ignore = "needs the MiniLM model (see data/README.md)"
)]
fn embeddings_match_numpy_f64() {
    let m = model();
    let sentences = golden()["sentences"].as_array().unwrap();
    assert!(sentences.len() >= 5);
    for s in sentences {
        let text = s["text"].as_str().unwrap();
        let ids: Vec<u32> = floats(&s["ids"]).iter().map(|&x| x as u32).collect();
        assert_eq!(m.encode(text).unwrap(), ids, "{text:?}");
        let got = m.embed(text).unwrap();
        let want = floats(&s["embedding"]);
        assert_eq!(got.len(), want.len());
        let worst = got
            .iter()
            .zip(&want)
            .map(|(&g, &w)| (g - w as f32).abs())
            .fold(0.0f32, f32::max);
        eprintln!("{text:?}: max |f32 - f64| = {worst:e}");
        assert!(worst < EMBED_TOL, "{text:?}: max |diff| {worst}");
    }
}

#[test]
#[cfg_attr(
    not(data_minilm),
    ignore = "needs the MiniLM model (see data/README.md)"
)]
fn capture_matches_numpy_qkv() {
    let cap = &golden()["capture"];
    let text = cap["text"].as_str().unwrap();
    let head = cap["head"].as_u64().unwrap() as usize;
    let values = capture(model(), text).unwrap();
    assert_eq!(values.layers.len(), 6);
    assert_eq!((values.heads(), values.head_dim()), (12, 32));
    assert_eq!(values.tokens(), model().encode(text).unwrap().len());
    assert_eq!(values.meta.model, "all-MiniLM-L6-v2");
    assert!(!values.meta.causal);
    assert_eq!(values.meta.prompt_tokens as usize, values.tokens());
    let layers = cap["layers"].as_object().unwrap();
    assert_eq!(layers.len(), 2);
    for (layer, qkv) in layers {
        let l: usize = layer.parse().unwrap();
        let lv = &values.layers[l];
        for (name, got) in [("q", &lv.q), ("k", &lv.k), ("v", &lv.v)] {
            let rows = qkv[name].as_array().unwrap();
            let got = got.index_axis(Axis(0), head);
            assert_eq!(rows.len(), got.nrows());
            for (row, want) in got.rows().into_iter().zip(rows) {
                for (&g, w) in row.iter().zip(floats(want)) {
                    // Projections are O(1)-O(10); compare relative to magnitude.
                    assert!(
                        (g as f64 - w).abs() < 1e-4 * (1.0 + w.abs()),
                        "layer {l} {name}: {g} vs {w}"
                    );
                }
            }
        }
    }
}

#[test]
#[cfg_attr(
    not(all(data_minilm, data_stsb)),
    ignore = "needs the MiniLM model and STS-B dev (see data/README.md)"
)]
fn stsb_pairs_match_numpy_cosines_and_spearman() {
    let st = &golden()["stsb"];
    let n = st["pairs"].as_u64().unwrap() as usize;
    let pairs = read_sts(&data("data/stsb/sts-dev.tsv")).unwrap();
    assert_eq!(pairs.len(), st["all_pairs"].as_u64().unwrap() as usize);
    let report = evaluate(model(), &pairs[..n], || DenseAttention, &|| ()).unwrap();
    for (i, (&g, w)) in report
        .cosines
        .iter()
        .zip(floats(&st["cosines"]))
        .enumerate()
    {
        assert!((g - w).abs() < 2e-6, "pair {i}: {g} vs {w}");
    }
    let want = st["spearman"].as_f64().unwrap();
    assert!(
        (report.spearman - want).abs() < 1e-9,
        "{} vs {want}",
        report.spearman
    );
    assert_eq!(report.tokens, report.surviving_tokens);
}

#[test]
#[cfg_attr(
    not(all(data_minilm, data_stsb)),
    ignore = "needs the MiniLM model and STS-B dev (see data/README.md)"
)]
fn evaluation_is_bit_identical_at_any_thread_count() {
    let pairs = read_sts(&data("data/stsb/sts-dev.tsv")).unwrap();
    let run = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| evaluate(model(), &pairs[..12], || DenseAttention, &|| ()).unwrap())
    };
    let one = run(1);
    assert_eq!(one, run(3));
    let bits = |r: &spatten::model::AccuracyReport| {
        r.cosines.iter().map(|c| c.to_bits()).collect::<Vec<_>>()
    };
    assert_eq!(bits(&one), bits(&run(2)));
}

/// At layer 0, drops the last token and attends over the others only.
struct DropLastAtLayer0;

impl AttentionKernel for DropLastAtLayer0 {
    fn attend(
        &mut self,
        layer: usize,
        q: ArrayView3<f32>,
        k: ArrayView3<f32>,
        v: ArrayView3<f32>,
    ) -> Result<AttentionOutput, ModelError> {
        if layer != 0 {
            return DenseAttention.attend(layer, q, k, v);
        }
        let t = q.shape()[1];
        let keep: Vec<usize> = (0..t - 1).collect();
        let sub = |x: ArrayView3<f32>| x.select(Axis(1), &keep);
        let ctx = dense_attention(sub(q).view(), sub(k).view(), sub(v).view());
        // The dropped row's context is never used; give it garbage to prove that.
        let mut context = Array3::from_elem(q.raw_dim(), f32::NAN);
        context.slice_mut(ndarray::s![.., ..t - 1, ..]).assign(&ctx);
        Ok(AttentionOutput { context, keep })
    }
}

#[test]
#[cfg_attr(
    not(data_minilm),
    ignore = "needs the MiniLM model (see data/README.md)"
)]
fn pruned_token_disappears_from_later_layers_and_pooling() {
    // Dropping [SEP] before it is ever attended to equals never having had it: the other
    // tokens keep their positions, so the dense run on the ids without [SEP] is the reference.
    let m = model();
    let text = "A man is feeding a mouse to a snake.";
    let ids = m.encode(text).unwrap();
    let pruned = m.forward(&ids, &mut DropLastAtLayer0).unwrap();
    let reference = m
        .forward(&ids[..ids.len() - 1], &mut DenseAttention)
        .unwrap();
    assert_eq!(pruned.surviving, (0..ids.len() - 1).collect::<Vec<_>>());
    assert_eq!(pruned.tokens, ids.len());
    let worst = pruned
        .vector
        .iter()
        .zip(&reference.vector)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-6, "max |diff| {worst}");
    let dense = m.forward(&ids, &mut DenseAttention).unwrap();
    assert!(
        dense
            .vector
            .iter()
            .zip(&pruned.vector)
            .any(|(a, b)| (a - b).abs() > 1e-3)
    );
}

struct KeepNothing;

impl AttentionKernel for KeepNothing {
    fn attend(
        &mut self,
        layer: usize,
        q: ArrayView3<f32>,
        k: ArrayView3<f32>,
        v: ArrayView3<f32>,
    ) -> Result<AttentionOutput, ModelError> {
        let mut out = DenseAttention.attend(layer, q, k, v)?;
        out.keep.clear();
        Ok(out)
    }
}

#[test]
#[cfg_attr(
    not(data_minilm),
    ignore = "needs the MiniLM model (see data/README.md)"
)]
fn a_kernel_that_keeps_nothing_is_an_error() {
    let e = model()
        .embed_with("two words", &mut KeepNothing)
        .unwrap_err();
    assert!(matches!(e, ModelError::Kernel { layer: 0, .. }), "{e}");
}

#[test]
#[cfg_attr(
    not(all(data_minilm, data_stsb)),
    ignore = "needs the MiniLM model and STS-B dev (see data/README.md)"
)]
fn drift_is_one_against_itself_and_below_one_when_pruned() {
    let pairs = read_sts(&data("data/stsb/sts-dev.tsv")).unwrap();
    let dense = evaluate(model(), &pairs[..6], || DenseAttention, &|| ()).unwrap();
    let pruned = evaluate(model(), &pairs[..6], || DropLastAtLayer0, &|| ()).unwrap();
    let same = embedding_drift(&dense, &dense).unwrap();
    assert!((same.mean_cosine - 1.0).abs() < 1e-9 && (same.min_cosine - 1.0).abs() < 1e-9);
    let d = embedding_drift(&dense, &pruned).unwrap();
    assert!(
        d.min_cosine <= d.mean_cosine && d.mean_cosine < 1.0 - 1e-6,
        "{d:?}"
    );
    assert!(
        d.min_cosine > 0.5,
        "dropping [SEP] should not scramble embeddings: {d:?}"
    );
    // Each sentence lost exactly its [SEP].
    assert_eq!(pruned.tokens - pruned.surviving_tokens, 12);
    let shorter = evaluate(model(), &pairs[..5], || DenseAttention, &|| ()).unwrap();
    assert!(embedding_drift(&dense, &shorter).is_err());
}

#[test]
#[cfg_attr(
    not(all(data_minilm, data_stsb)),
    ignore = "needs the MiniLM model and STS-B dev (see data/README.md)"
)]
fn a_batch_gives_each_sentence_its_one_sentence_embedding_bit_for_bit() {
    // Sentences of different lengths, with the bit-exact reference pruning tokens and heads
    // (so rows leave the stacked matrix mid-batch) and with dense attention.
    let m = model();
    let pairs = read_sts(&data("data/stsb/sts-dev.tsv")).unwrap();
    let ids: Vec<Vec<u32>> = pairs[..5]
        .iter()
        .flat_map(|p| [&p.sentence1, &p.sentence2])
        .map(|s| m.encode(s).unwrap())
        .collect();
    assert!(ids.iter().any(|s| s.len() != ids[0].len()));
    let workload = spatten::config::load_workload("bert-base").unwrap();
    let reference = || spatten::model::ReferenceAttention::new(&workload, m.config());
    let sentences: Vec<&[u32]> = ids.iter().map(Vec::as_slice).collect();

    let mut kernels: Vec<_> = sentences.iter().map(|_| reference()).collect();
    let batched = m.forward_batch(&sentences, &mut kernels).unwrap();
    let mut pruned_any = false;
    for (s, b) in sentences.iter().zip(&batched) {
        let alone = m.forward(s, &mut reference()).unwrap();
        pruned_any |= alone.surviving.len() < s.len();
        assert_eq!(&alone, b);
    }
    assert!(
        pruned_any,
        "the reference pruned no token: the test proves less"
    );

    let mut dense = vec![DenseAttention; sentences.len()];
    let batched = m.forward_batch(&sentences, &mut dense).unwrap();
    for (s, b) in sentences.iter().zip(&batched) {
        assert_eq!(&m.forward(s, &mut DenseAttention).unwrap(), b);
    }
}
