//! The operators eager PyTorch launches for Hugging Face-style attention at batch 1, and the
//! three execution models a baseline can be costed with.
//!
//! The paper timed the models' own attention code (`../shared/spec/baselines.md`: split heads,
//! transpose, matmul, scale, softmax, matmul, transpose back, concat). At batch 1 that code is
//! dominated by per-operator framework cost, not by the matrix multiplies (Fig. 2 of the paper:
//! 73 % of the GPU's attention time is data movement), so a roofline of three ideal kernels
//! (today's [`BaselineModel::IdealKernels`]) is 10-50x too fast. [`BaselineModel::Eager`] lists
//! every operator the code dispatches, each with a fixed cost of its [`OpClass`] plus its own
//! roofline time.
//!
//! Operator lists (our reading of Hugging Face transformers 3.x, contemporary with the paper):
//! - BERT (`BertSelfAttention.forward`): `transpose_for_scores` on Q, K and V (a `view` and a
//!   `permute` each), `key.transpose`, `matmul(Q, K^T)`, `/ sqrt(d)`, `+ attention_mask`,
//!   `softmax`, `dropout` (identity in eval, still dispatched), `matmul(P, V)`, then `permute`,
//!   `contiguous` (a copy of the output) and `view` to merge the heads.
//! - GPT-2 (`Attention.forward` with `use_cache`): `split` of the fused QKV projection,
//!   `split_heads` on Q, K, V (`view` + `permute` each); with a cache, `layer_past[0]`,
//!   `layer_past[1]`, `.transpose`, and `cat` of the past with the new K and V (copies of the
//!   whole cache); `stack` of K^T and V into `present` (another copy of both); then
//!   `matmul(Q, K)`, `/ sqrt(d)`, the causal-mask slice of `bias`, `mask.bool()`, `where`,
//!   `softmax`, `dropout`, `matmul(P, V)`, and `merge_heads` (`permute`, `contiguous`, `view`).
//!
//! Bytes: views move nothing; copies read their inputs and write their output; elementwise
//! operators read and write the score matrix. Operations: only the two matmuls and the
//! softmax-class arithmetic count, with the same rules as [`super::work`], so the total equals
//! the dense-attention count every baseline and SpAtten's throughput use.

use serde::{Deserialize, Serialize};

use super::work::{SOFTMAX_OPS_PER_SCORE, StageWork};

/// How a CPU/GPU baseline is costed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum BaselineModel {
    /// Every operator eager PyTorch dispatches for HF-style attention, each with a fixed cost
    /// fitted to the paper's measurements plus its roofline time: the baseline as the paper
    /// measured it (the default).
    Eager,
    /// Three ideal kernels per layer and step (QxK, softmax, ProbxV) on the roofline, each
    /// with the profile's `kernel_overhead_us`: a lower bound on unfused execution.
    IdealKernels,
    /// One fused attention kernel per layer and step (FlashAttention-style: Q, K, V read once,
    /// the output written once) launched from a CUDA graph: a lower bound on any framework.
    Fused,
}

impl BaselineModel {
    pub const ALL: [BaselineModel; 3] = [
        BaselineModel::Eager,
        BaselineModel::IdealKernels,
        BaselineModel::Fused,
    ];

    pub fn label(self) -> &'static str {
        match self {
            BaselineModel::Eager => "eager",
            BaselineModel::IdealKernels => "ideal-kernels",
            BaselineModel::Fused => "fused",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            BaselineModel::Eager => "eager PyTorch operators, as the paper measured",
            BaselineModel::IdealKernels => "three ideal kernels per layer (roofline bound)",
            BaselineModel::Fused => "one fused kernel per layer, CUDA-graph launch (bound)",
        }
    }
}

/// The cost class of an operator: the paper's Fig. 2 splits the GPU's attention time into
/// split/concat/reshape, transpose + softmax, QxK and ProbxV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpClass {
    /// split, view, permute, select, cat, stack, contiguous: "split/concat/reshape".
    Layout,
    /// transpose, scale, mask, where, softmax, dropout: "transpose + softmax".
    Softmax,
    /// The two matrix multiplies: "QxK" and "ProbxV".
    MatMul,
}

