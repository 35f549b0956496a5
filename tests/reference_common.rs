// Shared by the reference_* integration tests (included with `mod`), not a test of its own.
#![allow(dead_code)]

use ndarray::Array3;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use spatten::config::{self, WorkloadConfig};
use spatten::trace::{LayerValues, ValueMeta, ValueTensors};

/// A small generation workload derived from the gpt2-small preset.
pub fn small_generation(
    layers: u32,
    heads: u32,
    d: u32,
    prompt: u32,
    generated: u32,
) -> WorkloadConfig {
    let mut w = config::load_workload("gpt2-small").unwrap();
    w.model.layers = layers;
    w.model.heads = heads;
    w.model.head_dim = d;
    w.model.hidden = heads * d;
    w.stage.prompt_tokens = prompt;
    w.stage.generated_tokens = generated;
    w
}

/// Random values with a few peaked keys per head so that softmax rows vary from flat to sharp.
pub fn random_values(w: &WorkloadConfig, seed: u64, amplitude: f32) -> ValueTensors {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let shape = (
        w.model.heads as usize,
        w.final_tokens() as usize,
        w.model.head_dim as usize,
    );
    let make = |rng: &mut ChaCha8Rng| {
        Array3::from_shape_fn(shape, |_| rng.gen_range(-amplitude..amplitude))
    };
    let layers = (0..w.model.layers)
        .map(|_| LayerValues {
            q: make(&mut rng),
            k: make(&mut rng),
            v: make(&mut rng),
        })
        .collect();
    ValueTensors {
        meta: ValueMeta {
            model: "test".into(),
            source: "reference tests".into(),
            seed,
            prompt_tokens: w.stage.prompt_tokens,
            causal: w.model.causal,
        },
        layers,
    }
}
