//! The paper's 30 benchmarks (the SpAtten paper's evaluation) as workload files in `workloads/benchmarks/`,
//! embedded so the command runs from any directory. Each file says where its input length
//! comes from and which pruning and quantization rule it follows.

use std::path::Path;

use crate::config::{self, ConfigError, ConfigKind, WorkloadConfig};

/// (name, TOML text), in the order of the paper's figures: BERT-base, BERT-large (9 GLUE
/// tasks and SQuAD v1.1 / v2.0 each), GPT-2-small, GPT-2-medium (4 language-modelling sets).
pub const BENCHMARKS: &[(&str, &str)] = &[
    (
        "bert-base-cola",
        include_str!("../../workloads/benchmarks/bert-base-cola.toml"),
    ),
    (
        "bert-base-mnli-m",
        include_str!("../../workloads/benchmarks/bert-base-mnli-m.toml"),
    ),
    (
        "bert-base-mnli-mm",
        include_str!("../../workloads/benchmarks/bert-base-mnli-mm.toml"),
    ),
    (
        "bert-base-mrpc",
        include_str!("../../workloads/benchmarks/bert-base-mrpc.toml"),
    ),
    (
        "bert-base-qnli",
        include_str!("../../workloads/benchmarks/bert-base-qnli.toml"),
    ),
    (
        "bert-base-qqp",
        include_str!("../../workloads/benchmarks/bert-base-qqp.toml"),
    ),
    (
        "bert-base-rte",
        include_str!("../../workloads/benchmarks/bert-base-rte.toml"),
    ),
    (
        "bert-base-sst-2",
        include_str!("../../workloads/benchmarks/bert-base-sst-2.toml"),
    ),
    (
        "bert-base-sts-b",
        include_str!("../../workloads/benchmarks/bert-base-sts-b.toml"),
    ),
    (
        "bert-base-squad-v1.1",
        include_str!("../../workloads/benchmarks/bert-base-squad-v1.1.toml"),
    ),
    (
        "bert-base-squad-v2.0",
        include_str!("../../workloads/benchmarks/bert-base-squad-v2.0.toml"),
    ),
    (
        "bert-large-cola",
        include_str!("../../workloads/benchmarks/bert-large-cola.toml"),
    ),
    (
        "bert-large-mnli-m",
        include_str!("../../workloads/benchmarks/bert-large-mnli-m.toml"),
    ),
    (
        "bert-large-mnli-mm",
        include_str!("../../workloads/benchmarks/bert-large-mnli-mm.toml"),
    ),
    (
        "bert-large-mrpc",
        include_str!("../../workloads/benchmarks/bert-large-mrpc.toml"),
    ),
    (
        "bert-large-qnli",
        include_str!("../../workloads/benchmarks/bert-large-qnli.toml"),
    ),
    (
        "bert-large-qqp",
        include_str!("../../workloads/benchmarks/bert-large-qqp.toml"),
    ),
    (
        "bert-large-rte",
        include_str!("../../workloads/benchmarks/bert-large-rte.toml"),
    ),
    (
        "bert-large-sst-2",
        include_str!("../../workloads/benchmarks/bert-large-sst-2.toml"),
    ),
    (
        "bert-large-sts-b",
        include_str!("../../workloads/benchmarks/bert-large-sts-b.toml"),
    ),
    (
        "bert-large-squad-v1.1",
        include_str!("../../workloads/benchmarks/bert-large-squad-v1.1.toml"),
    ),
    (
        "bert-large-squad-v2.0",
        include_str!("../../workloads/benchmarks/bert-large-squad-v2.0.toml"),
    ),
    (
        "gpt2-small-wikitext-2",
        include_str!("../../workloads/benchmarks/gpt2-small-wikitext-2.toml"),
    ),
    (
        "gpt2-small-wikitext-103",
        include_str!("../../workloads/benchmarks/gpt2-small-wikitext-103.toml"),
    ),
    (
        "gpt2-small-ptb",
        include_str!("../../workloads/benchmarks/gpt2-small-ptb.toml"),
    ),
    (
        "gpt2-small-1bw",
        include_str!("../../workloads/benchmarks/gpt2-small-1bw.toml"),
    ),
    (
        "gpt2-medium-wikitext-2",
        include_str!("../../workloads/benchmarks/gpt2-medium-wikitext-2.toml"),
    ),
    (
        "gpt2-medium-wikitext-103",
        include_str!("../../workloads/benchmarks/gpt2-medium-wikitext-103.toml"),
    ),
    (
        "gpt2-medium-ptb",
        include_str!("../../workloads/benchmarks/gpt2-medium-ptb.toml"),
    ),
    (
        "gpt2-medium-1bw",
        include_str!("../../workloads/benchmarks/gpt2-medium-1bw.toml"),
    ),
];