impl OpClass {
    pub const ALL: [OpClass; 3] = [OpClass::Layout, OpClass::Softmax, OpClass::MatMul];

    pub fn label(self) -> &'static str {
        match self {
            OpClass::Layout => "split/concat/reshape",
            OpClass::Softmax => "transpose + softmax",
            OpClass::MatMul => "QxK + ProbxV",
        }
    }
}

/// One dispatched operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Op {
    pub name: &'static str,
    pub class: OpClass,
    pub ops: u64,
    pub bytes: u64,
}

/// Which model's attention code is dispatched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttentionCode {
    /// `BertSelfAttention` (bidirectional, no cache).
    Bert,
    /// GPT-2 `Attention` with `use_cache`; `past` keys are concatenated each step.
    Gpt2 { past: u64 },
}

/// The operators of one layer's attention with `lq` queries against `lk` keys.
pub fn layer_ops(code: AttentionCode, heads: u64, d: u64, lq: u64, lk: u64, e: u64) -> Vec<Op> {
    let h = heads;
    let scores = h * lq * lk;
    let view = |name| Op {
        name,
        class: OpClass::Layout,
        ops: 0,
        bytes: 0,
    };
    let softmax_view = |name| Op {
        name,
        class: OpClass::Softmax,
        ops: 0,
        bytes: 0,
    };
    // Elementwise over the score matrix: read and write it (a mask read is charged as well).
    let elementwise = |name, extra_read: u64| Op {
        name,
        class: OpClass::Softmax,
        ops: 0,
        bytes: e * 2 * scores + extra_read,
    };
    let qk = Op {
        name: "matmul(Q, K^T)",
        class: OpClass::MatMul,
        ops: 2 * h * lq * lk * d,
        bytes: e * h * (lq * d + lk * d + lq * lk),
    };
    let pv = Op {
        name: "matmul(P, V)",
        class: OpClass::MatMul,
        ops: 2 * h * lq * lk * d,
        bytes: e * h * (lq * lk + lk * d + lq * d),
    };
    let softmax = Op {
        name: "softmax",
        class: OpClass::Softmax,
        // The scale and the exp/accumulate/divide of the work count are charged here once.
        ops: SOFTMAX_OPS_PER_SCORE * scores,
        bytes: e * 2 * scores,
    };
    let merge = [
        view("permute (merge heads)"),
        Op {
            name: "contiguous (merge heads)",
            class: OpClass::Layout,
            ops: 0,
            bytes: e * 2 * h * lq * d,
        },
        view("view (merge heads)"),
    ];
    let mut v = Vec::with_capacity(24);
    match code {
        AttentionCode::Bert => {
            for _ in 0..3 {
                v.push(view("view (transpose_for_scores)"));
                v.push(view("permute (transpose_for_scores)"));
            }
            v.push(softmax_view("transpose (K)"));
            v.push(qk);
            v.push(elementwise("div (scale)", 0));
            v.push(elementwise("add (attention mask)", e * lk));
            v.push(softmax);
            v.push(softmax_view("dropout (eval)"));
            v.push(pv);
        }
        AttentionCode::Gpt2 { past } => {
            v.push(view("split (QKV)"));
            for _ in 0..3 {
                v.push(view("view (split_heads)"));
                v.push(view("permute (split_heads)"));
            }
            if past > 0 {
                v.push(view("select (layer_past[0])"));
                v.push(view("select (layer_past[1])"));
                v.push(view("transpose (past key)"));
                for name in ["cat (K cache)", "cat (V cache)"] {
                    v.push(Op {
                        name,
                        class: OpClass::Layout,
                        ops: 0,
                        bytes: e * h * d * (past + lq + lk),
                    });
                }
            }
            v.push(view("transpose (present key)"));
            v.push(Op {
                name: "stack (present)",
                class: OpClass::Layout,
                ops: 0,
                bytes: e * h * d * 4 * lk,
            });
            v.push(qk);
            v.push(elementwise("div (scale)", 0));
            v.push(softmax_view("slice (causal mask)"));
            v.push(Op {
                name: "bool (causal mask)",
                class: OpClass::Softmax,
                ops: 0,
                bytes: 2 * lq * lk,
            });
            v.push(elementwise("where (causal mask)", lq * lk));
            v.push(softmax);
            v.push(softmax_view("dropout (eval)"));
            v.push(pv);
        }
    }
    v.extend(merge);
    v
}

