//! One layer of attention through the reference datapath, for every alive head, and the
//! pruning decisions after it. Both `run_workload` and a closed-loop model forward pass call
//! this, so both produce the same bits.

use std::sync::OnceLock;

use ndarray::{Array3, ArrayView3, Axis};
use rayon::prelude::*;

use super::error::ReferenceError;
use super::importance::{add_head, add_token, head_increment};
use super::policy::{HeadKeys, PolicyRun, PolicyState};
use super::prune::{Selection, keep_count, local_v_keep, select};
use super::quant::{QuantFormat, Quantized, WORD_BITS, quantize_rows};
use super::quant_cache::{QuantCache, Tensor};
use super::requant::{needs_refetch, threshold_register};
use super::topk::call_seed;
use super::{pv, qk, softmax};
use crate::config::WorkloadConfig;
use crate::config::workload::{QuantMode, StageKind};
use crate::trace::{HeadCall, LayerRecord, TopkCall, TopkPurpose};

/// Top-k purposes as folded into the pivot seed.
const SEED_TOKEN: u32 = 0;
const SEED_HEAD: u32 = 1;
const SEED_LOCAL_V: u32 = 2;

/// What survives between layers and iterations: alive tokens and heads and the importance
/// accumulators. Pruned tokens and heads never come back (cascade pruning).
#[derive(Debug, Clone, PartialEq)]
pub struct PruningState {
    /// 0 = summarization of the prompt; i >= 1 = generation of token prompt + i - 1.
    pub iteration: u32,
    /// Tokens in the sequence so far (prompt + iteration), pruned ones included.
    pub seq_len: u32,
    pub alive_tokens: Vec<u32>,
    pub alive_heads: Vec<u32>,
    /// Token scores, indexed by token, `TOKEN_IMPORTANCE_BITS` wide.
    pub token_importance: Vec<u64>,
    /// Head scores, indexed by head, `HEAD_IMPORTANCE_BITS` wide.
    pub head_importance: Vec<u64>,
    /// The `[policy]`'s own state (empty for the spatten cascade).
    pub policy: PolicyState,
    /// Key tile rows of a design whose tiled summarization sums each row in two passes
    /// (`softmax.tiled_summarization = "two-pass"`): rows of calls with more than one query
    /// row sum their exponentials online over tiles of this many keys (SPEC.md 9b). `None`:
    /// every row's sum is exact.
    pub softmax_key_tile: Option<u32>,
    /// Candidates the local-V top-k engine holds (`topk_value.candidate_entries`): a local-V
    /// selection over more runs hierarchically (SPEC.md 6.4), which keeps the same V rows and
    /// records its stages. `None`: the engine ranks any row in place.
    pub value_topk_entries: Option<u32>,
}

impl PruningState {
    /// Iteration 0: every prompt token and every head alive, all scores zero.
    pub fn new(workload: &WorkloadConfig) -> Self {
        let p = workload.stage.prompt_tokens;
        PruningState {
            iteration: 0,
            seq_len: p,
            alive_tokens: (0..p).collect(),
            alive_heads: (0..workload.model.heads).collect(),
            token_importance: vec![0; workload.final_tokens() as usize],
            head_importance: vec![0; workload.model.heads as usize],
            policy: PolicyState::new(workload),
            softmax_key_tile: None,
            value_topk_entries: None,
        }
    }

    /// Starts the next generation iteration; returns the new token, which is the query.
    pub fn begin_generation_step(&mut self) -> u32 {
        let t = self.seq_len;
        self.iteration += 1;
        self.seq_len += 1;
        self.alive_tokens.push(t);
        if self.token_importance.len() <= t as usize {
            self.token_importance.resize(t as usize + 1, 0);
        }
        self.policy.begin_step(t);
        t
    }

    /// The query rows of this iteration: all alive tokens in summarization, the newest token
    /// in generation.
    pub fn query_tokens(&self) -> Vec<u32> {
        if self.iteration == 0 {
            self.alive_tokens.clone()
        } else {
            vec![self.seq_len - 1]
        }
    }
}

