//! KV-cache / token pruning policies as plug-ins of the reference datapath (numerics, no
//! time). A policy is assembled from parts (`parts.rs`): a score source, a reducer, a
//! selector, a granularity and a schedule; one file per policy assembles its parts from
//! the workload's `[policy]` table. POLICIES.md at the repository root says how to add one.
//!
//! Where the decisions apply:
//! - summarization (one pass over the prompt): as SpAtten's cascade, the tokens a policy
//!   evicts after a layer are gone for every later layer (queries and keys);
//! - generation: the prompt runs dense, each layer keeps its own KV cache, which the policy
//!   compresses after the layer's pass; every generation step appends the new token to each
//!   layer's cache and the query attends the cache (or, for query-aware and per-head
//!   policies, the part of it they select).
//!
//! `spatten` is not run through here: `reference::layer` makes its decisions as it always did.

pub mod dense;
pub mod duo_attention;
pub mod h2o;
pub mod page;
pub mod parts;
pub mod pyramidkv;
pub mod quest;
pub mod random;
pub mod select;
pub mod snapkv;
pub mod spatten;
pub mod spatten_llm;
pub mod streaming_llm;
pub mod tova;

use ndarray::ArrayView2;

use super::error::ReferenceError;
use super::fixed::ScaleReg;
use super::layer::{PruningState, kv_format};
use super::quant::{QuantFormat, WORD_BITS, quantize_rows};
use super::softmax::{T_FRAC_BITS, T_MAX_INT};
use super::topk::{call_seed, quick_select, splitmix64};
use crate::config::WorkloadConfig;
use crate::config::policy::{PolicyConfig, PolicyKind};
use crate::config::workload::StageKind;
use crate::trace::{TopkCall, TopkPurpose};
pub use parts::*;

/// Top-k purpose folded into the pivot seed of policy calls (0..2 are the cascade's).
const SEED_POLICY: u32 = 3;
const SEED_RANDOM_SCORE: u32 = 4;
/// Policy score accumulators are 48 bits wide, saturating.
pub const SCORE_BITS: u32 = 48;

/// The `[policy]` table resolved against the workload: what the preset files read.
#[derive(Debug, Clone)]
pub struct Settings<'a> {
    pub config: &'a PolicyConfig,
    /// Tokens kept per layer: `budget`, else ceil(keep_fraction x prompt), keep_fraction
    /// 0.5 by default.
    pub budget: u32,
    pub explicit_budget: Option<u32>,
    pub every: u32,
    prompt: u32,
    context: u32,
    /// Prompt run over the prompt the token counts were chosen for (`sized_for_prompt`).
    scale: f64,
}

impl<'a> Settings<'a> {
    pub fn new(config: &'a PolicyConfig, w: &WorkloadConfig) -> Self {
        let prompt = w.stage.prompt_tokens;
        let context = w.final_tokens();
        let scale = config
            .sized_for_prompt
            .map_or(1.0, |p| prompt as f64 / p.max(1) as f64);
        let explicit_budget = config.budget.map(|b| scaled(b, scale));
        let budget = explicit_budget.unwrap_or_else(|| {
            let f = config.keep_fraction.unwrap_or(0.5);
            ((prompt as f64 * f - 1e-9).ceil() as u32).max(1)
        });
        Settings {
            config,
            budget: budget.min(context),
            explicit_budget,
            every: config.every.unwrap_or(1),
            prompt,
            context,
            scale,
        }
    }

    /// A preset's own token count, scaled as the table's are.
    pub fn tokens(&self, n: u32) -> u32 {
        scaled(n, self.scale)
    }

    pub fn sinks(&self, default: u32) -> u32 {
        self.config.sinks.unwrap_or(default).min(self.context)
    }

    /// The recent window: the table's (scaled), else `default`, which a preset derives
    /// from scaled counts or passes through [`Settings::tokens`].
    pub fn window(&self, default: u32) -> u32 {
        self.config
            .window
            .map_or(default, |w| self.tokens(w))
            .min(self.context)
    }

