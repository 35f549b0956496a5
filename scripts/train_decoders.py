#!/usr/bin/env python3
"""Trains the two shipped test decoders, models/tiny-gpt2 and models/tiny-llama, on WikiText-2.

No pretrained decoder can be downloaded where the project runs, so these small models are the
fixtures and the default `--model` of `spatten accuracy`. Both use Hugging Face's own model
classes (GPT2LMHeadModel, LlamaForCausalLM) and `save_pretrained`, so the folders are in the
exact layout of a real checkpoint and the same Rust loader runs real GPT-2 / Llama weights.

Data: the WikiText-2 validation text (CC BY-SA 3.0), $SPATTEN_DATA/data/wikitext-2/valid.txt.
Its lines are split at 90 % of the characters: the first part trains the byte-level BPE
tokenizer and the models, the rest is held out (`spatten accuracy --model DIR` scores it by
default, splitting the data root's file the same way: `model::heldout_split`). The text itself
is not copied into the repository.

Deterministic: fixed seeds, torch.use_deterministic_algorithms, one thread, no dropout.

    pip install torch transformers tokenizers
    SPATTEN_DATA=../shared python3 scripts/train_decoders.py [--out models] [--steps 600]
"""

import argparse
import json
import math
import os
import random
import sys
from pathlib import Path

os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["OMP_NUM_THREADS"] = "1"

import torch  # noqa: E402
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers  # noqa: E402
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM  # noqa: E402

VOCAB = 2048
CONTEXT = 128  # training and evaluation window (tokens)
EOS = "<|endoftext|>"


def split_text(path: Path):
    """First 90 % of the characters (cut at a line end) for training, the rest held out."""
    text = path.read_text(encoding="utf-8")
    cut = text.index("\n", int(len(text) * 0.9)) + 1
    return text[:cut], text[cut:]


def train_tokenizer(train_text: str) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    lines = train_text.splitlines(keepends=True)
    tok.train_from_iterator(lines, trainer=trainer)
    return tok


def windows(ids, length):
    """Non-overlapping windows of `length` tokens (the tail shorter than 2 tokens dropped)."""
    return [ids[i : i + length] for i in range(0, len(ids) - 1, length) if len(ids[i : i + length]) >= 2]


def perplexity(model, ids) -> float:
    """exp(mean next-token NLL) over non-overlapping CONTEXT windows; the same definition as
    `spatten accuracy` and scripts/decoder_numpy.py."""
    model.eval()
    nll, count = 0.0, 0
    with torch.no_grad():
        for w in windows(ids, CONTEXT):
            x = torch.tensor([w])
            logits = model(x).logits[0].double()
            logp = torch.log_softmax(logits[:-1], dim=-1)
            nll -= logp[torch.arange(len(w) - 1), x[0, 1:]].sum().item()
            count += len(w) - 1
    return math.exp(nll / count)


def train(model, ids, steps, batch, lr, seed):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.95))
    data = torch.tensor(ids)
    model.train()
    for step in range(steps):
        # Cosine decay after a short warm-up.
        warm = 50
        scale = (step + 1) / warm if step < warm else 0.5 * (1 + math.cos(math.pi * (step - warm) / (steps - warm)))
        for group in opt.param_groups:
            group["lr"] = lr * scale
        starts = torch.randint(0, len(data) - CONTEXT - 1, (batch,), generator=g)
        x = torch.stack([data[s : s + CONTEXT] for s in starts])
        loss = model(x, labels=x).loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 100 == 0 or step == steps - 1:
            print(f"  step {step:4d} loss {loss.item():.4f}", flush=True)
    model.eval()
    return model


def gpt2(eos_id):
    cfg = GPT2Config(
        vocab_size=VOCAB,
        n_positions=256,
        n_embd=128,
        n_layer=4,
        n_head=4,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
    )
    return GPT2LMHeadModel(cfg)


def llama(eos_id):
    cfg = LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=128,
        intermediate_size=344,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        tie_word_embeddings=False,
        attention_dropout=0.0,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
    )
    return LlamaForCausalLM(cfg)