/// The result of one layer: dequantized outputs, what the hardware did, what survived.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerResult {
    /// [heads, query rows, D]: the 12-bit attention outputs times their scale; zero rows for
    /// heads that were already pruned.
    pub output: Array3<f32>,
    /// One per alive head, ascending. `value_topk` indexes `topk_calls` below.
    pub head_calls: Vec<HeadCall>,
    /// Local V calls (in head order), then the token call, then the head call.
    pub topk_calls: Vec<TopkCall>,
    /// `token_topk` / `head_topk` index `topk_calls` above.
    pub record: LayerRecord,
}

impl LayerResult {
    /// Appends to a trace, rebasing the top-k indices onto the trace's list.
    pub fn append_to(self, trace: &mut crate::trace::AttentionTrace) {
        let base = trace.topk_calls.len() as u32;
        trace
            .head_calls
            .extend(self.head_calls.into_iter().map(|mut c| {
                c.value_topk = c.value_topk.map(|i| i + base);
                c
            }));
        let mut r = self.record;
        r.token_topk = r.token_topk.map(|i| i + base);
        r.head_topk = r.head_topk.map(|i| i + base);
        trace.layers.push(r);
        trace.topk_calls.extend(self.topk_calls);
    }
}

/// What one head call computed.
struct HeadOutcome {
    /// [query rows x D] dequantized output.
    out: Vec<f32>,
    call: HeadCall,
    value_topk: Option<TopkCall>,
    /// Probability sums per visible key (index into the call's keys).
    token_inc: Vec<u64>,
    head_inc: u64,
    /// The policy's score increments per visible key, and its page top-k call (Quest).
    policy_inc: Vec<u64>,
    page_topk: Option<TopkCall>,
}

/// Runs one layer: `q` is [heads, rows of `state.query_tokens()`, D]; `k` and `v` are
/// [kv_heads, rows of `state.alive_tokens`, D] (kv_heads = heads unless the model groups them). Updates `state` with the pruning decisions.
pub fn attend_layer(
    q: ArrayView3<f32>,
    k: ArrayView3<f32>,
    v: ArrayView3<f32>,
    layer: u32,
    state: &mut PruningState,
    workload: &WorkloadConfig,
) -> Result<LayerResult, ReferenceError> {
    check_state(state, workload)?;
    let nq = state.query_tokens().len();
    let nk = state.alive_tokens.len();
    for (what, rows, want) in [
        ("q", q.shape()[1], nq),
        ("k", k.shape()[1], nk),
        ("v", v.shape()[1], nk),
    ] {
        if rows != want {
            return Err(ReferenceError::Input {
                reason: format!("{what} has {rows} rows; the state has {want}"),
            });
        }
    }
    let q_rows: Vec<usize> = (0..nq).collect();
    let kv_rows: Vec<usize> = (0..nk).collect();
    attend_layer_rows(q, k, v, &q_rows, &kv_rows, layer, state, workload, None)
}

/// The state's public fields must still describe a run of this workload.
fn check_state(state: &PruningState, workload: &WorkloadConfig) -> Result<(), ReferenceError> {
    let ascending = |v: &[u32]| v.windows(2).all(|w| w[0] < w[1]);
    let bad = |reason: String| Err(ReferenceError::Input { reason });
    if !ascending(&state.alive_tokens) || !ascending(&state.alive_heads) {
        return bad("alive tokens and heads must be strictly ascending".into());
    }
    if state
        .alive_tokens
        .last()
        .is_some_and(|&t| t >= state.seq_len)
        || state.token_importance.len() < state.seq_len as usize
    {
        return bad(format!(
            "alive tokens must lie below seq_len {}",
            state.seq_len
        ));
    }
    if state
        .alive_heads
        .last()
        .is_some_and(|&h| h >= workload.model.heads)
        || state.head_importance.len() != workload.model.heads as usize
    {
        return bad(format!(
            "alive heads must lie below {}",
            workload.model.heads
        ));
    }
    if state.iteration > 0 && state.alive_tokens.last() != Some(&(state.seq_len - 1)) {
        return bad("in generation the newest token must be alive".into());
    }
    Ok(())
}