    pub fn dense_layers(&self, default: u32) -> u32 {
        self.config.dense_layers.unwrap_or(default)
    }

    pub fn observation_window(&self) -> u32 {
        self.tokens(self.config.observation_window.unwrap_or(32))
            .min(self.prompt)
    }

    pub fn pool_kernel(&self) -> u32 {
        self.config.pool_kernel.unwrap_or(7)
    }

    pub fn pyramid_beta(&self) -> f64 {
        self.config.pyramid_beta.unwrap_or(20.0)
    }

    pub fn page_size(&self) -> u32 {
        self.config.page_size.unwrap_or(16)
    }
}

/// `n` tokens at `scale`, at least 1; exactly `n` at scale 1.
fn scaled(n: u32, scale: f64) -> u32 {
    if scale == 1.0 {
        n
    } else {
        ((n as f64 * scale).round() as u32).max(1)
    }
}

/// The preset of `config.kind`, assembled for workload `w`.
pub fn assemble(config: &PolicyConfig, w: &WorkloadConfig) -> Policy {
    let s = Settings::new(config, w);
    match config.kind {
        PolicyKind::Spatten => spatten::assemble(),
        PolicyKind::Dense => dense::assemble(),
        PolicyKind::Random => random::assemble(&s),
        PolicyKind::StreamingLlm => streaming_llm::assemble(&s),
        PolicyKind::H2o => h2o::assemble(&s),
        PolicyKind::Tova => tova::assemble(&s),
        PolicyKind::Snapkv => snapkv::assemble(&s),
        PolicyKind::Pyramidkv => pyramidkv::assemble(&s),
        PolicyKind::Quest => quest::assemble(&s),
        PolicyKind::SpattenLlm => spatten_llm::assemble(&s),
        PolicyKind::DuoAttention => duo_attention::assemble(&s),
    }
}

/// What a policy carries between layers and iterations (empty for spatten).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PolicyState {
    /// Generation: per layer, the tokens of its KV cache, ascending.
    pub cache: Vec<Vec<u32>>,
    /// Per layer, per token: the reduced score, `SCORE_BITS` wide.
    pub scores: Vec<Vec<u64>>,
    /// DuoAttention: per layer, per head, whether it is a retrieval head (once decided).
    pub retrieval: Vec<Vec<bool>>,
    /// DuoAttention's score rule: per layer, per head, probability on sinks + window.
    pub streaming_mass: Vec<Vec<u64>>,
}

impl PolicyState {
    pub fn new(w: &WorkloadConfig) -> Self {
        if w.policy.kind == PolicyKind::Spatten {
            return PolicyState::default();
        }
        let (l, h) = (w.model.layers as usize, w.model.heads as usize);
        let generation = w.stage.kind == StageKind::Generation;
        let retrieval = match assemble(&w.policy, w).selector {
            Selector::HeadMask {
                retrieval: Retrieval::Heads(m),
                ..
            } => m
                .iter()
                .map(|hs| (0..h as u32).map(|x| hs.contains(&x)).collect())
                .collect(),
            _ => Vec::new(),
        };
        PolicyState {
            cache: if generation {
                vec![(0..w.stage.prompt_tokens).collect(); l]
            } else {
                Vec::new()
            },
            scores: vec![vec![0; w.final_tokens() as usize]; l],
            retrieval,
            streaming_mass: vec![vec![0; h]; l],
        }
    }

    /// A generation step appends its token to every layer's cache.
    pub fn begin_step(&mut self, token: u32) {
        for c in &mut self.cache {
            c.push(token);
        }
        for s in &mut self.scores {
            if s.len() <= token as usize {
                s.resize(token as usize + 1, 0);
            }
        }
    }
}

/// One head call's key set chosen by the policy: indices into the alive tokens, and the
/// page top-k call that chose them (Quest).
#[derive(Debug, Clone, PartialEq)]
pub struct HeadKeys {
    pub alive: Vec<u32>,
    pub kv_rows: Vec<usize>,
    pub page_topk: Option<TopkCall>,
}

