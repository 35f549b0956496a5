//! The workload schema: model shape, stage, pruning and quantization settings.

use serde::{Deserialize, Serialize};

use super::error::Checker;
use super::policy::PolicyConfig;

/// A workload (`workloads/*.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadConfig {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// Seeds every random choice made for this workload (synthetic values, pivots).
    pub seed: u64,
    pub model: ModelShape,
    pub stage: StageConfig,
    pub token_pruning: PruningSchedule,
    pub head_pruning: PruningSchedule,
    pub local_v: LocalVConfig,
    pub quant: QuantConfig,
    /// The KV-cache / token pruning policy; absent means SpAtten's cascade.
    #[serde(default, skip_serializing_if = "PolicyConfig::is_default")]
    pub policy: PolicyConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelShape {
    pub layers: u32,
    pub heads: u32,
    pub head_dim: u32,
    pub hidden: u32,
    /// Decoder-style masking: query i attends keys 0..=i only (GPT-2); false for BERT.
    pub causal: bool,
    /// K/V heads (grouped-query attention): each serves `heads / kv_heads` query heads; 1 is
    /// multi-query attention. Absent = `heads` (multi-head attention).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_heads: Option<u32>,
    /// How positions enter the model. Recorded as a fact of the workload: it changes the
    /// values of Q and K (RoPE rotates them before Q x K), not the dataflow the simulator
    /// times, so nothing downstream branches on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub positional: Option<Positional>,
}

/// Positional encoding of a model (a recorded fact; see [`ModelShape::positional`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Positional {
    /// Learned absolute position embeddings added to the input (BERT, GPT-2).
    Learned,
    /// Rotary embeddings applied to Q and K per position (Llama, Mistral, Qwen).
    Rope,
    /// No positional signal in the attention inputs.
    None,
}

impl ModelShape {
    /// K/V heads: `kv_heads`, or `heads` when absent.
    pub fn kv_heads(&self) -> u32 {
        self.kv_heads.unwrap_or(self.heads)
    }

    /// Query heads per K/V head (1 for multi-head attention).
    pub fn group_size(&self) -> u32 {
        self.heads / self.kv_heads().max(1)
    }