fn check_shape(
    what: &str,
    a: &ArrayView3<f32>,
    heads: usize,
    d: usize,
    rows: &[usize],
) -> Result<(), ReferenceError> {
    let s = a.shape();
    let max_row = rows.iter().copied().max();
    if s[0] != heads || s[2] != d || max_row.is_some_and(|r| r >= s[1]) {
        return Err(ReferenceError::Input {
            reason: format!(
                "{what} has shape {s:?}; needs [{heads}, > {}, {d}]",
                max_row.map_or(0, |r| r)
            ),
        });
    }
    Ok(())
}

/// As [`attend_layer`], with the row of each query token and each alive token given
/// explicitly (axis 1 of the views), so that whole-sequence tensors need no copy. `cache`
/// reuses K/V levels across iterations; it assumes the K and V rows of a (layer, head,
/// token) never change between calls, as with a KV cache (pass None otherwise).
#[allow(clippy::too_many_arguments)]
pub fn attend_layer_rows(
    q: ArrayView3<f32>,
    k: ArrayView3<f32>,
    v: ArrayView3<f32>,
    q_rows: &[usize],
    kv_rows: &[usize],
    layer: u32,
    state: &mut PruningState,
    workload: &WorkloadConfig,
    cache: Option<&QuantCache>,
) -> Result<LayerResult, ReferenceError> {
    let heads = workload.model.heads as usize;
    let d = workload.model.head_dim as usize;
    let query_tokens = state.query_tokens();
    if q_rows.len() != query_tokens.len() || kv_rows.len() != state.alive_tokens.len() {
        return Err(ReferenceError::Input {
            reason: format!(
                "{} query rows and {} key rows given; the state has {} query tokens and {} alive tokens",
                q_rows.len(),
                kv_rows.len(),
                query_tokens.len(),
                state.alive_tokens.len()
            ),
        });
    }
    check_state(state, workload)?;
    check_shape("q", &q, heads, d, q_rows)?;
    // Grouped-query attention: K and V have one head per group of query heads.
    let kv_heads = workload.model.kv_heads() as usize;
    check_shape("k", &k, kv_heads, d, kv_rows)?;
    check_shape("v", &v, kv_heads, d, kv_rows)?;
    // Row slices below need contiguous rows; copies only views that lack them.
    let (q, k, v) = (
        q.as_standard_layout(),
        k.as_standard_layout(),
        v.as_standard_layout(),
    );

    let run = PolicyRun::new(workload, layer, state);
    let ctx = HeadContext {
        policy: run.as_ref(),
        workload,
        layer,
        iteration: state.iteration,
        query_tokens: &query_tokens,
        alive: &state.alive_tokens,
        q_rows,
        kv_rows,
        cache,
        softmax_key_tile: state.softmax_key_tile,
        value_topk_entries: state.value_topk_entries,
    };
    // The keys each head attends: the alive tokens, unless a policy narrows them (its
    // layer's cache, DuoAttention's streaming heads, Quest's pages).
    let keys: Vec<Option<HeadKeys>> = match run.as_ref() {
        None => vec![None; state.alive_heads.len()],
        Some(r) => state
            .alive_heads
            .par_iter()
            .map(|&h| {
                let kv = workload.model.kv_head_of(h) as usize;
                let (qh, kh) = (q.index_axis(Axis(0), h as usize), k.index_axis(Axis(0), kv));
                r.head_keys(state, h, &qh, &kh, q_rows, kv_rows)
            })
            .collect::<Result<_, _>>()?,
    };
    // The query heads of a K/V group that attend the same keys read the same quantized K/V
    // rows (spec section 9a): each such set quantizes its K/V head once and its heads then
    // run in parallel on those words.
    let mut outcomes: Vec<(usize, HeadOutcome)> = key_sets(&state.alive_heads, &keys, workload)
        .par_iter()
        .map(|set| {
            let h0 = state.alive_heads[set[0]];
            let sub = match &keys[set[0]] {
                Some(keys) => HeadContext {
                    alive: &keys.alive,
                    kv_rows: &keys.kv_rows,
                    ..ctx
                },
                None => ctx,
            };
            let g = workload.model.kv_head_of(h0) as usize;
            let kv = sub.kv_words(h0, k.index_axis(Axis(0), g), v.index_axis(Axis(0), g))?;
            set.par_iter()
                .map(|&i| {
                    let h = state.alive_heads[i];
                    let mut o = sub.head_with(h, q.index_axis(Axis(0), h as usize), &kv)?;
                    o.page_topk = keys[i].as_ref().and_then(|k| k.page_topk.clone());
                    Ok((i, o))
                })
                .collect::<Result<Vec<_>, ReferenceError>>()
        })
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .collect();
    outcomes.sort_by_key(|(i, _)| *i);

    let mut output = Array3::<f32>::zeros((heads, query_tokens.len(), d));
    let mut head_calls = Vec::with_capacity(outcomes.len());
    let mut topk_calls = Vec::new();
    if let Some(r) = &run {
        r.begin_layer(state);
    }
    for (_, o) in outcomes {
        let h = o.call.head as usize;
        for (dst, &src) in output.index_axis_mut(Axis(0), h).iter_mut().zip(&o.out) {
            *dst = src;
        }
        for (j, &inc) in o.token_inc.iter().enumerate() {
            add_token(&mut state.token_importance[o.call.keys[j] as usize], inc);
        }
        add_head(&mut state.head_importance[h], o.head_inc);
        if let Some(r) = &run {
            r.merge_head(state, o.call.head, &o.call.keys, &o.policy_inc);
            topk_calls.extend(o.page_topk);
        }
        let mut call = o.call;
        if let Some(t) = o.value_topk {
            call.value_topk = Some(topk_calls.len() as u32);
            topk_calls.push(t);
        }
        head_calls.push(call);
    }

    if let Some(r) = &run {
        // The policy decides instead of the cascade: no head pruning.
        let (tokens_kept, call) = r.after_layer(state);
        let token_topk = call.map(|c| {
            topk_calls.push(c);
            topk_calls.len() as u32 - 1
        });
        let record = LayerRecord {
            sequence: 0,
            iteration: state.iteration,
            layer,
            tokens_kept,
            heads_kept: state.alive_heads.clone(),
            token_topk,
            head_topk: None,
        };
        return Ok(LayerResult {
            output,
            head_calls,
            topk_calls,
            record,
        });
    }
    let layers = workload.model.layers;
    let seed = workload.seed;
    // Token pruning: ratio against the sequence length; the generated token is the query of
    // this iteration and stays.
    let ratio = workload.token_pruning.ratio_after_layer(layer, layers);
    let keep = keep_count(state.seq_len, ratio).max(1);
    let exempt = (state.iteration > 0).then_some(state.seq_len - 1);
    let imp = &state.token_importance;
    let sel = select(
        &state.alive_tokens,
        keep,
        exempt,
        |t| imp[t as usize],
        call_seed(seed, SEED_TOKEN, state.iteration, layer, 0),
    );
    let token_topk = push_topk(&mut topk_calls, TopkPurpose::Token, &sel);
    state.alive_tokens = sel.kept;

    let ratio = workload.head_pruning.ratio_after_layer(layer, layers);
    let keep = keep_count(workload.model.heads, ratio).max(1);
    let imp = &state.head_importance;
    let sel = select(
        &state.alive_heads,
        keep,
        None,
        |h| imp[h as usize],
        call_seed(seed, SEED_HEAD, state.iteration, layer, 0),
    );
    let head_topk = push_topk(&mut topk_calls, TopkPurpose::Head, &sel);
    state.alive_heads = sel.kept;

    let record = LayerRecord {
        sequence: 0,
        iteration: state.iteration,
        layer,
        tokens_kept: state.alive_tokens.clone(),
        heads_kept: state.alive_heads.clone(),
        token_topk,
        head_topk,
    };
    Ok(LayerResult {
        output,
        head_calls,
        topk_calls,
        record,
    })
}