CARD = """# {name}: a tiny {kind} trained on WikiText-2 (test fixture)

A {params:,}-parameter {kind} in Hugging Face `{cls}` layout (`config.json`,
`model.safetensors` fp32, `tokenizer.json`), trained by `scripts/train_decoders.py` so the
decoder path of `spatten accuracy` has real, shippable weights. It is a test fixture and the
default `--model`, not a useful language model.

- **Architecture**: {arch}
- **Tokenizer**: byte-level BPE, {vocab} tokens (`{eos}` the only special token), trained
  with `tokenizers` on the training split.
- **Data**: WikiText-2 (raw) validation text, `data/wikitext-2/valid.txt` of the data root.
  Split by characters at a line end: the first 90 % trains tokenizer and model, the last
  10 % is held out ({heldout_tokens:,} tokens; `spatten accuracy --model models/{name}`
  scores it by default, cut from the data root's file by the same rule).
- **Recipe**: AdamW (lr {lr}, betas 0.9/0.95, weight decay 0.01), batch {batch} x {ctx}
  tokens, {steps} steps, 50 warm-up steps then cosine decay, gradient clip 1.0, no dropout;
  seed {seed}; one CPU thread, `torch.use_deterministic_algorithms(True)`; torch {torch}.
- **Held-out perplexity**: {ppl:.2f} (non-overlapping {ctx}-token windows of the held-out split,
  exp of the mean next-token NLL; training split: {train_ppl:.2f}).
- **Licence**: the text is CC BY-SA 3.0 (WikiText, Merity et al. 2016, from Wikipedia);
  these weights, derived from it, are shared under the same licence.

Rebuild (took {minutes} minutes wall-clock on one thread of a shared 2-core machine):

    pip install torch transformers tokenizers
    SPATTEN_DATA=<data root> python3 scripts/train_decoders.py --only {name}
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="models")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--only", choices=["tiny-gpt2", "tiny-llama"])
    args = ap.parse_args()
    root = os.environ.get("SPATTEN_DATA")
    if not root:
        sys.exit("error: set SPATTEN_DATA to the data root (it holds data/wikitext-2/valid.txt)")
    src = Path(root) / "data" / "wikitext-2" / "valid.txt"
    if not src.is_file():
        sys.exit(f"error: {src} does not exist")

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    random.seed(0)

    train_text, heldout_text = split_text(src)
    tok = train_tokenizer(train_text)
    eos_id = tok.token_to_id(EOS)
    train_ids = tok.encode(train_text).ids
    heldout_ids = tok.encode(heldout_text).ids
    print(f"tokenizer: {tok.get_vocab_size()} tokens; train {len(train_ids)} / held-out {len(heldout_ids)} tokens")

    specs = [
        ("tiny-gpt2", "GPT-2-style decoder", "GPT2LMHeadModel", gpt2,
         "4 layers, hidden 128, 4 heads (head dim 32), MLP 512 with tanh GELU (`gelu_new`), "
         "learned positions (256), pre-LayerNorm, tied input/output embeddings"),
        ("tiny-llama", "Llama-style decoder", "LlamaForCausalLM", llama,
         "4 layers, hidden 128, 4 query heads / 2 key-value heads (GQA, head dim 32), "
         "SwiGLU MLP 344, RMSNorm (eps 1e-5), RoPE (theta 10000), 256 positions, untied output head"),
    ]
    batch, lr, seed = 16, 3e-3, 1234
    for name, kind, cls, build, arch in specs:
        if args.only and args.only != name:
            continue
        print(f"{name}:")
        torch.manual_seed(seed)
        model = build(eos_id)
        import time
        t0 = time.time()
        train(model, train_ids, args.steps, batch, lr, seed)
        minutes = max(1, round((time.time() - t0) / 60))
        ppl = perplexity(model, heldout_ids)
        train_ppl = perplexity(model, train_ids[: len(heldout_ids)])
        print(f"  held-out perplexity {ppl:.3f}")
        out = Path(args.out) / name
        out.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(out, safe_serialization=True)
        # Generation settings are not needed by the simulator; keep the folder minimal.
        gen = out / "generation_config.json"
        if gen.exists():
            gen.unlink()
        tok.save(str(out / "tokenizer.json"))
        params = sum(p.numel() for p in model.parameters())
        (out / "README.md").write_text(
            CARD.format(
                name=name, kind=kind, cls=cls, params=params, arch=arch, vocab=VOCAB, eos=EOS,
                heldout_tokens=len(heldout_ids), lr=lr, batch=batch, ctx=CONTEXT, steps=args.steps,
                seed=seed, torch=torch.__version__.split("+")[0], ppl=ppl, train_ppl=train_ppl,
                minutes=minutes,
            ),
            encoding="utf-8",
        )
        (out / "training.json").write_text(
            json.dumps({"steps": args.steps, "heldout_perplexity": ppl, "train_perplexity": train_ppl,
                        "context": CONTEXT, "heldout_tokens": len(heldout_ids)}, indent=2) + "\n")


if __name__ == "__main__":
    main()
