//! Decoder forward-pass throughput (tokens/s) on the shipped test models and on a
//! GPT-2-small-sized model with random weights (12 layers, hidden 768, 12 heads, vocab
//! 50257): a 128-token prompt in one call (prefill), and 128 tokens one call each through
//! the KV cache (decode). Run: `cargo bench --bench decoder`. Needs no data folder.

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use spatten::model::decoder_config::Activation;
use spatten::model::decoder_weights::DecoderWeights;
use spatten::model::{DecoderArch, DecoderConfig, DecoderModel, DenseCausal, KvCache};

const TOKENS: usize = 128;

fn gpt2_small(tokenizer_from: &DecoderModel) -> DecoderModel {
    let cfg = DecoderConfig {
        arch: DecoderArch::Gpt2,
        vocab_size: 50257,
        hidden_size: 768,
        num_layers: 12,
        num_heads: 12,
        num_kv_heads: 12,
        head_dim: 64,
        intermediate_size: 3072,
        max_positions: 1024,
        norm_eps: 1e-5,
        activation: Activation::GeluTanh,
        rope_theta: 0.0,
        tie_word_embeddings: true,
        attention_bias: true,
        mlp_bias: true,
    };
    let w = DecoderWeights::random(&cfg, 7);
    DecoderModel::from_parts(
        "gpt2-small-random",
        cfg,
        w,
        tokenizer_from.tokenizer().clone(),
    )
}

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let gpt2 = DecoderModel::load(&root.join("tiny-gpt2")).unwrap();
    let llama = DecoderModel::load(&root.join("tiny-llama")).unwrap();
    let big = gpt2_small(&gpt2);
    let ids: Vec<u32> = (0..TOKENS as u32).map(|i| (i * 37) % 2048).collect();
    let mut g = c.benchmark_group("decoder");
    g.sample_size(10);
    g.throughput(Throughput::Elements(TOKENS as u64));
    for m in [&gpt2, &llama, &big] {
        g.bench_function(format!("{}/prefill_{TOKENS}", m.name()), |b| {
            b.iter(|| m.logits(&ids).unwrap())
        });
        g.bench_function(format!("{}/decode_{TOKENS}", m.name()), |b| {
            b.iter(|| {
                let mut cache = KvCache::new(m.config(), TOKENS);
                for t in 0..TOKENS {
                    m.forward(&ids[t..t + 1], &mut cache, &mut DenseCausal)
                        .unwrap();
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
