#!/usr/bin/env python3
"""Capture a spatten value file (per-layer Q, K, V) from a Hugging Face transformer.

The file is what `spatten trace reference --values` and `spatten run --values` read; its
layout is in traces/FORMAT.md ("Value tensor files"). Forward hooks on each layer's Q, K and V
projections record their outputs during one forward pass over the text, which are split into
heads as [heads, tokens, head_dim] float32 arrays.

Needs: torch, transformers, numpy, safetensors (pip install torch transformers safetensors).

  # An encoder (BERT family): summarization of the whole text.
  python3 scripts/capture_values.py --model sentence-transformers/all-MiniLM-L6-v2 \\
      --text traces/minilm-text.txt --out my.values.safetensors

  # A decoder (GPT-2 family): causal; the text is prompt + generated continuation, and
  # --prompt-tokens says where the prompt ends (the rest replays as generation iterations).
  python3 scripts/capture_values.py --model gpt2 --text story.txt --prompt-tokens 96 \\
      --out gpt2.values.safetensors

Then write a workload TOML with the same layers, heads, head_dim, causal flag and token counts
(`spatten trace info my.values.safetensors` prints them) and run
`spatten trace reference --workload W.toml --values my.values.safetensors --out T`.

Supported layouts (picked from `model.config.model_type`):
  - BERT-style self-attention with separate `query`, `key`, `value` Linear modules
    (bert, roberta, xlm-roberta, electra, camembert, ...): non-causal;
  - GPT-2-style fused `c_attn` (gpt2, and models built like it): causal, output split in
    thirds into Q, K, V.
Models with rotary position embeddings (Llama, Mistral, GPT-NeoX, ...) rotate Q and K after
the projection, so projection outputs are not what the softmax sees; they are refused rather
than captured wrongly. Models with fewer K/V heads than Q heads (GQA) are refused too: the
value file stores one shape for Q, K and V.

The hooks record exactly what the model's attention multiplies: for BERT-style models the
text runs unpadded as one sequence, so no attention mask is involved.
"""

import argparse
import os
import sys

import numpy as np

FORMAT = "spatten-values"
VERSION = "1"


