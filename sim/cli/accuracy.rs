//! `spatten accuracy`: sentence-similarity accuracy of the model on an STS file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::config;
use crate::model::{self, AccuracyReport, BertModel, DenseAttention, ReferenceAttention, StsPair};

/// STS-B dev, relative to the directory the command runs in (the repository root).
const DEFAULT_DATA: &str = "../shared/data/stsb/sts-dev.tsv";

#[derive(Debug, Args)]
pub struct AccuracyArgs {
    /// Model directory (config.json, vocab.txt, model.safetensors); scripts/fetch-model.sh
    /// downloads all-MiniLM-L6-v2.
    #[arg(long)]
    pub model: PathBuf,
    /// Tab-separated STS file (genre, file, year, id, score, sentence1, sentence2).
    /// Default: ../shared/data/stsb/sts-dev.tsv.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Use only the first N pairs.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Also run with this workload's pruning and quantization settings in the loop (the
    /// bit-exact reference as the model's attention, on the model's own shape) and compare.
    #[arg(long)]
    pub workload: Option<String>,
}

pub fn run(args: AccuracyArgs) -> anyhow::Result<ExitCode> {
    let data = match args.data {
        Some(p) => p,
        None if Path::new(DEFAULT_DATA).is_file() => PathBuf::from(DEFAULT_DATA),
        None => bail!(
            "no STS file given and the default {DEFAULT_DATA} does not exist here; \
             pass --data FILE"
        ),
    };
    let mut pairs = model::read_sts(&data)?;
    if let Some(n) = args.limit {
        pairs.truncate(n);
    }
    let settings = args
        .workload
        .as_deref()
        .map(config::load_workload)
        .transpose()?;
    let bert = BertModel::load(&args.model)
        .with_context(|| format!("loading model from {}", args.model.display()))?;

    let dense = evaluate_with_progress(&bert, &pairs, "dense", || DenseAttention)?;
    println!("model: {} ({})", bert.name(), args.model.display());
    println!("data: {} ({} pairs)", data.display(), pairs.len());
    println!("Spearman (dense): {:.4}", dense.spearman);
    if let Some(w) = settings {
        let cfg = bert.config().clone();
        let pruned =
            evaluate_with_progress(&bert, &pairs, &w.name, || ReferenceAttention::new(&w, &cfg))?;
        let drift = model::embedding_drift(&dense, &pruned)?;
        println!(
            "Spearman ({}: token pruning {:.2}, head pruning {:.2}, {:?} {}+{} bit): {:.4} ({:+.4})",
            w.name,
            w.token_pruning.average_ratio,
            w.head_pruning.average_ratio,
            w.quant.mode,
            w.quant.msb_bits,
            w.quant.lsb_bits,
            pruned.spearman,
            pruned.spearman - dense.spearman
        );
        println!(
            "tokens surviving the last layer: {:.1} % of {}",
            100.0 * pruned.surviving_tokens as f64 / pruned.tokens.max(1) as f64,
            pruned.tokens
        );
        println!(
            "embedding cosine drift vs dense: mean {:.4}, worst {:.4}",
            drift.mean_cosine, drift.min_cosine
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs [`model::evaluate`] with a progress bar on stderr (hidden when not a terminal).
fn evaluate_with_progress<F, K>(
    bert: &BertModel,
    pairs: &[StsPair],
    label: &str,
    factory: F,
) -> anyhow::Result<AccuracyReport>
where
    F: Fn() -> K + Sync,
    K: model::AttentionKernel,
{
    let bar = ProgressBar::new(pairs.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} pairs ({eta})")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_message(label.to_string());
    let report = model::evaluate(bert, pairs, factory, &|| bar.inc(1));
    bar.finish_and_clear();
    Ok(report?)
}
