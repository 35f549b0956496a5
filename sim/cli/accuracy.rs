//! `spatten accuracy`: sentence-similarity accuracy of the model on an STS file.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::config;
use crate::data_dir::Dataset;
use crate::model::{self, AccuracyReport, BertModel, DenseAttention, ReferenceAttention, StsPair};

#[derive(Debug, Args)]
pub struct AccuracyArgs {
    /// Model directory (config.json, vocab.txt, model.safetensors). Default:
    /// models/all-MiniLM-L6-v2 under $SPATTEN_DATA (else ./data), where
    /// scripts/fetch-model.sh puts it.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Tab-separated STS file (genre, file, year, id, score, sentence1, sentence2).
    /// Default: data/stsb/sts-dev.tsv under $SPATTEN_DATA (else ./data).
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
    let data = or_default(args.data, Dataset::StsbDev, "--data FILE")?;
    let model_dir = or_default(args.model, Dataset::MiniLm, "--model DIR")?;
    let mut pairs = model::read_sts(&data)?;
    if let Some(n) = args.limit {
        pairs.truncate(n);
    }
    let settings = args
        .workload
        .as_deref()
        .map(config::load_workload)
        .transpose()?;
    let bert = BertModel::load(&model_dir)
        .with_context(|| format!("loading model from {}", model_dir.display()))?;

    let dense = evaluate_with_progress(&bert, &pairs, "dense", || DenseAttention)?;
    println!("model: {} ({})", bert.name(), model_dir.display());
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

/// The path given on the command line, else the data set's place under the data root.
fn or_default(given: Option<PathBuf>, dataset: Dataset, flag: &str) -> anyhow::Result<PathBuf> {
    match given {
        Some(p) => Ok(p),
        None if dataset.is_present() => Ok(dataset.path()),
        None => bail!("no {flag} given and {}", dataset.missing_message()),
    }
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
