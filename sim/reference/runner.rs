//! The whole-workload runner: summarization of the prompt, then one iteration per generated
//! token with a KV cache, all through [`attend_layer_rows`].

use ndarray::{ArrayView3, Axis};

use super::error::ReferenceError;
use super::layer::{PruningState, attend_layer_rows};
use super::quant_cache::QuantCache;
use crate::config::WorkloadConfig;
use crate::trace::{AttentionTrace, ReferenceDesign, SynthLayers, TraceHeader, ValueTensors};

/// One layer's Q, K and V, each [heads, tokens, head_dim], borrowed from arrays the caller
/// owns (a value file's tensors, or a Python caller's numpy arrays without a copy).
#[derive(Debug, Clone)]
pub struct LayerViews<'a> {
    pub q: ArrayView3<'a, f32>,
    pub k: ArrayView3<'a, f32>,
    pub v: ArrayView3<'a, f32>,
}

/// Views of every layer of a value set.
pub fn layer_views(values: &ValueTensors) -> Vec<LayerViews<'_>> {
    values
        .layers
        .iter()
        .map(|l| LayerViews {
            q: l.q.view(),
            k: l.k.view(),
            v: l.v.view(),
        })
        .collect()
}

/// Checks that `values` holds [heads, prompt + generated, D] Q, K and V for every layer.
pub fn check_values(
    values: &ValueTensors,
    workload: &WorkloadConfig,
) -> Result<(), ReferenceError> {
    if values.meta.prompt_tokens != workload.stage.prompt_tokens {
        return Err(ReferenceError::Mismatch {
            what: "meta.prompt_tokens".into(),
            got: values.meta.prompt_tokens as u64,
            want: workload.stage.prompt_tokens as u64,
        });
    }
    check_layer_views(&layer_views(values), workload)
}

