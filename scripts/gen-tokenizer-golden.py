#!/usr/bin/env python3
"""Writes the tokenizer golden files from the real Hugging Face tokenizer of all-MiniLM-L6-v2.

    pip install tokenizers
    python3 scripts/gen-tokenizer-golden.py [MODEL_DIR] [STS_FILE]

Outputs (checked by tests/model_tokenizer.rs, which needs no Python):
  tests/golden/model/tokenizer_cases.jsonl   hand-picked edge cases: {"text", "max_length", "ids"}
  tests/golden/model/tokenizer_stsb_dev.tsv  every STS-B dev sentence: line, ids of s1, ids of s2
"""
import json
import os
import sys

from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The data root, as the Rust side finds it (sim/data_dir.rs): $SPATTEN_DATA, else data/.
DATA = os.environ.get("SPATTEN_DATA") or os.path.join(ROOT, "data")
MODEL = sys.argv[1] if len(sys.argv) > 1 else os.path.join(DATA, "models/all-MiniLM-L6-v2")
STS = sys.argv[2] if len(sys.argv) > 2 else os.path.join(DATA, "data/stsb/sts-dev.tsv")
OUT = os.path.join(ROOT, "tests/golden/model")

CASES = [
    "Hello, World!",
    "A man with a hard hat is dancing.",
    "Héllo naïve café résumé Ångström Ñandú",
    "中文字符 and 日本語のテキスト and 한국어 문장",
    "don't won't it's U.S.A. e-mail 3.14 $100 50% #hashtag @user",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "a" * 150 + " short",
    "Emoji 😀 test 🚀 done",
    "tabs\tand\nnewlines\r\nhere",
    "zero\u200bwidth soft\u00adhyphen bell\x07 null\x00 replacement\ufffd",
    "[CLS] special [SEP] tokens [MASK] inside",
    "hello[SEP]world[UNK]x[PAD]",
    "\ufb01 ligature and \u2126 ohm",
    "\u0130stanbul \u01c5 Ωmega ß straße",
    "Ἀθῆναι and e\u0301 combining",
    "مرحبا שלום สวัสดี Привет",
    "   leading and trailing   ",
    "\u201ccurly quotes\u201d \u2014 em dash \u2026 ellipsis",
    "x\u00b2 + y\u00b2 = z\u00b2; \u2211\u222b\u221a \u00bd",
    "private\ue000use unassigned\u0378char",
    "UPPER lower MiXeD 12345 0.5e-3",
    "The quick brown fox jumps over the lazy dog. " * 3,
]
# Truncation cases: HF keeps [CLS] and [SEP] and cuts word pieces in between.
TRUNCATED = [("one two three four five six seven eight", 5), ("word " * 600, 512)]


def main():
    tok = Tokenizer.from_file(os.path.join(MODEL, "tokenizer.json"))
    tok.no_padding()
    os.makedirs(OUT, exist_ok=True)

    with open(os.path.join(OUT, "tokenizer_cases.jsonl"), "w", encoding="utf-8") as f:
        tok.no_truncation()
        for text in CASES:
            ids = tok.encode(text).ids
            f.write(json.dumps({"text": text, "max_length": None, "ids": ids}) + "\n")
        for text, max_length in TRUNCATED:
            tok.enable_truncation(max_length=max_length)
            ids = tok.encode(text).ids
            f.write(json.dumps({"text": text, "max_length": max_length, "ids": ids}) + "\n")

    tok.no_truncation()
    with open(STS, encoding="utf-8") as src, open(
        os.path.join(OUT, "tokenizer_stsb_dev.tsv"), "w", encoding="utf-8"
    ) as f:
        for lineno, line in enumerate(src, start=1):
            cols = line.rstrip("\n").rstrip("\r").split("\t")
            if len(cols) < 7:
                continue
            s1, s2 = cols[5].strip(), cols[6].strip()
            ids1 = " ".join(map(str, tok.encode(s1).ids))
            ids2 = " ".join(map(str, tok.encode(s2).ids))
            f.write(f"{lineno}\t{ids1}\t{ids2}\n")


if __name__ == "__main__":
    main()
