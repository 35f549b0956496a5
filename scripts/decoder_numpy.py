#!/usr/bin/env python3
"""Independent float64 forward pass of a GPT-2- or Llama-style Hugging Face checkpoint.

Shares no code with the Rust decoder (sim/model/decoder.rs): written from the model
definitions (GPT-2: Radford et al. 2019 and transformers' modeling_gpt2; Llama: RMSNorm,
rotate-half RoPE, SwiGLU, grouped-query attention) in plain numpy, all in float64. Used by
tests/decoder_numpy.rs to check the Rust logits and perplexity.

    python3 scripts/decoder_numpy.py --model models/tiny-gpt2 --windows ids.json --out out.json

`ids.json` is a JSON list of token-id windows. `out.json` gets, per window, the log-probability
of every next token (positions 1..len-1) and the argmax prediction, and the full logits of the
first window. With --torch, and when torch and transformers import, the first window's logits
of GPT2LMHeadModel / LlamaForCausalLM loaded from the same folder are added (float64).
Needs numpy and safetensors only.
"""

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file


def load_tensors(model_dir: Path):
    single = model_dir / "model.safetensors"
    if single.is_file():
        files = [single]
    else:
        index = json.loads((model_dir / "model.safetensors.index.json").read_text())
        files = sorted({model_dir / f for f in index["weight_map"].values()})
    out = {}
    for f in files:
        for k, v in load_file(str(f)).items():
            out[k] = v.astype(np.float64)
    return out