/// Checks that there is one layer of [heads, prompt + generated, D] Q and [kv_heads, prompt +
/// generated, D] K and V per layer of `workload`.
pub fn check_layer_views(
    layers: &[LayerViews<'_>],
    workload: &WorkloadConfig,
) -> Result<(), ReferenceError> {
    let m = &workload.model;
    if layers.len() != m.layers as usize {
        return Err(ReferenceError::LayerCount {
            what: format!("values for workload {}", workload.name),
            count: layers.len(),
            want: m.layers as usize,
        });
    }
    let shape = |heads: u32| {
        vec![
            heads as usize,
            workload.final_tokens() as usize,
            m.head_dim as usize,
        ]
    };
    // K and V have one head per K/V head (grouped-query attention), Q one per query head.
    let (want_q, want_kv) = (shape(m.heads), shape(m.kv_heads()));
    for (l, lv) in layers.iter().enumerate() {
        for (name, a, want) in [
            ("q", &lv.q, &want_q),
            ("k", &lv.k, &want_kv),
            ("v", &lv.v, &want_kv),
        ] {
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
    run_workload_with_progress(values, workload, ReferenceDesign::default(), &|_, _| {})
}

/// [`run_workload`] for `design` (a two-pass design sums rows online over key tiles,
/// [`PruningState::softmax_key_tile`]; a local-V engine of limited candidates selects
/// hierarchically, [`PruningState::value_topk_entries`]; both recorded in the header), calling `progress(done, total)` after each layer pass (a layer of one iteration;
/// `total` = layers x (generated tokens + 1)).
pub fn run_workload_with_progress(
    values: &ValueTensors,
    workload: &WorkloadConfig,
    design: ReferenceDesign,
    progress: &dyn Fn(u64, u64),
) -> Result<AttentionTrace, ReferenceError> {
    check_values(values, workload)?;
    run_views(
        &layer_views(values),
        &values.meta.source,
        workload,
        design,
        progress,
    )
}

/// [`run_workload_with_progress`] on borrowed layers; `source` describes where they came
/// from (it is recorded in the trace header). Their token count must be the workload's
/// prompt plus generated tokens.
pub fn run_workload_views(
    layers: &[LayerViews<'_>],
    source: &str,
    workload: &WorkloadConfig,
    design: ReferenceDesign,
) -> Result<AttentionTrace, ReferenceError> {
    run_views(layers, source, workload, design, &|_, _| {})
}

fn run_views(
    layers: &[LayerViews<'_>],
    source: &str,
    workload: &WorkloadConfig,
    design: ReferenceDesign,
    progress: &dyn Fn(u64, u64),
) -> Result<AttentionTrace, ReferenceError> {
    check_layer_views(layers, workload)?;
    let m = &workload.model;
    let cache = QuantCache::new(
        m.layers as usize,
        m.heads as usize,
        workload.final_tokens() as usize,
        m.head_dim as usize,
    );
    let mut visit = |layer: usize, attend: &mut dyn FnMut(LayerViews<'_>, usize)| {
        attend(layers[layer].clone(), 0)
    };
    run_layers(&mut visit, source, workload, design, Some(&cache), progress)
}

/// [`run_workload`] on synthetic values made one layer at a time, each time a layer is
/// visited, and dropped after it: the memory of one layer (K and V of every token, Q of the
/// tokens that query), however many layers and tokens, for the time of generating every
/// layer once per iteration. The trace is the one [`run_workload`] gives on
/// [`generate`](crate::trace::generate)'s values.
pub fn run_workload_streamed(
    values: &SynthLayers,
    workload: &WorkloadConfig,
    design: ReferenceDesign,
    progress: &dyn Fn(u64, u64),
) -> Result<AttentionTrace, ReferenceError> {
    // The first query row: a cached prefill's prompt tokens never query.
    let q_from = if workload.stage.runs_prompt() {
        0
    } else {
        workload.stage.prompt_tokens as usize
    };
    let mut visit = |layer: usize, attend: &mut dyn FnMut(LayerViews<'_>, usize)| {
        let lv = values.layer(layer, q_from);
        let views = LayerViews {
            q: lv.q.view(),
            k: lv.k.view(),
            v: lv.v.view(),
        };
        attend(views, q_from)
    };
    // No quantization cache: it would hold every layer's levels, and each layer's values
    // are made afresh per visit anyway (quantizing afresh gives the same levels).
    run_layers(
        &mut visit,
        &values.meta().source,
        workload,
        design,
        None,
        progress,
    )
}

/// Hands layer `layer`'s views, and the token of their first query row, to `attend`.
type LayerVisit<'v> = dyn FnMut(usize, &mut dyn FnMut(LayerViews<'_>, usize)) + 'v;

fn run_layers(
    visit: &mut LayerVisit<'_>,
    source: &str,
    workload: &WorkloadConfig,
    design: ReferenceDesign,
    cache: Option<&QuantCache>,
    progress: &dyn Fn(u64, u64),
) -> Result<AttentionTrace, ReferenceError> {
    // One sequence per run; trace::batch runs a batch's sequences and merges them.
    if workload.stage.batch > 1 {
        return Err(ReferenceError::Batch(workload.stage.batch));
    }
    // A cached prefill starts at the first generated token (no iteration 0).
    let first = u32::from(!workload.stage.runs_prompt());
    let passes = u64::from(workload.model.layers)
        * (u64::from(workload.stage.generated_tokens) + 1 - u64::from(first));
    let mut trace = AttentionTrace {
        header: TraceHeader {
            workload: workload.name.clone(),
            source: format!("reference:{source}"),
            layers: workload.model.layers,
            heads: workload.model.heads,
            head_dim: workload.model.head_dim,
            stage: workload.stage.kind,
            prompt_tokens: workload.stage.prompt_tokens,
            generated_tokens: workload.stage.generated_tokens,
            seed: workload.seed,
            kv_heads: Some(workload.model.kv_heads()).filter(|&k| k != workload.model.heads),
            softmax_key_tile_rows: design.softmax_key_tile_rows,
            batch: None,
            value_topk_entries: design.value_topk_entries,
        },
        head_calls: Vec::new(),
        layers: Vec::new(),
        topk_calls: Vec::new(),
    };
    let mut state = PruningState::new(workload);
    state.softmax_key_tile = design.softmax_key_tile_rows;
    state.value_topk_entries = design.value_topk_entries;
    for iteration in first..=workload.stage.generated_tokens {
        if iteration > 0 {
            state.begin_generation_step();
        }
        for layer in 0..workload.model.layers as usize {
            let mut outcome = Ok(());
            visit(layer, &mut |lv, q_first| {
                let q_rows: Vec<usize> = state
                    .query_tokens()
                    .iter()
                    .map(|&t| t as usize - q_first)
                    .collect();
                let kv_rows: Vec<usize> = state.alive_tokens.iter().map(|&t| t as usize).collect();
                outcome = attend_layer_rows(
                    lv.q,
                    lv.k,
                    lv.v,
                    &q_rows,
                    &kv_rows,
                    layer as u32,
                    &mut state,
                    workload,
                    cache,
                )
                .map(|result| {
                    debug_assert_eq!(result.output.len_of(Axis(1)), q_rows.len());
                    result.append_to(&mut trace);
                });
            });
            outcome?;
            let done =
                u64::from(iteration - first) * u64::from(workload.model.layers) + layer as u64 + 1;
            progress(done, passes);
        }
    }
    Ok(trace)
}
