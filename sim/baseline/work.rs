//! The work of dense attention: operations and bytes per kernel, per stage.
//!
//! Counting rules (the paper counts the operations of the dense, unpruned attention, so the
//! same counts serve every baseline and SpAtten's effective throughput):
//! - QxK: one multiply and one add per (query, key, dimension): `2 Lq Lk D` per head.
//! - Softmax: [`SOFTMAX_OPS_PER_SCORE`] operations per score (scale by 1/sqrt(D), exp,
//!   accumulate, divide), `4 Lq Lk` per head.
//! - ProbxV: `2 Lq Lk D` per head.
//! - The causal mask does not reduce the count: a dense baseline computes the whole L x L
//!   score matrix and masks it.
//!
//! Bytes are the minimum traffic of the three unfused kernels a framework runs per layer
//! (heads batched into one kernel each), each operand read once and each result written once,
//! `e` bytes per element: QxK reads Q and K and writes S; softmax reads S and writes P; ProbxV
//! reads P and V and writes O.
//!
//! Summarization: one step per layer with `Lq = Lk = prompt_tokens`. Generation: the prompt's
//! summarization, then per generated token `i` (0-based) and per layer one step with `Lq = 1`
//! and `Lk = prompt_tokens + i + 1` (the new token attends to the cache and itself).
//! A batch of B sequences (`stage.batch`) runs every kernel over `B x heads` heads.

use serde::{Deserialize, Serialize};

use crate::config::WorkloadConfig;
use crate::config::workload::StageKind;

/// Softmax operations counted per score: scale, exp, accumulate, divide.
pub const SOFTMAX_OPS_PER_SCORE: u64 = 4;
/// Kernels a framework launches per layer and step: QxK, softmax, ProbxV.
pub const KERNELS_PER_STEP: u64 = 3;

/// Element precision of a baseline's tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Precision {
    /// 32-bit floats, as the paper's CPU/GPU baselines ran.
    Fp32,
    /// 16-bit floats.
    Fp16,
}

impl Precision {
    pub fn bytes(self) -> u64 {
        match self {
            Precision::Fp32 => 4,
            Precision::Fp16 => 2,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Fp16 => "fp16",
        }
    }
}

/// Which stage a result or a work count describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StageKindLabel {
    Summarization,
    Generation,
}

impl StageKindLabel {
    pub fn label(self) -> &'static str {
        match self {
            StageKindLabel::Summarization => "summarization",
            StageKindLabel::Generation => "generation",
        }
    }
}

/// One kernel's operations and bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelWork {
    pub name: &'static str,
    pub ops: u64,
    pub bytes: u64,
}

/// One layer's attention at one step (all heads), repeated `repeats` times (the layers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepWork {
    pub queries: u64,
    pub keys: u64,
    pub repeats: u64,
    pub kernels: [KernelWork; KERNELS_PER_STEP as usize],
}

/// The work of one stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageWork {
    pub stage: StageKindLabel,
    pub steps: Vec<StepWork>,
}

impl StageWork {
    pub fn ops(&self) -> u64 {
        self.steps
            .iter()
            .map(|s| s.repeats * s.kernels.iter().map(|k| k.ops).sum::<u64>())
            .sum()
    }

    pub fn bytes(&self) -> u64 {
        self.steps
            .iter()
            .map(|s| s.repeats * s.kernels.iter().map(|k| k.bytes).sum::<u64>())
            .sum()
    }

    pub fn kernels(&self) -> u64 {
        self.steps
            .iter()
            .map(|s| s.repeats * KERNELS_PER_STEP)
            .sum()
    }
}

