//! `spatten trace capture --model DECODER`: Q/K/V of every layer of a GPT-2 / Llama decoder
//! on a text, a prompt then teacher-forced generation steps, as a value file that
//! `spatten run --values` and `spatten trace reference` replay.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::model::{DecoderArch, DecoderModel, capture_decoder};

pub fn run(dir: &Path, text_path: &Path, out: &Path, generated: usize) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(text_path)
        .with_context(|| format!("{}: cannot read text file", text_path.display()))?;
    let model =
        DecoderModel::load(dir).with_context(|| format!("loading model from {}", dir.display()))?;
    let cfg = model.config().clone();
    let mut ids = model.encode(&text)?;
    if ids.len() > cfg.max_positions {
        eprintln!(
            "warning: {}: {} tokens exceed the model's {} positions; truncated to the first {}",
            text_path.display(),
            ids.len(),
            cfg.max_positions,
            cfg.max_positions
        );
        ids.truncate(cfg.max_positions);
    }
    if generated == 0 || generated >= ids.len() {
        bail!(
            "--generated {generated} must lie in 1..{} ({}: {} tokens, and the prompt needs one)",
            ids.len(),
            text_path.display(),
            ids.len()
        );
    }
    let prompt = ids.len() - generated;
    let values = capture_decoder(&model, &ids, prompt)
        .with_context(|| format!("{}: capturing with {}", text_path.display(), dir.display()))?;
    let values = super::trace::write_captured(values, text_path, out)?;
    println!(
        "wrote {}: {} ({}) on {}: {} layers x {} heads ({} K/V heads) x {} tokens ({prompt} \
         prompt + {generated} generated) x {} dims",
        out.display(),
        values.meta.model,
        dir.display(),
        values.meta.source,
        values.layers.len(),
        values.heads(),
        values.kv_heads(),
        values.tokens(),
        values.head_dim()
    );
    let positional = match cfg.arch {
        DecoderArch::Gpt2 => "learned",
        DecoderArch::Llama => "rope",
    };
    println!(
        "replay it with a workload of this shape (e.g. base = \"gpt2-small\"):\n\
         [model]\nlayers = {}\nheads = {}\nkv_heads = {}\nhead_dim = {}\nhidden = {}\n\
         causal = true\npositional = \"{positional}\"\n[stage]\nkind = \"generation\"\n\
         prompt_tokens = {prompt}\ngenerated_tokens = {generated}",
        cfg.num_layers,
        cfg.num_heads,
        cfg.num_kv_heads,
        cfg.head_dim,
        cfg.num_heads * cfg.head_dim
    );
    Ok(ExitCode::SUCCESS)
}
