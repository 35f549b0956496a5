//! The reference in the model's loop: quantization alone barely moves embeddings, pruning
//! removes exactly the tokens the schedule says, and the decisions are the reference's.

mod common;

use spatten::config::load_workload;
use spatten::model::{
    BertModel, DenseAttention, ReferenceAttention, embedding_drift, evaluate, read_sts,
    workload_for_model,
};
use spatten::reference::prune::keep_count;

fn model() -> BertModel {
    BertModel::load(&common::data("models/all-MiniLM-L6-v2")).unwrap()
}

#[test]
#[cfg_attr(
    not(all(data_minilm, data_stsb)),
    ignore = "needs the MiniLM model and STS-B dev (see data/README.md)"
)]
fn quantization_alone_keeps_embeddings() {
    let bert = model();
    let pairs = read_sts(&common::data("data/stsb/sts-dev.tsv")).unwrap();
    let pairs = &pairs[..12];
    let mut w = load_workload("bert-base").unwrap();
    w.token_pruning.average_ratio = 0.0;
    w.token_pruning.ramp = 0.0;
    w.head_pruning.average_ratio = 0.0;
    let cfg = bert.config().clone();
    let dense = evaluate(&bert, pairs, || DenseAttention, &|| {}).unwrap();
    let quant = evaluate(&bert, pairs, || ReferenceAttention::new(&w, &cfg), &|| {}).unwrap();
    let drift = embedding_drift(&dense, &quant).unwrap();
    // 12-bit symmetric quantization with fixed-point softmax: cosine stays within 1e-3.
    assert!(drift.min_cosine > 0.999, "{drift:?}");
    assert_eq!(quant.surviving_tokens, quant.tokens);
}

#[test]
#[cfg_attr(
    not(data_minilm),
    ignore = "needs the MiniLM model (see data/README.md)"
)]
fn token_pruning_keeps_the_scheduled_count() {
    let bert = model();
    let w = load_workload("bert-base").unwrap();
    let cfg = bert.config().clone();
    let text = "The quick brown fox jumps over the lazy dog while the cat watches from a sunny window sill.";
    let mut kernel = ReferenceAttention::new(&w, &cfg);
    let e = bert.embed_with(text, &mut kernel).unwrap();
    let n = bert.encode(text).unwrap().len() as u32;
    let shaped = workload_for_model(&w, &cfg, n);
    let layers = shaped.model.layers;
    // The count after the last layer follows from the cumulative schedule.
    let mut alive = n;
    for layer in 0..layers {
        let r = shaped.token_pruning.ratio_after_layer(layer, layers);
        alive = alive.min(keep_count(n, r));
    }
    assert_eq!(e.surviving.len() as u32, alive);
    assert!(alive < n);
    assert_eq!(kernel.alive_tokens() as u32, alive);
}