/// The three kernels of one layer with `heads` heads, `lq` queries against `lk` keys.
pub fn step_kernels(
    heads: u64,
    head_dim: u64,
    lq: u64,
    lk: u64,
    elem_bytes: u64,
) -> [KernelWork; 3] {
    let (h, d, e) = (heads, head_dim, elem_bytes);
    [
        KernelWork {
            name: "qk",
            ops: 2 * h * lq * lk * d,
            bytes: e * h * (lq * d + lk * d + lq * lk),
        },
        KernelWork {
            name: "softmax",
            ops: SOFTMAX_OPS_PER_SCORE * h * lq * lk,
            bytes: e * h * 2 * lq * lk,
        },
        KernelWork {
            name: "pv",
            ops: 2 * h * lq * lk * d,
            bytes: e * h * (lq * lk + lk * d + lq * d),
        },
    ]
}

/// The dense attention work of a workload, one entry per stage it runs (summarization, then
/// generation for a generation workload).
pub fn attention_work(w: &WorkloadConfig, precision: Precision) -> Vec<StageWork> {
    // A batch's sequences are independent heads to a batched kernel (its grid is
    // batch x heads): the same launches, batch times the work and the K/V bytes.
    work_for_shape(
        w.model.layers as u64,
        w.model.heads as u64 * w.stage.batch as u64,
        w.model.head_dim as u64,
        w.stage.kind,
        w.stage.prompt_tokens as u64,
        w.stage.generated_tokens as u64,
        precision,
    )
}

/// [`attention_work`] from the bare shape (also used to check result files written elsewhere).
pub fn work_for_shape(
    layers: u64,
    heads: u64,
    head_dim: u64,
    kind: StageKind,
    prompt: u64,
    generated: u64,
    precision: Precision,
) -> Vec<StageWork> {
    let (d, e) = (head_dim, precision.bytes());
    let mut stages = vec![StageWork {
        stage: StageKindLabel::Summarization,
        steps: vec![StepWork {
            queries: prompt,
            keys: prompt,
            repeats: layers,
            kernels: step_kernels(heads, d, prompt, prompt, e),
        }],
    }];
    if kind == StageKind::Generation {
        let steps = (0..generated)
            .map(|i| {
                let lk = prompt + i + 1;
                StepWork {
                    queries: 1,
                    keys: lk,
                    repeats: layers,
                    kernels: step_kernels(heads, d, 1, lk, e),
                }
            })
            .collect();
        stages.push(StageWork {
            stage: StageKindLabel::Generation,
            steps,
        });
    }
    stages
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_workload;

    #[test]
    fn summarization_matches_closed_form() {
        let w = load_workload("bert-base").unwrap();
        let s = attention_work(&w, Precision::Fp32);
        assert_eq!(s.len(), 1);
        let (n, h, l, d) = (12u64, 12u64, 128u64, 64u64);
        // Per layer: H L^2 (4D + 4) ops; 4 H (4 L D + 4 L^2) bytes.
        assert_eq!(s[0].ops(), n * h * l * l * (4 * d + 4));
        assert_eq!(s[0].bytes(), n * 4 * h * (4 * l * d + 4 * l * l));
        assert_eq!(s[0].kernels(), 3 * n);
    }

    #[test]
    fn generation_sums_the_growing_cache() {
        let w = load_workload("gpt2-small").unwrap();
        let s = attention_work(&w, Precision::Fp16);
        assert_eq!(s.len(), 2);
        let (n, h, d, p, g) = (12u64, 12u64, 64u64, 992u64, 32u64);
        // sum over Lk = p+1 ..= p+g of H Lk (4D + 4), per layer.
        let sum_lk: u64 = (p + 1..=p + g).sum();
        assert_eq!(sum_lk, g * (2 * p + g + 1) / 2);
        assert_eq!(s[1].ops(), n * h * sum_lk * (4 * d + 4));
        // bytes per step: e H (2D + 2 Lk D + 4 Lk).
        assert_eq!(s[1].bytes(), n * 2 * h * (g * 2 * d + sum_lk * (2 * d + 4)));
        assert_eq!(s[1].kernels(), 3 * n * g);
        assert_eq!(s[1].steps.first().unwrap().keys, 993);
        assert_eq!(s[1].steps.last().unwrap().keys, 1024);
    }
}
