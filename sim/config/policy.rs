//! The `[policy]` table of a workload: which KV-cache / token pruning policy decides what is
//! kept, and its budgets and windows. The policies themselves are in `reference::policy`.

use serde::{Deserialize, Serialize};

use super::error::Checker;

/// The built-in policies, each named as in its paper (POLICIES.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyKind {
    /// SpAtten's cascade token, head and local V pruning, configured by `[token_pruning]`,
    /// `[head_pruning]` and `[local_v]` (the default; bit-identical to the traces before
    /// policies existed).
    #[default]
    Spatten,
    /// Nothing is pruned.
    Dense,
    /// A seeded random subset of the budget's size: the control every comparison needs.
    Random,
    StreamingLlm,
    H2o,
    Tova,
    Snapkv,
    Pyramidkv,
    Quest,
    SpattenLlm,
    DuoAttention,
}

impl PolicyKind {
    pub const ALL: [PolicyKind; 11] = [
        PolicyKind::Spatten,
        PolicyKind::Dense,
        PolicyKind::Random,
        PolicyKind::StreamingLlm,
        PolicyKind::H2o,
        PolicyKind::Tova,
        PolicyKind::Snapkv,
        PolicyKind::Pyramidkv,
        PolicyKind::Quest,
        PolicyKind::SpattenLlm,
        PolicyKind::DuoAttention,
    ];

    pub fn label(self) -> &'static str {
        match self {
            PolicyKind::Spatten => "spatten",
            PolicyKind::Dense => "dense",
            PolicyKind::Random => "random",
            PolicyKind::StreamingLlm => "streaming-llm",
            PolicyKind::H2o => "h2o",
            PolicyKind::Tova => "tova",
            PolicyKind::Snapkv => "snapkv",
            PolicyKind::Pyramidkv => "pyramidkv",
            PolicyKind::Quest => "quest",
            PolicyKind::SpattenLlm => "spatten-llm",
            PolicyKind::DuoAttention => "duo-attention",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.label() == s)
    }

    /// The `[policy]` keys this kind reads besides `kind`; any other key is an error.
    pub fn keys(self) -> &'static [&'static str] {
        use PolicyKind::*;
        match self {
            Spatten | Dense => &[],
            Random | Tova => &["budget", "keep_fraction", "dense_layers", "every"],
            StreamingLlm => &["budget", "keep_fraction", "sinks", "window", "dense_layers"],
            H2o => &[
                "budget",
                "keep_fraction",
                "sinks",
                "window",
                "dense_layers",
                "every",
            ],
            Snapkv => &[
                "budget",
                "keep_fraction",
                "observation_window",
                "pool_kernel",
                "dense_layers",
            ],
            Pyramidkv => &[
                "budget",
                "keep_fraction",
                "observation_window",
                "pool_kernel",
                "pyramid_beta",
                "dense_layers",
            ],
            Quest => &["budget", "keep_fraction", "page_size", "dense_layers"],
            SpattenLlm => &["sinks", "budget", "window", "dense_layers"],
            DuoAttention => &["sinks", "window", "retrieval_fraction", "retrieval_heads"],
        }
    }
}

/// `[policy]`: every key but `kind` is optional; a key the kind does not read is an error, so
/// a typo or a misplaced setting is never silently ignored.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    #[serde(default)]
    pub kind: PolicyKind,
    /// Tokens kept per layer (KV-cache size; Quest: tokens loaded per step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<u32>,
    /// The budget as a fraction of the prompt, in (0, 1], when `budget` is not given
    /// (default 0.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_fraction: Option<f64>,
    /// Leading tokens always kept (attention sinks; default 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sinks: Option<u32>,
    /// Most recent tokens always kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<u32>,
    /// SnapKV / PyramidKV: the last prompt queries whose attention scores the prompt keys
    /// (default 32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observation_window: Option<u32>,
    /// SnapKV / PyramidKV: width of the pooling over neighbouring keys, odd (default 7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_kernel: Option<u32>,
    /// PyramidKV: the last layer's budget is budget / beta (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pyramid_beta: Option<f64>,
    /// Quest: tokens per page, a power of two (default 16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
    /// Leading layers the policy leaves dense (Quest default 2, others 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dense_layers: Option<u32>,
    /// Evict every N generation steps (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<u32>,
    /// DuoAttention score rule: the fraction of each layer's heads kept as retrieval heads
    /// (default 0.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrieval_fraction: Option<f64>,
    /// DuoAttention per-head mask: one list per layer of its retrieval heads (others stream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrieval_heads: Option<Vec<Vec<u32>>>,
    /// Not a key: set by the accuracy loops, which run the workload's policy on prompts
    /// shorter than its own. The token counts (budget, window, observation window and the
    /// presets' own, all but the sinks and Quest's page size) were chosen for a prompt of
    /// this many tokens and are scaled to the prompt actually run.
    #[serde(skip)]
    pub sized_for_prompt: Option<u32>,
}

impl PolicyConfig {
    /// True for the default table (`kind = "spatten"`, nothing else): such workloads
    /// serialize, and therefore hash, exactly as before `[policy]` existed.
    pub fn is_default(&self) -> bool {
        *self == PolicyConfig::default()
    }