def layer_norm(x, g, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def rms_norm(x, g, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * g


def softmax(x):
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


def causal_mha(q, k, v):
    """q: [H, T, d]; k, v: [H, T, d] (already expanded to the query heads)."""
    d = q.shape[-1]
    s = q @ k.transpose(0, 2, 1) / math.sqrt(d)
    t = q.shape[1]
    s = np.where(np.tril(np.ones((t, t), dtype=bool)), s, -np.inf)
    return softmax(s) @ v


def gpt2_logits(w, cfg, ids):
    p = "transformer." if "transformer.wte.weight" in w else ""
    h, nh = cfg["n_embd"], cfg["n_head"]
    d = h // nh
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    act = cfg.get("activation_function", "gelu_new")
    t = len(ids)
    x = w[p + "wte.weight"][ids] + w[p + "wpe.weight"][:t]
    for l in range(cfg["n_layer"]):
        b = f"{p}h.{l}."
        a = layer_norm(x, w[b + "ln_1.weight"], w[b + "ln_1.bias"], eps)
        qkv = a @ w[b + "attn.c_attn.weight"] + w[b + "attn.c_attn.bias"]  # Conv1D: [in, out]
        q, k, v = (qkv[:, i * h:(i + 1) * h].reshape(t, nh, d).transpose(1, 0, 2) for i in range(3))
        ctx = causal_mha(q, k, v).transpose(1, 0, 2).reshape(t, h)
        x = x + ctx @ w[b + "attn.c_proj.weight"] + w[b + "attn.c_proj.bias"]
        m = layer_norm(x, w[b + "ln_2.weight"], w[b + "ln_2.bias"], eps)
        u = m @ w[b + "mlp.c_fc.weight"] + w[b + "mlp.c_fc.bias"]
        if act == "gelu":
            from math import erf
            u = 0.5 * u * (1 + np.vectorize(erf)(u / math.sqrt(2)))
        else:
            u = 0.5 * u * (1 + np.tanh(math.sqrt(2 / math.pi) * (u + 0.044715 * u ** 3)))
        x = x + u @ w[b + "mlp.c_proj.weight"] + w[b + "mlp.c_proj.bias"]
    x = layer_norm(x, w[p + "ln_f.weight"], w[p + "ln_f.bias"], eps)
    head = w.get("lm_head.weight", w[p + "wte.weight"])
    return x @ head.T


def llama_logits(w, cfg, ids):
    h, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads", nh)
    d = cfg.get("head_dim") or h // nh
    eps = cfg.get("rms_norm_eps", 1e-6)
    theta = cfg.get("rope_theta") or (cfg.get("rope_parameters") or {}).get("rope_theta", 10000.0)
    t = len(ids)
    inv = 1.0 / theta ** (np.arange(0, d, 2, dtype=np.float64) / d)
    ang = np.arange(t, dtype=np.float64)[:, None] * inv[None, :]  # [T, d/2]
    cos = np.concatenate([np.cos(ang)] * 2, -1)
    sin = np.concatenate([np.sin(ang)] * 2, -1)

    def rot(z):  # z: [heads, T, d]
        z1, z2 = z[..., : d // 2], z[..., d // 2:]
        return z * cos + np.concatenate([-z2, z1], -1) * sin

    def lin(a, name):
        y = a @ w[name + ".weight"].T
        return y + w[name + ".bias"] if name + ".bias" in w else y

    x = w["model.embed_tokens.weight"][ids]
    for l in range(cfg["num_hidden_layers"]):
        b = f"model.layers.{l}."
        a = rms_norm(x, w[b + "input_layernorm.weight"], eps)
        q = lin(a, b + "self_attn.q_proj").reshape(t, nh, d).transpose(1, 0, 2)
        k = lin(a, b + "self_attn.k_proj").reshape(t, nkv, d).transpose(1, 0, 2)
        v = lin(a, b + "self_attn.v_proj").reshape(t, nkv, d).transpose(1, 0, 2)
        q, k = rot(q), rot(k)
        rep = nh // nkv
        k, v = np.repeat(k, rep, axis=0), np.repeat(v, rep, axis=0)
        ctx = causal_mha(q, k, v).transpose(1, 0, 2).reshape(t, nh * d)
        x = x + lin(ctx, b + "self_attn.o_proj")
        m = rms_norm(x, w[b + "post_attention_layernorm.weight"], eps)
        g = lin(m, b + "mlp.gate_proj")
        x = x + lin(g / (1 + np.exp(-g)) * lin(m, b + "mlp.up_proj"), b + "mlp.down_proj")
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["lm_head.weight"] if "lm_head.weight" in w else w["model.embed_tokens.weight"]
    return x @ head.T


def log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def torch_logits(model_dir: Path, cfg, ids):
    try:
        import torch
        from transformers import GPT2LMHeadModel, LlamaForCausalLM
    except Exception as e:  # noqa: BLE001 - any import failure means "not available"
        return None, f"torch/transformers not importable ({type(e).__name__})"
    cls = GPT2LMHeadModel if cfg["model_type"] == "gpt2" else LlamaForCausalLM
    model = cls.from_pretrained(str(model_dir), dtype=torch.float64).eval()
    with torch.no_grad():
        out = model(torch.tensor([ids])).logits[0].numpy()
    return out, None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, type=Path)
    ap.add_argument("--windows", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--torch", action="store_true")
    args = ap.parse_args()
    cfg = json.loads((args.model / "config.json").read_text())
    w = load_tensors(args.model)
    forward = {"gpt2": gpt2_logits, "llama": llama_logits}.get(cfg.get("model_type"))
    if forward is None:
        sys.exit(f"error: model_type {cfg.get('model_type')!r} is not gpt2 or llama")
    windows = json.loads(args.windows.read_text())
    result = {"logprobs": [], "top1": []}
    for i, ids in enumerate(windows):
        logits = forward(w, cfg, np.asarray(ids))
        lp = log_softmax(logits[:-1])
        result["logprobs"].append([float(lp[j, ids[j + 1]]) for j in range(len(ids) - 1)])
        result["top1"].append([int(a) for a in logits[:-1].argmax(-1)])
        if i == 0:
            result["logits"] = logits.tolist()
    if args.torch:
        t, why = torch_logits(args.model, cfg, windows[0])
        if t is None:
            result["torch_skipped"] = why
        else:
            result["torch_logits"] = t.tolist()
    args.out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
