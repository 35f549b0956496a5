#!/usr/bin/env python3
"""Independent float64 numpy implementation of all-MiniLM-L6-v2 sentence embeddings, used to
write the golden file the Rust f32 encoder is checked against.

    pip install numpy scipy safetensors tokenizers
    OPENBLAS_NUM_THREADS=1 python3 scripts/gen-embedding-golden.py [MODEL_DIR] [STS_FILE]

(one BLAS thread: the matrices are tiny and threaded BLAS spins on a busy machine; the whole
run then takes about a minute)

Shares no code with the Rust side: token ids come from the Hugging Face tokenizer, the forward
pass is written here from the BERT definition (post-LayerNorm encoder, exact erf GELU, mean
pooling over all tokens, L2 normalisation), in float64.

Output: tests/golden/model/embeddings_f64.json with
  sentences: text, ids, embedding (384 values)
  capture: Q, K, V of head 0 in the first and last layer for the first sentence
  stsb: cosine similarity of the first PAIRS dev pairs and their Spearman, and the Spearman
        of the whole dev set
"""
import json
import math
import os
import sys

import numpy as np
from scipy.special import erf
from safetensors.numpy import load_file
from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The data root, as the Rust side finds it (sim/data_dir.rs): $SPATTEN_DATA, else data/.
DATA = os.environ.get("SPATTEN_DATA") or os.path.join(ROOT, "data")
MODEL = sys.argv[1] if len(sys.argv) > 1 else os.path.join(DATA, "models/all-MiniLM-L6-v2")
STS = sys.argv[2] if len(sys.argv) > 2 else os.path.join(DATA, "data/stsb/sts-dev.tsv")
OUT = os.path.join(ROOT, "tests/golden/model/embeddings_f64.json")
PAIRS = 40

SENTENCES = [
    "A man with a hard hat is dancing.",
    "A man wearing a hard hat is dancing.",
    "The quick brown fox jumps over the lazy dog.",
    "Héllo naïve café, 中文 and emoji 😀!",
    "SpAtten prunes unimportant tokens and heads in the attention layers progressively.",
    "a",
]

class Bert:
    def __init__(self, model_dir):
        with open(os.path.join(model_dir, "config.json")) as f:
            self.cfg = json.load(f)
        self.w = {k: v.astype(np.float64) for k, v in load_file(os.path.join(model_dir, "model.safetensors")).items()}
        self.heads = self.cfg["num_attention_heads"]
        self.eps = self.cfg["layer_norm_eps"]

    def ln(self, x, name):
        mu = x.mean(axis=-1, keepdims=True)
        var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
        return (x - mu) / np.sqrt(var + self.eps) * self.w[name + ".weight"] + self.w[name + ".bias"]

    def lin(self, x, name):
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def forward(self, ids, record=None):
        t = len(ids)
        x = self.w["embeddings.word_embeddings.weight"][ids]
        x = x + self.w["embeddings.position_embeddings.weight"][:t]
        x = x + self.w["embeddings.token_type_embeddings.weight"][0]
        x = self.ln(x, "embeddings.LayerNorm")
        d = x.shape[1] // self.heads
        for l in range(self.cfg["num_hidden_layers"]):
            p = f"encoder.layer.{l}."
            split = lambda y: y.reshape(t, self.heads, d).transpose(1, 0, 2)
            q = split(self.lin(x, p + "attention.self.query"))
            k = split(self.lin(x, p + "attention.self.key"))
            v = split(self.lin(x, p + "attention.self.value"))
            if record is not None:
                record.append((q, k, v))
            s = q @ k.transpose(0, 2, 1) / math.sqrt(d)
            s = np.exp(s - s.max(axis=-1, keepdims=True))
            s = s / s.sum(axis=-1, keepdims=True)
            ctx = (s @ v).transpose(1, 0, 2).reshape(t, -1)
            x = self.ln(self.lin(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
            h = self.lin(x, p + "intermediate.dense")
            h = 0.5 * h * (1.0 + erf(h / math.sqrt(2.0)))
            x = self.ln(self.lin(h, p + "output.dense") + x, p + "output.LayerNorm")
        e = x.mean(axis=0)
        return e / max(np.linalg.norm(e), 1e-12)


def ranks(x):
    """1-based ranks, ties share the average rank."""
    x = np.asarray(x)
    order = np.argsort(x, kind="mergesort")
    r = np.empty(len(x))
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and x[order[j + 1]] == x[order[i]]:
            j += 1
        r[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return r


def spearman(a, b):
    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


def main():
    bert = Bert(MODEL)
    tok = Tokenizer.from_file(os.path.join(MODEL, "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    enc = lambda s: tok.encode(s).ids

    out = {"model": "all-MiniLM-L6-v2", "dtype": "float64", "sentences": []}
    for i, s in enumerate(SENTENCES):
        ids = enc(s)
        rec = [] if i == 0 else None
        e = bert.forward(ids, rec)
        out["sentences"].append({"text": s, "ids": ids, "embedding": [float(v) for v in e]})
        if rec is not None:
            out["capture"] = {
                "text": s,
                "head": 0,
                "layers": {
                    str(l): {n: rec[l][j][0].tolist() for j, n in enumerate("qkv")}
                    for l in (0, len(rec) - 1)
                },
            }

    pairs = []
    with open(STS, encoding="utf-8") as f:
        for line in f:
            cols = line.rstrip("\n").rstrip("\r").split("\t")
            if len(cols) >= 7:
                pairs.append((float(cols[4]), cols[5].strip(), cols[6].strip()))
    cos, gold = [], []
    for n, (score, s1, s2) in enumerate(pairs):
        a, b = bert.forward(enc(s1)), bert.forward(enc(s2))
        cos.append(float(a @ b))
        gold.append(score)
        if n + 1 == PAIRS:
            out["stsb"] = {"pairs": PAIRS, "cosines": list(cos), "spearman": spearman(cos, gold)}
        if (n + 1) % 250 == 0:
            print(f"{n + 1}/{len(pairs)} pairs", file=sys.stderr)
    out["stsb"]["all_pairs"] = len(pairs)
    out["stsb"]["spearman_all"] = spearman(cos, gold)
    print(f"numpy f64 Spearman over {len(pairs)} pairs: {out['stsb']['spearman_all']:.6f}", file=sys.stderr)

    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=None)
        f.write("\n")


if __name__ == "__main__":
    main()
