//! `spatten accuracy`: sentence-similarity accuracy of the model on an STS file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::model::{self, AccuracyReport, BertModel, DenseAttention, StsPair};

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
    let bert = BertModel::load(&args.model)
        .with_context(|| format!("loading model from {}", args.model.display()))?;

    let dense = evaluate_with_progress(&bert, &pairs, "dense", || DenseAttention)?;
    println!("model: {} ({})", bert.name(), args.model.display());
    println!("data: {} ({} pairs)", data.display(), pairs.len());
    println!("Spearman (dense): {:.4}", dense.spearman);
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