/// The alive query heads split into sets (indices into `alive_heads`, ascending) that read
/// one K/V head and attend the same keys (`keys`, per alive head).
fn key_sets(
    alive_heads: &[u32],
    keys: &[Option<HeadKeys>],
    workload: &WorkloadConfig,
) -> Vec<Vec<usize>> {
    let same = |a: &Option<HeadKeys>, b: &Option<HeadKeys>| match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.alive == b.alive && a.kv_rows == b.kv_rows,
        _ => false,
    };
    let kv = |i: usize| workload.model.kv_head_of(alive_heads[i]);
    let mut sets: Vec<Vec<usize>> = Vec::new();
    for i in 0..alive_heads.len() {
        match sets
            .iter_mut()
            .find(|s| kv(s[0]) == kv(i) && same(&keys[s[0]], &keys[i]))
        {
            Some(s) => s.push(i),
            None => sets.push(vec![i]),
        }
    }
    sets
}

fn push_topk(calls: &mut Vec<TopkCall>, purpose: TopkPurpose, sel: &Selection) -> Option<u32> {
    sel.topk.as_ref().map(|r| {
        calls.push(TopkCall {
            purpose,
            n: sel.n,
            k: sel.k,
            rounds: r.rounds.clone(),
            stages: Vec::new(),
        });
        calls.len() as u32 - 1
    })
}