/// A policy applied to one layer pass.
#[derive(Debug, Clone)]
pub struct PolicyRun<'w> {
    pub policy: Policy,
    workload: &'w WorkloadConfig,
    layer: u32,
    iteration: u32,
    seq_len: u32,
    generation: bool,
}

impl<'w> PolicyRun<'w> {
    /// None for spatten (the cascade in `reference::layer` decides).
    pub fn new(w: &'w WorkloadConfig, layer: u32, state: &PruningState) -> Option<Self> {
        (w.policy.kind != PolicyKind::Spatten).then(|| PolicyRun {
            policy: assemble(&w.policy, w),
            workload: w,
            layer,
            iteration: state.iteration,
            seq_len: state.seq_len,
            generation: w.stage.kind == StageKind::Generation,
        })
    }

    fn active(&self) -> bool {
        self.layer >= self.policy.schedule.dense_layers
    }

    /// Whether this pass's probabilities feed a score (the importance unit runs).
    pub fn accumulates(&self) -> bool {
        let scored = matches!(
            self.policy.score,
            ScoreSource::AccumulatedProbability
                | ScoreSource::CurrentQuery
                | ScoreSource::ObservationWindow { .. }
                | ScoreSource::PreSoftmax
        );
        let used = match self.policy.selector {
            Selector::HeadMask {
                retrieval: Retrieval::LeastStreamingMass { .. },
                ..
            } => self.iteration == 0,
            Selector::HeadMask { .. } => false,
            _ => self.policy.schedule.fires_after(self.layer, self.iteration),
        };
        scored && used && self.active()
    }

    /// The keys head `head` attends this pass, if the policy narrows the alive tokens:
    /// the layer's KV cache in generation, DuoAttention's streaming heads, Quest's pages.
    /// `q` and `k` are the head's views with rows `q_rows` / `kv_rows` of the alive tokens.
    #[allow(clippy::too_many_arguments)]
    pub fn head_keys(
        &self,
        state: &PruningState,
        head: u32,
        q: &ArrayView2<f32>,
        k: &ArrayView2<f32>,
        q_rows: &[usize],
        kv_rows: &[usize],
    ) -> Result<Option<HeadKeys>, ReferenceError> {
        let alive = &state.alive_tokens;
        let mut idx: Option<Vec<usize>> = None;
        if self.generation && self.iteration > 0 {
            let cache = &state.policy.cache[self.layer as usize];
            if cache.len() != alive.len() {
                idx = Some(
                    cache
                        .iter()
                        .filter_map(|t| alive.binary_search(t).ok())
                        .collect(),
                );
            }
        }
        let base = || idx.clone().unwrap_or_else(|| (0..alive.len()).collect());
        let mut page_topk = None;
        match &self.policy.selector {
            Selector::HeadMask { sinks, window, .. } if self.iteration > 0 => {
                let retrieval = state
                    .policy
                    .retrieval
                    .get(self.layer as usize)
                    .is_some_and(|r| r[head as usize]);
                if !retrieval {
                    let b = base();
                    idx = Some(
                        b.into_iter()
                            .filter(|&i| select::protected(alive[i], self.seq_len, *sinks, *window))
                            .collect(),
                    );
                }
            }
            Selector::PageTopK { pages } if self.iteration > 0 && self.active() => {
                let ScoreSource::PageBound { page_size } = self.policy.score else {
                    unreachable!("quest pairs page top-k with page bounds")
                };
                let b = base();
                let (keep, call) =
                    self.pick_pages(head, &b, alive, q, k, q_rows, kv_rows, *pages, page_size)?;
                idx = Some(keep);
                page_topk = call;
            }
            _ => {}
        }
        Ok(idx.map(|idx| HeadKeys {
            alive: idx.iter().map(|&i| alive[i]).collect(),
            kv_rows: idx.iter().map(|&i| kv_rows[i]).collect(),
            page_topk,
        }))
    }