/// The benchmarks `--quick` runs: one short and one long BERT input per model. GPT-2 runs in
/// quick mode with a shortened prompt instead ([`quick_gpt2`]).
pub const QUICK: &[&str] = &["bert-base-sst-2", "bert-base-mrpc", "bert-large-sst-2"];

#[derive(Debug, Clone)]
pub struct Benchmark {
    pub name: String,
    /// "BERT-base", "BERT-large", "GPT-2-small", "GPT-2-medium".
    pub model: String,
    pub workload: WorkloadConfig,
}

fn model_label(name: &str) -> &'static str {
    if name.starts_with("bert-base") {
        "BERT-base"
    } else if name.starts_with("bert-large") {
        "BERT-large"
    } else if name.starts_with("gpt2-small") {
        "GPT-2-small"
    } else {
        "GPT-2-medium"
    }
}

/// Loads one embedded benchmark by name.
pub fn load(name: &str) -> Result<Benchmark, ConfigError> {
    let (_, text) = BENCHMARKS.iter().find(|(n, _)| *n == name).ok_or_else(|| {
        ConfigError::new(
            Path::new(name),
            None,
            "no such benchmark in workloads/benchmarks/".to_string(),
        )
    })?;
    let label = format!("workloads/benchmarks/{name}.toml");
    let workload: WorkloadConfig =
        config::load_from_str(text, Path::new(&label), ConfigKind::Workload)?;
    Ok(Benchmark {
        name: name.to_string(),
        model: model_label(name).to_string(),
        workload,
    })
}

/// All 30 benchmarks (or the quick subset plus a shortened GPT-2-small), in order.
pub fn load_all(quick: bool) -> Result<Vec<Benchmark>, ConfigError> {
    if quick {
        let mut v: Vec<Benchmark> = QUICK.iter().map(|n| load(n)).collect::<Result<_, _>>()?;
        v.push(quick_gpt2(load("gpt2-small-wikitext-2")?));
        Ok(v)
    } else {
        BENCHMARKS.iter().map(|(n, _)| load(n)).collect()
    }
}

/// The baseline fit ([`crate::baseline::fit`]) over the paper's 30 benchmarks and the
/// GPT-2 presets its anchors are defined on.
pub fn baseline_fit() -> anyhow::Result<crate::baseline::fit::Fit> {
    let all: Vec<WorkloadConfig> = load_all(false)?.into_iter().map(|b| b.workload).collect();
    Ok(crate::baseline::fit::fit(
        &config::load_workload("gpt2-medium")?,
        &config::load_workload("gpt2-small")?,
        &all,
    )?)
}

/// GPT-2-small with a 128-token prompt and 8 generated tokens: the same pruning and
/// quantization rules at a size the quick run (CI) can simulate in a few seconds.
pub fn quick_gpt2(mut b: Benchmark) -> Benchmark {
    b.workload.stage.prompt_tokens = 128;
    b.workload.stage.generated_tokens = 8;
    b.name = format!("{}-quick", b.name);
    b.workload.name = b.name.clone();
    b
}
