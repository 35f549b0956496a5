//! run_workload on a GPT-2-small generation workload (992 + 32 tokens, 12 x 12 heads, D = 64)
//! with synthetic random values. Thread count from RAYON_NUM_THREADS.

use criterion::{Criterion, criterion_group, criterion_main};
use ndarray::Array3;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use spatten::config;
use spatten::reference::run_workload;
use spatten::trace::{LayerValues, ValueMeta, ValueTensors};

fn synthetic(w: &config::WorkloadConfig, seed: u64) -> ValueTensors {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let shape = (
        w.model.heads as usize,
        w.final_tokens() as usize,
        w.model.head_dim as usize,
    );
    let layers = (0..w.model.layers)
        .map(|_| {
            let mut make = || Array3::from_shape_fn(shape, |_| rng.gen_range(-1.0f32..1.0));
            LayerValues {
                q: make(),
                k: make(),
                v: make(),
            }
        })
        .collect();
    ValueTensors {
        meta: ValueMeta {
            model: "synthetic".into(),
            source: "uniform(-1, 1), bench".into(),
            seed,
            prompt_tokens: w.stage.prompt_tokens,
            causal: w.model.causal,
        },
        layers,
    }
}

fn bench(c: &mut Criterion) {
    let w = config::load_workload("gpt2-small").expect("gpt2-small preset");
    let values = synthetic(&w, w.seed);
    let mut g = c.benchmark_group("reference");
    g.sample_size(10);
    g.bench_function("run_workload gpt2-small 992+32", |b| {
        b.iter(|| run_workload(&values, &w).expect("run"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