    /// Quest: bounds of the pages of `base` (alive indices) for the newest query, top-k
    /// pages by the engine; the query's own token is always attended.
    #[allow(clippy::too_many_arguments)]
    fn pick_pages(
        &self,
        head: u32,
        base: &[usize],
        alive: &[u32],
        q: &ArrayView2<f32>,
        k: &ArrayView2<f32>,
        q_rows: &[usize],
        kv_rows: &[usize],
        pages: u32,
        page_size: u32,
    ) -> Result<(Vec<usize>, Option<TopkCall>), ReferenceError> {
        let w = self.workload;
        let d = w.model.head_dim as usize;
        let row = |a: &ArrayView2<f32>, r: usize| a.row(r).to_vec();
        let qv = row(q, *q_rows.last().expect("a generation step has its query"));
        let label = format!("layer {} head {head} quest", self.layer);
        let qw = quantize_rows(&[&qv], QuantFormat::single(WORD_BITS), &label)?.merged_words();
        let krows: Vec<Vec<f32>> = base.iter().map(|&i| row(k, kv_rows[i])).collect();
        let krefs: Vec<&[f32]> = krows.iter().map(|r| r.as_slice()).collect();
        let kw = quantize_rows(&krefs, kv_format(w), &label)?.merged_words();
        // Pages are aligned blocks of token positions: group the cache's rows by t / size.
        let mut groups: Vec<(u32, Vec<usize>)> = Vec::new();
        for (j, &i) in base.iter().enumerate() {
            let p = alive[i] / page_size;
            match groups.last_mut() {
                Some((g, v)) if *g == p => v.push(j),
                _ => groups.push((p, vec![j])),
            }
        }
        let bounds: Vec<u64> = groups
            .iter()
            .map(|(_, js)| {
                let rows: Vec<i16> = js
                    .iter()
                    .flat_map(|&j| kw[j * d..(j + 1) * d].iter().copied())
                    .collect();
                let s = &page::summaries(&rows, d, js.len())[0];
                page::engine_key(page::bound(&qw, &s.0, &s.1))
            })
            .collect();
        let newest_page = groups.len() - 1;
        // The query's page is always loaded; the others compete for the remaining places.
        let cand = &bounds[..newest_page];
        let k_pages = (pages as usize).saturating_sub(1).min(cand.len());
        let (mut chosen, call) = if k_pages < cand.len() {
            let seed = call_seed(w.seed, SEED_POLICY, self.iteration, self.layer, head + 1);
            let r = quick_select(cand, k_pages, seed);
            let call = TopkCall {
                purpose: TopkPurpose::Page,
                n: cand.len() as u32,
                k: k_pages as u32,
                rounds: r.rounds,
                stages: Vec::new(),
            };
            (r.indices, Some(call))
        } else {
            ((0..cand.len() as u32).collect(), None)
        };
        chosen.push(newest_page as u32);
        let keep = chosen
            .iter()
            .flat_map(|&g| groups[g as usize].1.iter().map(|&j| base[j]))
            .collect();
        Ok((keep, call))
    }

    /// Adds one query row's contribution to `inc` (per visible key of the head call):
    /// `qt` is the row's token, `last` the newest query token of the pass.
    pub fn score_row(
        &self,
        qt: u32,
        last: u32,
        probs: &[u16],
        scores: &[i32],
        mult: ScaleReg,
        inc: &mut [u64],
    ) {
        if !self.accumulates() {
            return;
        }
        match self.policy.score {
            ScoreSource::AccumulatedProbability => add_probs(inc, probs),
            ScoreSource::CurrentQuery if qt == last => add_probs(inc, probs),
            ScoreSource::ObservationWindow { queries, .. }
                if self.iteration == 0 && qt + queries >= self.seq_len =>
            {
                add_probs(inc, probs)
            }
            ScoreSource::PreSoftmax => {
                let Some(&max) = scores.iter().max() else {
                    return;
                };
                for (acc, &s) in inc.iter_mut().zip(scores) {
                    *acc += T_CAP - t_of(max, s, mult);
                }
            }
            _ => {}
        }
    }