    /// The K/V head serving query head `head`.
    pub fn kv_head_of(&self, head: u32) -> u32 {
        head / self.group_size().max(1)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StageKind {
    /// All tokens processed at once (BERT, the GPT-2 prompt): K/V reused from SRAM.
    Summarization,
    /// The prompt is summarized, then tokens are generated one at a time with a KV cache.
    Generation,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    pub kind: StageKind,
    /// Sequence length for summarization; prompt length for generation.
    pub prompt_tokens: u32,
    /// Tokens generated after the prompt (0 for summarization).
    pub generated_tokens: u32,
    /// Generation only: whether the prompt pass runs on this accelerator (`simulated`, the
    /// default) or its KV cache is taken as already filled elsewhere (`cached`: decode-only
    /// studies; the run starts at the first generated token with every prompt token alive
    /// and zero importance, and has no iteration 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefill: Option<Prefill>,
    /// Independent sequences served together (each with its own values, pruning and KV
    /// cache) sharing the datapath: their heads interleave layer by layer, so one
    /// sequence's layer-end top-k overlaps the others' heads (sim/trace/batch.rs).
    #[serde(default = "one_sequence", skip_serializing_if = "is_one_sequence")]
    pub batch: u32,
}

fn one_sequence() -> u32 {
    1
}

fn is_one_sequence(b: &u32) -> bool {
    *b == 1
}

/// Where a generation workload's prompt pass runs (see [`StageConfig::prefill`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Prefill {
    Simulated,
    Cached,
}

impl StageConfig {
    /// Whether iteration 0 (the prompt pass) runs.
    pub fn runs_prompt(&self) -> bool {
        self.prefill != Some(Prefill::Cached)
    }
}

/// Cascade pruning schedule for tokens or heads (the SpAtten paper's cascade pruning). A ratio is cumulative: after
/// a layer with ratio r, r x (the original count) tokens (or heads) are gone, so the survivors
/// are top-k(importance, original x (1 - r)) as in the paper.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PruningSchedule {
    /// Average over the pruned layers of the cumulative ratio, in [0, 1).
    pub average_ratio: f64,
    /// Leading fraction of layers never pruned (0.15 for tokens, 0.30 for heads in the paper).
    pub unpruned_leading_fraction: f64,
    /// end ratio - start ratio; start = average - ramp / 2, end = average + ramp / 2.
    pub ramp: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalVConfig {
    /// Fraction of the surviving V rows fetched per head in generation, in (0, 1].
    pub keep_ratio: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QuantMode {
    /// Fetch `msb_bits` only, never refetch.
    Static,
    /// Fetch MSBs; refetch the LSBs and recompute when the softmax is too flat.
    Progressive,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuantConfig {
    pub mode: QuantMode,
    pub msb_bits: u32,
    pub lsb_bits: u32,
    /// Refetch LSBs when the largest probability of a row is below this.
    pub requant_threshold: f64,
}

impl StageKind {
    pub fn label(self) -> &'static str {
        match self {
            StageKind::Summarization => "summarization",
            StageKind::Generation => "generation",
        }
    }
}

pub const MSB_WIDTHS: [u32; 5] = [4, 6, 8, 10, 12];

/// The longest sequence (prompt + generated tokens) a workload may have: 128 Ki tokens, the
/// context of Llama-3.1 and the largest the trace format accepts (traces/FORMAT.md). The
/// datapath's accumulators are sized for it (sim/reference/SPEC.md sections 4 and 7).
pub const MAX_TOKENS: u32 = 131_072;

impl PruningSchedule {
    pub fn start_ratio(&self) -> f64 {
        self.average_ratio - self.ramp / 2.0
    }

    pub fn end_ratio(&self) -> f64 {
        self.average_ratio + self.ramp / 2.0
    }

    /// Number of leading layers that are never pruned.
    pub fn unpruned_layers(&self, layers: u32) -> u32 {
        ((self.unpruned_leading_fraction * layers as f64).ceil() as u32).min(layers)
    }

    /// Pruning ratio applied after `layer` (0-based): zero in the unpruned leading layers,
    /// then linear from the start to the end ratio over the remaining layers.
    pub fn ratio_after_layer(&self, layer: u32, layers: u32) -> f64 {
        let first = self.unpruned_layers(layers);
        if layer < first || self.average_ratio == 0.0 {
            return 0.0;
        }
        let span = layers - first;
        if span <= 1 {
            return self.average_ratio;
        }
        let t = (layer - first) as f64 / (span - 1) as f64;
        self.start_ratio() + t * (self.end_ratio() - self.start_ratio())
    }

    fn check(&self, c: &mut Checker, table: &str) {
        c.range_f64(
            &format!("{table}.average_ratio"),
            self.average_ratio,
            0.0,
            1.0,
            false,
        );
        c.range_f64(
            &format!("{table}.unpruned_leading_fraction"),
            self.unpruned_leading_fraction,
            0.0,
            1.0,
            true,
        );
        c.range_f64(&format!("{table}.ramp"), self.ramp, 0.0, 2.0, false);
        if self.ramp.is_finite() && self.average_ratio.is_finite() {
            let (s, e) = (self.start_ratio(), self.end_ratio());
            if s < 0.0 || e >= 1.0 {
                c.fail(
                    &format!("{table}.ramp"),
                    format!("gives start ratio {s} and end ratio {e}; both must lie in [0, 1)"),
                );
            }
        }
    }
}

impl WorkloadConfig {
    /// Total sequence length after the last generated token.
    pub fn final_tokens(&self) -> u32 {
        self.stage.prompt_tokens + self.stage.generated_tokens
    }

    pub(crate) fn check(&self, c: &mut Checker) {
        if self.name.trim().is_empty() {
            c.fail("name", "must not be empty");
        }
        let m = &self.model;
        c.range_u64("model.layers", m.layers as u64, 1, 256);
        c.range_u64("model.heads", m.heads as u64, 1, 256);
        c.range_u64("model.head_dim", m.head_dim as u64, 1, 128);
        c.nonzero("model.hidden", m.hidden as u64);
        let heads_x_dim = u64::from(m.heads) * u64::from(m.head_dim);
        if m.head_dim != 0 && m.heads != 0 && u64::from(m.hidden) != heads_x_dim {
            c.fail(
                "model.hidden",
                format!("must equal heads x head_dim = {heads_x_dim}"),
            );
        }
        if let Some(kv) = m.kv_heads {
            c.range_u64("model.kv_heads", kv as u64, 1, 256);
            if kv != 0 && m.heads != 0 && !m.heads.is_multiple_of(kv) {
                c.fail(
                    "model.kv_heads",
                    format!(
                        "= {kv} must divide model.heads = {} (each K/V head serves an equal group of query heads)",
                        m.heads
                    ),
                );
            }
        }
        let s = &self.stage;
        c.range_u64(
            "stage.prompt_tokens",
            s.prompt_tokens as u64,
            1,
            MAX_TOKENS as u64,
        );
        match s.kind {
            StageKind::Summarization if s.generated_tokens != 0 => c.fail(
                "stage.generated_tokens",
                "must be 0 for a summarization stage",
            ),
            StageKind::Generation if s.generated_tokens == 0 => c.fail(
                "stage.generated_tokens",
                "must be at least 1 for a generation stage",
            ),
            _ => {}
        }
        if s.kind == StageKind::Summarization && s.prefill.is_some() {
            c.fail(
                "stage.prefill",
                "applies to generation stages only (a summarization stage is its prompt pass)",
            );
        }
        c.range_u64(
            "stage.generated_tokens",
            s.generated_tokens as u64,
            0,
            MAX_TOKENS as u64,
        );
        c.range_u64(
            "stage.batch",
            s.batch as u64,
            1,
            crate::trace::trace_check::MAX_BATCH as u64,
        );
        let total = u64::from(s.prompt_tokens) + u64::from(s.generated_tokens);
        if total > MAX_TOKENS as u64 {
            c.fail(
                "stage.generated_tokens",
                format!(
                    "stage.prompt_tokens + stage.generated_tokens = {total} exceeds {MAX_TOKENS} (the longest context a trace holds)"
                ),
            );
        }
        self.token_pruning.check(c, "token_pruning");
        self.head_pruning.check(c, "head_pruning");
        c.range_f64(
            "local_v.keep_ratio",
            self.local_v.keep_ratio,
            0.0,
            1.0,
            true,
        );
        if self.local_v.keep_ratio == 0.0 {
            c.fail("local_v.keep_ratio", "must be greater than zero");
        }
        let q = &self.quant;
        if !MSB_WIDTHS.contains(&q.msb_bits) {
            c.fail(
                "quant.msb_bits",
                format!("must be one of {MSB_WIDTHS:?} (got {})", q.msb_bits),
            );
        }
        if q.lsb_bits != 0 && q.lsb_bits != 4 {
            c.fail(
                "quant.lsb_bits",
                format!("must be 0 or 4 (got {})", q.lsb_bits),
            );
        }
        if q.mode == QuantMode::Progressive && q.lsb_bits == 0 {
            c.fail(
                "quant.lsb_bits",
                "progressive quantization needs LSBs to refetch",
            );
        }
        // Static or progressive, both planes are stored in the one 12-bit word.
        let bits = u64::from(q.msb_bits) + u64::from(q.lsb_bits);
        if bits > 12 {
            c.fail(
                "quant.lsb_bits",
                format!("msb_bits + lsb_bits = {bits} exceeds the 12-bit on-chip word"),
            );
        }
        c.range_f64(
            "quant.requant_threshold",
            q.requant_threshold,
            0.0,
            1.0,
            true,
        );
        self.policy
            .check(c, s.prompt_tokens, self.final_tokens(), m.layers, m.heads);
    }
}