    /// The keys set in this table (besides `kind`).
    pub fn keys_set(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        let mut add = |set: bool, k| {
            if set {
                v.push(k)
            }
        };
        add(self.budget.is_some(), "budget");
        add(self.keep_fraction.is_some(), "keep_fraction");
        add(self.sinks.is_some(), "sinks");
        add(self.window.is_some(), "window");
        add(self.observation_window.is_some(), "observation_window");
        add(self.pool_kernel.is_some(), "pool_kernel");
        add(self.pyramid_beta.is_some(), "pyramid_beta");
        add(self.page_size.is_some(), "page_size");
        add(self.dense_layers.is_some(), "dense_layers");
        add(self.every.is_some(), "every");
        add(self.retrieval_fraction.is_some(), "retrieval_fraction");
        add(self.retrieval_heads.is_some(), "retrieval_heads");
        v
    }

    /// Range checks against the workload's shape: `prompt` and `context` (prompt +
    /// generated) tokens, `layers` and `heads`.
    pub(crate) fn check(
        &self,
        c: &mut Checker,
        prompt: u32,
        context: u32,
        layers: u32,
        heads: u32,
    ) {
        let kind = self.kind;
        for k in self.keys_set() {
            if !kind.keys().contains(&k) {
                c.fail(
                    &format!("policy.{k}"),
                    format!(
                        "is not read by policy {} (it reads: {})",
                        kind.label(),
                        if kind.keys().is_empty() {
                            "nothing".to_string()
                        } else {
                            kind.keys().join(", ")
                        }
                    ),
                );
            }
        }
        if let Some(b) = self.budget {
            if b == 0 {
                c.fail("policy.budget", "must be at least 1 token");
            } else if b > context {
                c.fail(
                    "policy.budget",
                    format!("{b} tokens is above the context of {context} tokens"),
                );
            }
        }
        if let (Some(b), Some(s), Some(w)) = (self.budget, self.sinks, self.window)
            && s + w > b
        {
            c.fail(
                "policy.budget",
                format!(
                    "{b} tokens cannot hold the {s} sinks and {w} window tokens that are always kept"
                ),
            );
        }
        if self.budget.is_some() && self.keep_fraction.is_some() {
            c.fail(
                "policy.keep_fraction",
                "give either budget or keep_fraction, not both",
            );
        }
        if let Some(f) = self.keep_fraction {
            c.range_f64("policy.keep_fraction", f, 0.0, 1.0, true);
            if f == 0.0 {
                c.fail("policy.keep_fraction", "must be greater than zero");
            }
        }
        if let Some(w) = self.window {
            if w == 0 {
                c.fail("policy.window", "must be at least 1 token");
            } else if w > context {
                c.fail(
                    "policy.window",
                    format!("{w} tokens is above the context of {context} tokens"),
                );
            }
        }
        if let Some(s) = self.sinks
            && s > context
        {
            c.fail(
                "policy.sinks",
                format!("{s} tokens is above the context of {context} tokens"),
            );
        }
        if let Some(w) = self.observation_window {
            if w == 0 {
                c.fail("policy.observation_window", "must be at least 1 query");
            } else if w > prompt {
                c.fail(
                    "policy.observation_window",
                    format!("{w} queries is above the prompt of {prompt} tokens"),
                );
            }
        }
        if let Some(k) = self.pool_kernel
            && k % 2 == 0
        {
            c.fail("policy.pool_kernel", format!("must be odd (got {k})"));
        }
        if let Some(b) = self.pyramid_beta
            && !(b.is_finite() && b >= 1.0)
        {
            c.fail(
                "policy.pyramid_beta",
                format!("must be at least 1 (got {b})"),
            );
        }
        if let Some(p) = self.page_size {
            if p == 0 || !p.is_power_of_two() {
                c.fail(
                    "policy.page_size",
                    format!("must be a power of two: pages are aligned blocks of the token layout (got {p})"),
                );
            } else if p > context {
                c.fail(
                    "policy.page_size",
                    format!("{p} tokens is above the context of {context} tokens"),
                );
            }
        }
        if let Some(d) = self.dense_layers
            && d > layers
        {
            c.fail(
                "policy.dense_layers",
                format!("{d} is above the model's {layers} layers"),
            );
        }
        if self.every == Some(0) {
            c.fail("policy.every", "must be at least 1 step");
        }
        if let Some(f) = self.retrieval_fraction {
            c.range_f64("policy.retrieval_fraction", f, 0.0, 1.0, true);
        }
        if self.retrieval_fraction.is_some() && self.retrieval_heads.is_some() {
            c.fail(
                "policy.retrieval_heads",
                "give either retrieval_heads or retrieval_fraction, not both",
            );
        }
        if let Some(m) = &self.retrieval_heads {
            if m.len() != layers as usize {
                c.fail(
                    "policy.retrieval_heads",
                    format!("has {} lists; the model has {layers} layers", m.len()),
                );
            }
            for (l, hs) in m.iter().enumerate() {
                if !hs.windows(2).all(|w| w[0] < w[1]) || hs.last().is_some_and(|&h| h >= heads) {
                    c.fail(
                        "policy.retrieval_heads",
                        format!("layer {l}: heads must be strictly ascending and below {heads}"),
                    );
                }
            }
        }
    }
}