    /// Reduces one head call's increments (over its `keys`) into the policy state.
    pub fn merge_head(&self, state: &mut PruningState, head: u32, keys: &[u32], inc: &[u64]) {
        let l = self.layer as usize;
        let ps = &mut state.policy;
        match self.policy.selector {
            Selector::HeadMask { sinks, window, .. } => {
                let mass: u64 = keys
                    .iter()
                    .zip(inc)
                    .filter(|&(&t, _)| select::protected(t, self.seq_len, sinks, window))
                    .map(|(_, &p)| p)
                    .sum();
                ps.streaming_mass[l][head as usize] += mass;
            }
            _ => {
                for (&t, &p) in keys.iter().zip(inc) {
                    let acc = &mut ps.scores[l][t as usize];
                    *acc = super::importance::saturating_add_bits(*acc, p, SCORE_BITS);
                }
            }
        }
    }

    /// Before the layer's heads merge: scores that see only this pass start from zero.
    pub fn begin_layer(&self, state: &mut PruningState) {
        if let Reducer::SumOverHeads {
            across_iterations: false,
        } = self.policy.reducer
            && let Some(s) = state.policy.scores.get_mut(self.layer as usize)
        {
            s.iter_mut().for_each(|x| *x = 0);
        }
    }

    /// The eviction after the layer (if the schedule fires): returns the tokens the layer
    /// keeps (the alive tokens in summarization, the layer's cache in generation) and the
    /// top-k call that chose them.
    pub fn after_layer(&self, state: &mut PruningState) -> (Vec<u32>, Option<TopkCall>) {
        let l = self.layer as usize;
        let w = self.workload;
        if let Selector::HeadMask {
            retrieval: Retrieval::LeastStreamingMass { fraction },
            ..
        } = self.policy.selector
            && self.iteration == 0
        {
            decide_retrieval(state, l, fraction);
        }
        let current = |state: &PruningState| {
            if self.generation {
                state.policy.cache[l].clone()
            } else {
                state.alive_tokens.clone()
            }
        };
        if !self.policy.schedule.fires_after(self.layer, self.iteration) {
            return (current(state), None);
        }
        let cands = current(state);
        let exempt = (self.generation && self.iteration > 0).then_some(self.seq_len - 1);
        let seed = call_seed(w.seed, SEED_POLICY, self.iteration, self.layer, 0);
        let (kept, call) = match &self.policy.selector {
            Selector::TopK {
                budget,
                sinks,
                window,
            } => {
                let b = budget.at(self.layer, w.model.layers);
                let scores = self.ranked_scores(state, &cands);
                let sel = select::top_k_protected(
                    &cands,
                    b,
                    self.seq_len,
                    *sinks,
                    *window,
                    exempt,
                    |t| scores[cands.binary_search(&t).expect("a candidate")],
                    seed,
                );
                let call = sel.topk.as_ref().map(|r| TopkCall {
                    purpose: TopkPurpose::Token,
                    n: sel.n,
                    k: sel.k,
                    rounds: r.rounds.clone(),
                    stages: Vec::new(),
                });
                (sel.kept, call)
            }
            Selector::SinksWindow { sinks, window } => (
                select::sinks_window(&cands, self.seq_len, *sinks, *window),
                None,
            ),
            _ => (cands, None),
        };
        if self.generation {
            state.policy.cache[l] = kept.clone();
        } else {
            state.alive_tokens = kept.clone();
        }
        (kept, call)
    }