/// The K/V storage format of a workload and the format fetched first.
pub fn kv_format(workload: &WorkloadConfig) -> QuantFormat {
    let qc = &workload.quant;
    match qc.mode {
        QuantMode::Static => QuantFormat::single(qc.msb_bits),
        QuantMode::Progressive => QuantFormat {
            msb_bits: qc.msb_bits,
            lsb_bits: qc.lsb_bits,
        },
    }
}

#[derive(Clone, Copy)]
struct HeadContext<'a> {
    policy: Option<&'a PolicyRun<'a>>,
    workload: &'a WorkloadConfig,
    layer: u32,
    iteration: u32,
    query_tokens: &'a [u32],
    alive: &'a [u32],
    q_rows: &'a [usize],
    kv_rows: &'a [usize],
    cache: Option<&'a QuantCache>,
    /// [`PruningState::softmax_key_tile`].
    softmax_key_tile: Option<u32>,
    /// [`PruningState::value_topk_entries`].
    value_topk_entries: Option<u32>,
}

/// The given rows of a [tokens, D] view as slices (views into standard-layout tensors).
fn rows<'v>(a: &'v ndarray::ArrayView2<f32>, rows: &[usize]) -> Vec<&'v [f32]> {
    rows.iter()
        .map(|&r| {
            a.slice(ndarray::s![r, ..])
                .to_slice()
                .expect("rows of a standard-layout tensor are contiguous")
        })
        .collect()
}

/// Per-head scratch buffers reused across query rows.
#[derive(Default)]
struct Scratch {
    scores: Vec<i32>,
    exps: Vec<u32>,
    probs: Vec<u16>,
    acc: Vec<i32>,
    kept_probs: Vec<u16>,
    kept_values: Vec<i16>,
}

/// The quantized K and V rows one head call reads, and the words it fetches first: the same
/// for every query head of a K/V group that sees the same keys, so such a group computes them
/// once (spec section 9a).
struct KvWords {
    kq: Quantized,
    vq: Quantized,
    k_first: Vec<i16>,
    v_first: Vec<i16>,
    /// The merged (MSB + LSB) words, made when a row of some head first needs a refetch.
    merged: OnceLock<(Vec<i16>, Vec<i16>)>,
}

impl KvWords {
    fn merged(&self) -> &(Vec<i16>, Vec<i16>) {
        self.merged
            .get_or_init(|| (self.kq.merged_words(), self.vq.merged_words()))
    }
}