def split_heads(x, heads):
    """[tokens, hidden] -> [heads, tokens, hidden / heads], float32 and C-contiguous."""
    x = np.asarray(x, dtype=np.float32)
    tokens, hidden = x.shape
    if hidden % heads:
        raise ValueError(f"hidden size {hidden} is not a multiple of {heads} heads")
    return np.ascontiguousarray(x.reshape(tokens, heads, hidden // heads).transpose(1, 0, 2))


def split_fused_qkv(x, heads):
    """GPT-2's c_attn output [tokens, 3 * hidden] -> (q, k, v), each [heads, tokens, D]."""
    x = np.asarray(x, dtype=np.float32)
    if x.shape[1] % 3:
        raise ValueError(f"fused QKV width {x.shape[1]} is not a multiple of 3")
    q, k, v = np.split(x, 3, axis=1)
    return split_heads(q, heads), split_heads(k, heads), split_heads(v, heads)


def write_values(path, layers, model, source, prompt_tokens, causal, seed=0):
    """Writes layers = [(q, k, v), ...], each [heads, tokens, head_dim], as a value file.

    Checks what the Rust reader checks (equal shapes, finite values, prompt within the tokens)
    so that a bad capture fails here, and writes through a temporary file so an interrupted
    run leaves no partial file.
    """
    from safetensors.numpy import save_file

    if not layers:
        raise ValueError("no layers captured")
    shape = layers[0][0].shape
    if len(shape) != 3 or 0 in shape:
        raise ValueError(f"layers.0.q has shape {shape}, expected [heads, tokens, head_dim]")
    if not 0 < prompt_tokens <= shape[1]:
        raise ValueError(f"prompt_tokens {prompt_tokens} outside 1..{shape[1]}")
    tensors = {}
    for i, qkv in enumerate(layers):
        for name, a in zip("qkv", qkv):
            a = np.ascontiguousarray(a, dtype=np.float32)
            if a.shape != shape:
                raise ValueError(f"layers.{i}.{name} has shape {a.shape}, layers.0.q {shape}")
            if not np.isfinite(a).all():
                raise ValueError(f"layers.{i}.{name} holds a non-finite value")
            tensors[f"layers.{i}.{name}"] = a
    metadata = {
        "format": FORMAT,
        "version": VERSION,
        "model": str(model),
        "source": str(source),
        "seed": str(int(seed)),
        "prompt_tokens": str(int(prompt_tokens)),
        "causal": "true" if causal else "false",
    }
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        save_file(tensors, tmp, metadata=metadata)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


ROTARY_TYPES = {"llama", "mistral", "mixtral", "gpt_neox", "gptj", "qwen2", "phi", "gemma", "falcon"}


def attention_modules(model):
    """Per layer: ('separate', q, k, v) or ('fused', c_attn); plus heads and causal flag."""
    cfg = model.config
    kind = getattr(cfg, "model_type", "")
    if kind in ROTARY_TYPES:
        raise SystemExit(f"{kind}: rotary position embeddings are applied after the Q/K "
                         "projections; capturing projection outputs would be wrong")
    heads = getattr(cfg, "num_attention_heads", None) or getattr(cfg, "n_head", None)
    if getattr(cfg, "num_key_value_heads", heads) != heads:
        raise SystemExit(f"{kind}: {cfg.num_key_value_heads} K/V heads for {heads} Q heads (GQA)")
    separate, fused = {}, {}
    for name, module in model.named_modules():
        parts = name.split(".")
        if parts[-1] in ("query", "key", "value") and len(parts) >= 3 and parts[-2] == "self":
            separate.setdefault(name.rsplit(".", 1)[0], {})[parts[-1]] = module
        elif parts[-1] == "c_attn":
            fused[name] = module
    if separate:
        blocks = [("separate", m["query"], m["key"], m["value"]) for m in separate.values()]
        return blocks, heads, False
    if fused:
        return [("fused", m) for m in fused.values()], heads, True
    raise SystemExit(f"{kind}: found neither BERT-style query/key/value modules nor GPT-2 "
                     "c_attn; add the module names of this model to attention_modules()")


def capture(model_name, text, prompt_tokens=None, max_tokens=None):
    """Runs the model once over `text`; returns (layers, tokens, causal)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_name)
    model = AutoModel.from_pretrained(model_name, torch_dtype=torch.float32).eval()
    blocks, heads, causal = attention_modules(model)
    limit = max_tokens or getattr(model.config, "max_position_embeddings", None) \
        or getattr(model.config, "n_positions", 1024)
    enc = tok(text, return_tensors="pt", truncation=True, max_length=limit)
    n = enc["input_ids"].shape[1]
    if len(tok(text)["input_ids"]) > n:
        print(f"warning: text truncated to {n} tokens", file=sys.stderr)

    outputs = {}

    def hook(key):
        def fn(_module, _inputs, output):
            outputs[key] = output[0].detach().to(torch.float32).cpu().numpy()
        return fn

    handles = []
    for i, block in enumerate(blocks):
        if block[0] == "separate":
            for name, module in zip("qkv", block[1:]):
                handles.append(module.register_forward_hook(hook((i, name))))
        else:
            handles.append(block[1].register_forward_hook(hook((i, "qkv"))))
    try:
        with torch.no_grad():
            model(**enc)
    finally:
        for h in handles:
            h.remove()

    layers = []
    for i, block in enumerate(blocks):
        if block[0] == "separate":
            layers.append(tuple(split_heads(outputs[(i, c)], heads) for c in "qkv"))
        else:
            layers.append(split_fused_qkv(outputs[(i, "qkv")], heads))
    prompt = n if prompt_tokens is None else prompt_tokens
    return layers, prompt, causal


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="Hugging Face model name or local directory")
    p.add_argument("--text", required=True, help="UTF-8 text file")
    p.add_argument("--out", required=True, help="output .safetensors value file")
    p.add_argument("--prompt-tokens", type=int, default=None,
                   help="decoders: tokens of the prompt (default: all, i.e. summarization)")
    p.add_argument("--max-tokens", type=int, default=None,
                   help="truncate to this many tokens (default: the model's positions)")
    a = p.parse_args()
    with open(a.text, encoding="utf-8") as f:
        text = f.read()
    if not text.strip():
        raise SystemExit(f"{a.text}: text is empty")
    layers, prompt, causal = capture(a.model, text, a.prompt_tokens, a.max_tokens)
    write_values(a.out, layers, os.path.basename(a.model.rstrip("/")), os.path.basename(a.text),
                 prompt, causal)
    h, t, d = layers[0][0].shape
    print(f"wrote {a.out}: {len(layers)} layers x {h} heads x {t} tokens x {d} dims "
          f"(prompt {prompt}, causal {str(causal).lower()})")


if __name__ == "__main__":
    main()