    /// The engine's input per candidate: the reduced score, pooled (SnapKV), or seeded.
    fn ranked_scores(&self, state: &PruningState, cands: &[u32]) -> Vec<u64> {
        let raw = &state.policy.scores[self.layer as usize];
        match self.policy.score {
            ScoreSource::Seeded => {
                let s = call_seed(self.workload.seed, SEED_RANDOM_SCORE, 0, self.layer, 0);
                cands
                    .iter()
                    .map(|&t| splitmix64(s ^ t as u64) & 0xFFFF_FFFF)
                    .collect()
            }
            ScoreSource::ObservationWindow { pool_kernel, .. } => {
                let v: Vec<u64> = cands.iter().map(|&t| raw[t as usize]).collect();
                pool(&v, pool_kernel as usize)
            }
            _ => cands.iter().map(|&t| raw[t as usize]).collect(),
        }
    }
}

/// The softmax's saturated range-reduced exponent of `s` below the row maximum (SPEC.md
/// section 4, step 2).
const T_CAP: u64 = ((T_MAX_INT as u64) + 1) << T_FRAC_BITS;
fn t_of(max: i32, s: i32, mult: ScaleReg) -> u64 {
    mult.mul_to_fixed((max as i64 - s as i64) as u64, T_FRAC_BITS)
        .min(T_CAP)
}

fn add_probs(inc: &mut [u64], probs: &[u16]) {
    for (acc, &p) in inc.iter_mut().zip(probs) {
        *acc += p as u64;
    }
}

/// Sum over a window of `kernel` neighbours centred on each element, clipped at the ends
/// (SnapKV's pooling up to its constant 1 / kernel, which does not change the ranking).
pub fn pool(v: &[u64], kernel: usize) -> Vec<u64> {
    let half = kernel / 2;
    (0..v.len())
        .map(|i| {
            let lo = i.saturating_sub(half);
            let hi = (i + half + 1).min(v.len());
            v[lo..hi].iter().sum()
        })
        .collect()
}

/// DuoAttention's score rule: the ceil(fraction x H) heads with the least probability on
/// the sinks and window retrieve; ties to the lower head.
fn decide_retrieval(state: &mut PruningState, layer: usize, fraction: f64) {
    let mass = &state.policy.streaming_mass[layer];
    let h = mass.len();
    let n = ((h as f64 * fraction - 1e-9).ceil().max(0.0) as usize).min(h);
    let mut order: Vec<usize> = (0..h).collect();
    order.sort_by_key(|&i| (mass[i], i));
    let mut r = vec![false; h];
    for &i in &order[..n] {
        r[i] = true;
    }
    let heads = h;
    let ps = &mut state.policy;
    if ps.retrieval.len() <= layer {
        ps.retrieval.resize(layer + 1, vec![false; heads]);
    }
    ps.retrieval[layer] = r;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooling_sums_neighbours_clipped_at_the_ends() {
        assert_eq!(pool(&[1, 2, 3, 4, 5], 3), vec![3, 6, 9, 12, 9]);
        assert_eq!(pool(&[7, 0, 0], 1), vec![7, 0, 0]);
    }

    #[test]
    fn pyramid_budgets_fall_with_depth_and_average_the_budget() {
        let b = LayerBudget::Pyramid {
            first: 380,
            last: 20,
        };
        let v: Vec<u32> = (0..12).map(|l| b.at(l, 12)).collect();
        assert_eq!((v[0], v[11]), (380, 20));
        assert!(v.windows(2).all(|w| w[0] >= w[1]));
        let mean = v.iter().sum::<u32>() as f64 / 12.0;
        assert!((mean - 200.0).abs() <= 1.0);
    }

    #[test]
    fn schedules_fire_as_their_papers_say() {
        let s = Schedule {
            dense_layers: 2,
            fires: Fires::EveryStep { n: 4 },
        };
        assert!(!s.fires_after(1, 0) && s.fires_after(2, 0));
        assert!(!s.fires_after(2, 3) && s.fires_after(2, 4));
        let once = Schedule {
            dense_layers: 0,
            fires: Fires::AfterPrompt,
        };
        assert!(once.fires_after(0, 0) && !once.fires_after(0, 1));
    }
}
