//! Encoder throughput on real weights: one STS-B-length sentence and one long paragraph.
//! Run: `cargo bench --bench model` (needs the model under the data root: scripts/fetch-model.sh
//! puts it there; see data/README.md).

use criterion::{Criterion, criterion_group, criterion_main};
use spatten::data_dir::Dataset;
use spatten::model::BertModel;

fn bench(c: &mut Criterion) {
    let dataset = Dataset::MiniLm;
    if !dataset.is_present() {
        eprintln!("bench model not run: {}", dataset.missing_message());
        return;
    }
    let model = BertModel::load(&dataset.path()).unwrap();
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
