//! Encoder throughput on real weights: one STS-B-length sentence and one long paragraph.
//! Run: `cargo bench --bench model` (needs ../shared/models/all-MiniLM-L6-v2 or
//! $SPATTEN_SHARED).

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use spatten::model::BertModel;

fn shared(rel: &str) -> PathBuf {
    if let Ok(dir) = std::env::var("SPATTEN_SHARED") {
        return PathBuf::from(dir).join(rel);
    }
    let beside = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared")).join(rel);
    if beside.exists() {
        beside
    } else {
        PathBuf::from("/work/shared").join(rel)
    }
}

fn bench(c: &mut Criterion) {
    let model = BertModel::load(&shared("models/all-MiniLM-L6-v2")).unwrap();
    let short = "A man is feeding a mouse to a snake in the garden.";
    let long = "SpAtten prunes unimportant tokens and heads progressively. ".repeat(12);
    let mut g = c.benchmark_group("bert_embed");
    g.bench_function("sentence_14_tokens", |b| {
        b.iter(|| model.embed(short).unwrap())
    });
    g.bench_function("paragraph_170_tokens", |b| {
        b.iter(|| model.embed(&long).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
