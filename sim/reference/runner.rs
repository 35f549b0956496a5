//! The whole-workload runner: summarization of the prompt, then one iteration per generated
//! token with a KV cache, all through [`attend_layer_rows`].

use ndarray::Axis;

use super::error::ReferenceError;
use super::layer::{PruningState, attend_layer_rows};
use super::quant_cache::QuantCache;
use crate::config::WorkloadConfig;
use crate::trace::{AttentionTrace, TraceHeader, ValueTensors};

/// Checks that `values` holds [heads, prompt + generated, D] Q, K and V for every layer.
pub fn check_values(
    values: &ValueTensors,
    workload: &WorkloadConfig,
) -> Result<(), ReferenceError> {
    let m = &workload.model;
    if values.meta.prompt_tokens != workload.stage.prompt_tokens {
        return Err(ReferenceError::Mismatch {
            what: "meta.prompt_tokens".into(),
            got: values.meta.prompt_tokens as u64,
            want: workload.stage.prompt_tokens as u64,
        });
    }
    if values.layers.len() != m.layers as usize {
        return Err(ReferenceError::LayerCount {
            what: format!("values for workload {}", workload.name),
            count: values.layers.len(),
            want: m.layers as usize,
        });
    }
    let want = vec![
        m.heads as usize,
        workload.final_tokens() as usize,
        m.head_dim as usize,
    ];
    for (l, lv) in values.layers.iter().enumerate() {
        for (name, a) in [("q", &lv.q), ("k", &lv.k), ("v", &lv.v)] {
            if a.shape() != want.as_slice() {
                return Err(ReferenceError::Shape {
                    what: format!("layer {l} {name}"),
                    got: a.shape().to_vec(),
                    want: want.clone(),
                });
            }
        }
    }
    Ok(())
}

/// Runs every iteration and layer of `workload` on `values` and returns the attention trace.
/// Iteration 0 summarizes the prompt with all prompt query rows; iteration i >= 1 runs the
/// query at position prompt + i - 1 against the alive keys up to it.
pub fn run_workload(
    values: &ValueTensors,
    workload: &WorkloadConfig,
) -> Result<AttentionTrace, ReferenceError> {
    run_workload_with_progress(values, workload, &|_, _| {})
}

/// [`run_workload`], calling `progress(done, total)` after each layer pass (a layer of one
/// iteration; `total` = layers x (generated tokens + 1)).
pub fn run_workload_with_progress(
    values: &ValueTensors,
    workload: &WorkloadConfig,
    progress: &dyn Fn(u64, u64),
) -> Result<AttentionTrace, ReferenceError> {
    check_values(values, workload)?;
    let passes =
        u64::from(workload.model.layers) * (u64::from(workload.stage.generated_tokens) + 1);
    let mut trace = AttentionTrace {
        header: TraceHeader {
            workload: workload.name.clone(),
            source: format!("reference:{}", values.meta.source),
            layers: workload.model.layers,
            heads: workload.model.heads,
            head_dim: workload.model.head_dim,
            stage: workload.stage.kind,
            prompt_tokens: workload.stage.prompt_tokens,
            generated_tokens: workload.stage.generated_tokens,
            seed: workload.seed,
        },
        head_calls: Vec::new(),
        layers: Vec::new(),
        topk_calls: Vec::new(),
    };
    let mut state = PruningState::new(workload);
    let m = &workload.model;
    let cache = QuantCache::new(
        m.layers as usize,
        m.heads as usize,
        workload.final_tokens() as usize,
        m.head_dim as usize,
    );
    for iteration in 0..=workload.stage.generated_tokens {
        if iteration > 0 {
            state.begin_generation_step();
        }
        for (layer, lv) in values.layers.iter().enumerate() {
            let q_rows: Vec<usize> = state.query_tokens().iter().map(|&t| t as usize).collect();
            let kv_rows: Vec<usize> = state.alive_tokens.iter().map(|&t| t as usize).collect();
            let result = attend_layer_rows(
                lv.q.view(),
                lv.k.view(),
                lv.v.view(),
                &q_rows,
                &kv_rows,
                layer as u32,
                &mut state,
                workload,
                Some(&cache),
            )?;
            debug_assert_eq!(result.output.len_of(Axis(1)), q_rows.len());
            result.append_to(&mut trace);
            let done = u64::from(iteration) * u64::from(workload.model.layers) + layer as u64 + 1;
            progress(done, passes);
        }
    }
    Ok(trace)
}
