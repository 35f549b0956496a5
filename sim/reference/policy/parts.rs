//! The parts a policy is assembled from: where its scores come from, how they are reduced,
//! how the kept set is selected, at what granularity and when.

/// What ranks the candidates.
#[derive(Debug, Clone, PartialEq)]
pub enum ScoreSource {
    /// No score (the selection is positional or static).
    None,
    /// 12-bit attention probabilities received, summed over every query row.
    AccumulatedProbability,
    /// Probabilities received from the newest query row only.
    CurrentQuery,
    /// Probabilities received from the last `queries` prompt rows, summed, then summed over
    /// `pool_kernel` neighbouring keys (SnapKV's clustering).
    ObservationWindow { queries: u32, pool_kernel: u32 },
    /// The pre-softmax score relative to the row maximum, as the softmax range reduction
    /// computes it: sum over rows of (25 - (max - s) x unit x log2 e) in Q.16, so a key at
    /// the row maximum earns 25 x 2^16 and a key 25 octaves below earns nothing. The
    /// reduction makes scores of heads with different scales comparable.
    PreSoftmax,
    /// A seeded pseudo-random score per (layer, token): the control.
    Seeded,
    /// Quest: per page, the upper bound sum_i max(q_i min_i, q_i max_i) of q . k over its keys.
    PageBound { page_size: u32 },
}

/// How per-head, per-row scores become one score per candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reducer {
    /// Summed over the heads of a layer into one score per token (one kept set per layer,
    /// as SpAtten's token engine ranks); `across_iterations` keeps adding over generation
    /// steps, otherwise each firing sees only this pass's scores.
    SumOverHeads { across_iterations: bool },
    /// Each head ranks its own candidates.
    PerHead,
}

/// How the kept set is chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum Selector {
    /// Keep everything.
    All,
    /// Quick-select top-k as the engine runs it (SPEC.md section 6), `budget` in total, with
    /// the first `sinks` and the last `window` positions protected (their score is forced to
    /// the maximum, so they compete and always win).
    TopK {
        budget: LayerBudget,
        sinks: u32,
        window: u32,
    },
    /// The first `sinks` and the last `window` positions; no ranking.
    SinksWindow { sinks: u32, window: u32 },
    /// Quest: quick-select top-k over page bounds, `pages` pages per head per step.
    PageTopK { pages: u32 },
    /// DuoAttention: retrieval heads see every key, streaming heads sinks + window.
    HeadMask {
        sinks: u32,
        window: u32,
        retrieval: Retrieval,
    },
}

/// Tokens kept after a layer.
#[derive(Debug, Clone, PartialEq)]
pub enum LayerBudget {
    Uniform(u32),
    /// SpAtten: `[token_pruning]` ratios against the sequence length.
    CascadeSchedule,
    /// PyramidKV: arithmetic from `first` at layer 0 down to `last` at the last layer.
    Pyramid {
        first: u32,
        last: u32,
    },
}

impl LayerBudget {
    pub fn at(&self, layer: u32, layers: u32) -> u32 {
        match *self {
            LayerBudget::Uniform(b) => b,
            LayerBudget::CascadeSchedule => u32::MAX,
            LayerBudget::Pyramid { first, last } => {
                if layers <= 1 {
                    return first;
                }
                let t = layer as f64 / (layers - 1) as f64;
                (first as f64 + t * (last as f64 - first as f64)).round() as u32
            }
        }
    }
}

/// Which heads of each layer are retrieval heads.
#[derive(Debug, Clone, PartialEq)]
pub enum Retrieval {
    /// Given per layer (the mask DuoAttention's offline optimization produces).
    Heads(Vec<Vec<u32>>),
    /// Score rule, decided at the prompt: per layer the `fraction` of heads whose newest
    /// prompt query puts the least probability on the sinks + window are retrieval heads.
    LeastStreamingMass { fraction: f64 },
}

/// What the selection applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Token,
    Page { size: u32 },
    Head,
}

/// When the policy fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Leading layers left dense.
    pub dense_layers: u32,
    pub fires: Fires,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fires {
    /// Never evicts (static or query-aware selections only).
    Never,
    /// Once, after the prompt's pass of each layer.
    AfterPrompt,
    /// After the prompt and every `n` generation steps.
    EveryStep { n: u32 },
}

impl Schedule {
    /// Whether an eviction runs after `layer` of `iteration`.
    pub fn fires_after(&self, layer: u32, iteration: u32) -> bool {
        if layer < self.dense_layers {
            return false;
        }
        match self.fires {
            Fires::Never => false,
            Fires::AfterPrompt => iteration == 0,
            Fires::EveryStep { n } => iteration.is_multiple_of(n),
        }
    }
}

/// A policy: its parts, assembled by one preset file per policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub kind: crate::config::policy::PolicyKind,
    pub score: ScoreSource,
    pub reducer: Reducer,
    pub selector: Selector,
    pub granularity: Granularity,
    pub schedule: Schedule,
}