impl HeadContext<'_> {
    /// Progressive quantization serves the memory-bound generation iterations (spec section
    /// 5); a generation workload's prompt is compute-bound and reads both planes at once, as a
    /// static format of msb + lsb bits.
    fn progressive(&self) -> bool {
        self.workload.quant.mode == QuantMode::Progressive
            && (self.iteration > 0 || self.workload.stage.kind == StageKind::Summarization)
    }

    /// Quantizes this context's K/V rows of `k` and `v` (the K/V head of query head `head`,
    /// whose number labels errors and keys the cache: every query head of a group maps to the
    /// same K/V tensor, so any of them keys it).
    fn kv_words(
        &self,
        head: u32,
        k: ndarray::ArrayView2<f32>,
        v: ndarray::ArrayView2<f32>,
    ) -> Result<KvWords, ReferenceError> {
        let fmt = kv_format(self.workload);
        let label = |t: &str| format!("layer {} head {head} {t}", self.layer);
        let (k_rows, v_rows) = (rows(&k, self.kv_rows), rows(&v, self.kv_rows));
        let (kq, vq) = match self.cache {
            Some(c) => {
                let (l, h) = (self.layer as usize, head as usize);
                (
                    c.quantize(l, h, Tensor::K, self.alive, &k_rows, fmt, &label("k"))?,
                    c.quantize(l, h, Tensor::V, self.alive, &v_rows, fmt, &label("v"))?,
                )
            }
            None => (
                quantize_rows(&k_rows, fmt, &label("k"))?,
                quantize_rows(&v_rows, fmt, &label("v"))?,
            ),
        };
        // Static: the stored word is all there is. Progressive: MSB view first.
        let (k_first, v_first) = if self.progressive() {
            (kq.msb_words(), vq.msb_words())
        } else {
            (kq.merged_words(), vq.merged_words())
        };
        Ok(KvWords {
            kq,
            vq,
            k_first,
            v_first,
            merged: OnceLock::new(),
        })
    }

    /// Query head `head`'s call against K/V words `kv` of this context's keys.
    fn head_with(
        &self,
        head: u32,
        q: ndarray::ArrayView2<f32>,
        kv: &KvWords,
    ) -> Result<HeadOutcome, ReferenceError> {
        let w = self.workload;
        let d = w.model.head_dim as usize;
        let progressive = self.progressive();
        let fmt = kv_format(w);
        let first_bits = if progressive {
            fmt.msb_bits
        } else {
            fmt.msb_bits + fmt.lsb_bits
        };
        let label = |t: &str| format!("layer {} head {head} {t}", self.layer);
        let q_rows = rows(&q, self.q_rows);
        let qq = quantize_rows(&q_rows, QuantFormat::single(WORD_BITS), &label("q"))?;
        let q_words = qq.merged_words();
        let (kq, vq) = (&kv.kq, &kv.vq);
        let (k_first, v_first) = (&kv.k_first, &kv.v_first);
        let causal = w.model.causal;
        let max_query = self.query_tokens.iter().copied().max().unwrap_or(0);
        let visible_all = if causal {
            self.alive.partition_point(|&t| t <= max_query)
        } else {
            self.alive.len()
        };
        let mult = softmax::multiplier(qk::score_unit(qq.word_scale(), kq.word_scale(), d));
        let threshold = threshold_register(w.quant.requant_threshold);
        let local_v = self.iteration > 0 && w.local_v.keep_ratio < 1.0 && self.policy.is_none();
        // A two-pass design sums the rows of a call of many query rows over key tiles.
        let tile = self
            .softmax_key_tile
            .filter(|_| self.query_tokens.len() > 1)
            .map(|t| t as usize);

        let mut s = Scratch::default();
        let mut out = vec![0f32; self.query_tokens.len() * d];
        let mut out_words = vec![0i16; d];
        let mut token_inc = vec![0u64; visible_all];
        let mut policy_inc = vec![
            0u64;
            if self.policy.is_some() {
                visible_all
            } else {
                0
            }
        ];
        let last_query = self.query_tokens.last().copied().unwrap_or(0);
        let mut abs_sum: u64 = 0;
        let mut requant_rows = 0u32;
        let mut values_kept: Option<Vec<u32>> = None;
        let mut value_topk = None;
        for (r, &qt) in self.query_tokens.iter().enumerate() {
            let n = if causal {
                self.alive.partition_point(|&t| t <= qt)
            } else {
                self.alive.len()
            };
            let q_row = &q_words[r * d..(r + 1) * d];
            qk::scores(q_row, &k_first[..n * d], d, &mut s.scores);
            softmax::softmax_row_tiled(&s.scores, mult, tile, &mut s.exps, &mut s.probs);
            let mut v_words = v_first;
            if progressive && needs_refetch(&s.probs, threshold) {
                requant_rows += 1;
                let (km, vm) = kv.merged();
                qk::scores(q_row, &km[..n * d], d, &mut s.scores);
                softmax::softmax_row_tiled(&s.scores, mult, tile, &mut s.exps, &mut s.probs);
                v_words = vm;
            }
            for (acc, &p) in token_inc.iter_mut().zip(&s.probs) {
                *acc += p as u64;
            }
            if let Some(pr) = self.policy {
                pr.score_row(qt, last_query, &s.probs, &s.scores, mult, &mut policy_inc);
            }
            let keep = local_v_keep(n as u32, w.local_v.keep_ratio);
            if local_v && (keep as usize) < n {
                let p64: Vec<u64> = s.probs.iter().map(|&p| p as u64).collect();
                let seed = call_seed(w.seed, SEED_LOCAL_V, self.iteration, self.layer, head);
                let (sel, stages) = super::topk::hierarchical_select(
                    &p64,
                    keep as usize,
                    self.value_topk_entries,
                    seed,
                );
                s.kept_probs.clear();
                s.kept_values.clear();
                for &i in &sel.indices {
                    s.kept_probs.push(s.probs[i as usize]);
                    s.kept_values
                        .extend_from_slice(&v_words[i as usize * d..(i as usize + 1) * d]);
                }
                pv::pv_row(&s.kept_probs, &s.kept_values, d, &mut s.acc, &mut out_words);
                values_kept = Some(
                    sel.indices
                        .iter()
                        .map(|&i| self.alive[i as usize])
                        .collect(),
                );
                value_topk = Some(TopkCall {
                    purpose: TopkPurpose::LocalValue,
                    n: n as u32,
                    k: keep,
                    rounds: sel.rounds,
                    stages,
                });
            } else {
                pv::pv_row(&s.probs, &v_words[..n * d], d, &mut s.acc, &mut out_words);
            }
            let scale = vq.word_scale();
            for (dst, &o) in out[r * d..(r + 1) * d].iter_mut().zip(&out_words) {
                abs_sum += o.unsigned_abs() as u64;
                *dst = (o as f64 * scale) as f32;
            }
        }
        let keys: Vec<u32> = self.alive[..visible_all].to_vec();
        let lsb_refetch = requant_rows > 0;
        let call = HeadCall {
            sequence: 0,
            iteration: self.iteration,
            layer: self.layer,
            head,
            queries: self.query_tokens.len() as u32,
            query_bits: WORD_BITS as u8,
            values: values_kept.unwrap_or_else(|| keys.clone()),
            keys,
            key_msb_bits: first_bits as u8,
            value_msb_bits: first_bits as u8,
            lsb_bits: if progressive { fmt.lsb_bits as u8 } else { 0 },
            requant_rows,
            lsb_refetch,
            accumulate_importance: match self.policy {
                Some(pr) => pr.accumulates(),
                None => w.token_pruning.average_ratio > 0.0,
            },
            value_topk: None,
        };
        Ok(HeadOutcome {
            out,
            call,
            value_topk,
            token_inc,
            head_inc: head_increment(abs_sum, vq.word_scale()),
            policy_inc,
            page_topk: None,
        })
    }
}
