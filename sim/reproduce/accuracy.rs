//! Item 4: accuracy against pruning ratio on the real model: STS-B dev Spearman of
//! all-MiniLM-L6-v2 with the bit-exact reference (quantization, fixed-point softmax, cascade
//! token and head pruning) as the model's attention ([`ReferenceAttention`]), so pruned
//! tokens really leave the later layers.
//!
//! Settings: the `bert-base-sts-b` benchmark's (static 12-bit quantization, the paper's
//! unpruned leading layers: 15 % for tokens, 30 % for heads), with one pruning kind swept at
//! a time. Token pruning uses the benchmarks' ramp of 0.2 (less where the start ratio would
//! go below zero); head pruning has no ramp, as in the base workload. A float run with dense
//! attention is the reference point.

use std::path::{Path, PathBuf};

use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};

use super::benchmarks;
use super::cache::{self, Cache};
use crate::config::{self, WorkloadConfig};
use crate::data_dir::Dataset;
use crate::model::{self, BertModel, DenseAttention, ReferenceAttention, StsPair};

pub const TOKEN_RATIOS: [f64; 5] = [0.0, 0.15, 0.3, 0.45, 0.6];
pub const HEAD_RATIOS: [f64; 2] = [0.2, 0.4];
pub const QUICK_TOKEN_RATIOS: [f64; 3] = [0.0, 0.3, 0.6];
pub const QUICK_HEAD_RATIOS: [f64; 1] = [0.3];
/// Every `PAIR_STRIDE`-th STS-B dev pair is used (500 of 1,500; the file is grouped by genre,
/// so a stride keeps every genre), every `QUICK_PAIR_STRIDE`-th with `--quick` (50). The
/// bit-exact reference runs about 5 ms of CPU per sentence here, so all pairs at every ratio would
/// take the full reproduction well past a few minutes.
pub const PAIR_STRIDE: usize = 3;
pub const QUICK_PAIR_STRIDE: usize = 30;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccuracyRow {
    /// "dense float", "token pruning" or "head pruning".
    pub study: String,
    /// Average cumulative pruning ratio over the pruned layers.
    pub ratio: f64,
    pub pairs: usize,
    pub spearman: f64,
    /// Tokens alive after the last layer over tokens entered, both sides of every pair.
    pub surviving_token_fraction: f64,
}

/// Where the model and the STS-B dev file are.
#[derive(Debug, Clone)]
pub struct Data {
    pub model_dir: PathBuf,
    pub sts: PathBuf,
}

impl Data {
    /// The model and STS-B dev under the data root (`$SPATTEN_DATA`, else `data/`); `None`
    /// when either is missing.
    pub fn locate() -> Option<Data> {
        (Dataset::MiniLm.is_present() && Dataset::StsbDev.is_present()).then(|| Data {
            model_dir: Dataset::MiniLm.path(),
            sts: Dataset::StsbDev.path(),
        })
    }
}

/// (study, ratio, settings); `None` settings = dense float attention.
pub fn configs(quick: bool) -> anyhow::Result<Vec<(String, f64, Option<WorkloadConfig>)>> {
    let base = benchmarks::load("bert-base-sts-b")?.workload;
    let (tokens, heads): (&[f64], &[f64]) = if quick {
        (&QUICK_TOKEN_RATIOS, &QUICK_HEAD_RATIOS)
    } else {
        (&TOKEN_RATIOS, &HEAD_RATIOS)
    };
    let mut v = vec![("dense float".to_string(), 0.0, None)];
    for &r in tokens {
        let mut w = base.clone();
        w.token_pruning.average_ratio = r;
        w.token_pruning.ramp = (2.0 * r).min(0.2);
        w.head_pruning.average_ratio = 0.0;
        w.head_pruning.ramp = 0.0;
        v.push(("token pruning".to_string(), r, Some(w)));
    }
    for &r in heads {
        let mut w = base.clone();
        w.token_pruning.average_ratio = 0.0;
        w.token_pruning.ramp = 0.0;
        w.head_pruning.average_ratio = r;
        w.head_pruning.ramp = 0.0;
        v.push(("head pruning".to_string(), r, Some(w)));
    }
    Ok(v)
}

fn load_pairs(path: &Path, quick: bool) -> anyhow::Result<Vec<StsPair>> {
    let stride = if quick {
        QUICK_PAIR_STRIDE
    } else {
        PAIR_STRIDE
    };
    Ok(model::read_sts(path)?.into_iter().step_by(stride).collect())
}

/// Runs every configuration over the pairs (pairs in parallel), ticking `bar` per config.
/// With a `cache`, a configuration's row is read from it when the same model files, STS-B
/// file, pair selection and settings were evaluated before.
pub fn run(
    data: &Data,
    quick: bool,
    cache: Option<&Cache>,
    bar: &ProgressBar,
) -> anyhow::Result<Vec<AccuracyRow>> {
    let inputs = match cache {
        Some(_) => Some(format!(
            "model {}\nsts {}\nquick {quick}\n",
            cache::hash_dir(&data.model_dir)?,
            cache::hash_path(&data.sts)?
        )),
        None => None,
    };
    let bert = BertModel::load(&data.model_dir)?;
    let pairs = load_pairs(&data.sts, quick)?;
    let mut rows = Vec::new();
    for (study, ratio, settings) in configs(quick)? {
        let row = || -> anyhow::Result<AccuracyRow> {
            evaluate_config(&bert, &pairs, study.clone(), ratio, settings.as_ref())
        };
        rows.push(match (cache, &inputs) {
            (Some(c), Some(inputs)) => {
                let what = settings
                    .as_ref()
                    .map_or("dense float".into(), config::to_toml);
                c.json("accuracy", &[inputs.as_bytes(), what.as_bytes()], row)?
            }
            _ => row()?,
        });
        bar.inc(1);
    }
    Ok(rows)
}

fn evaluate_config(
    bert: &BertModel,
    pairs: &[StsPair],
    study: String,
    ratio: f64,
    settings: Option<&WorkloadConfig>,
) -> anyhow::Result<AccuracyRow> {
    let report = match settings {
        None => model::evaluate(bert, pairs, || DenseAttention, &|| {})?,
        Some(w) => model::evaluate(
            bert,
            pairs,
            || ReferenceAttention::new(w, bert.config()),
            &|| {},
        )?,
    };
    Ok(AccuracyRow {
        study,
        ratio,
        pairs: report.pairs(),
        spearman: report.spearman,
        surviving_token_fraction: report.surviving_tokens as f64 / report.tokens.max(1) as f64,
    })
}