/// The code a workload's stage dispatches: GPT-2's for causal models, BERT's otherwise.
pub fn attention_code(causal: bool, queries: u64, keys: u64) -> AttentionCode {
    if causal {
        AttentionCode::Gpt2 {
            past: keys - queries,
        }
    } else {
        AttentionCode::Bert
    }
}

/// Every operator of a stage, per step: (repeats, operators of one layer).
pub fn stage_ops(
    stage: &StageWork,
    causal: bool,
    heads: u64,
    head_dim: u64,
    e: u64,
) -> Vec<(u64, Vec<Op>)> {
    stage
        .steps
        .iter()
        .map(|s| {
            let code = attention_code(causal, s.queries, s.keys);
            (
                s.repeats,
                layer_ops(code, heads, head_dim, s.queries, s.keys, e),
            )
        })
        .collect()
}

/// Bytes a fused attention kernel moves for one layer: Q, K and V read once, O written once.
pub fn fused_bytes(heads: u64, d: u64, lq: u64, lk: u64, e: u64) -> u64 {
    e * heads * d * (2 * lq + 2 * lk)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::work::step_kernels;

    fn totals(ops: &[Op]) -> (u64, u64) {
        (
            ops.iter().map(|o| o.ops).sum(),
            ops.iter().map(|o| o.bytes).sum(),
        )
    }

    #[test]
    fn operations_equal_the_dense_count() {
        for (code, lq, lk) in [
            (AttentionCode::Bert, 128, 128),
            (AttentionCode::Gpt2 { past: 0 }, 992, 992),
            (AttentionCode::Gpt2 { past: 1000 }, 1, 1001),
        ] {
            let ops = layer_ops(code, 12, 64, lq, lk, 4);
            let dense: u64 = step_kernels(12, 64, lq, lk, 4).iter().map(|k| k.ops).sum();
            assert_eq!(totals(&ops).0, dense, "{code:?}");
        }
    }

    #[test]
    fn operator_counts_follow_the_hf_code() {
        let count = |code| {
            let ops = layer_ops(code, 12, 64, 1, 1001, 4);
            OpClass::ALL.map(|c| ops.iter().filter(|o| o.class == c).count())
        };
        // BERT: 6 + 3 layout, transpose/div/add/softmax/dropout, two matmuls.
        assert_eq!(count(AttentionCode::Bert), [9, 5, 2]);
        // GPT-2 with a cache: split, 6 split_heads, 3 past views, 2 cat, transpose, stack, 3
        // merge; div, slice, bool, where, softmax, dropout; two matmuls.
        assert_eq!(count(AttentionCode::Gpt2 { past: 1000 }), [17, 6, 2]);
        assert_eq!(count(AttentionCode::Gpt2 { past: 0 }), [12, 6, 2]);
    }

    #[test]
    fn generation_copies_the_whole_cache_three_times() {
        let (h, d, e, lk) = (16u64, 64u64, 4u64, 1024u64);
        let ops = layer_ops(AttentionCode::Gpt2 { past: lk - 1 }, h, d, 1, lk, e);
        let layout: u64 = ops
            .iter()
            .filter(|o| o.class == OpClass::Layout)
            .map(|o| o.bytes)
            .sum();
        // cat K + cat V: read past + new, write all (2 Lk each); stack: read and write K and V.
        let expected = 2 * e * h * d * 2 * lk + e * h * d * 4 * lk + e * 2 * h * d;
        assert_eq!(layout, expected);
    }
}
