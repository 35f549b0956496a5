#!/usr/bin/env python3
"""Read a spatten attention trace (layout in traces/FORMAT.md) with numpy + safetensors.

usage: read_trace.py TRACE.safetensors
"""
import json
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file

path = sys.argv[1]
meta = safe_open(path, "np").metadata()
# Version 2 adds the optional header key kv_heads (grouped K/V heads); version 3 stores the
# token index lists compactly (a code per list: 0 list, 1 ranges, 2 bitmap; traces/FORMAT.md);
# version 4 adds the optional header key softmax_key_tile_rows (a two-pass design's online
# sums), lists compact as in 3; version 5 adds the optional header key batch (independent
# sequences) with the columns head_calls.sequence and layers.sequence (present only then);
# version 6 adds the optional header key value_topk_entries (a local-V engine of limited
# candidates) with topk.stage_offsets + topk.stages: (n, k, rounds) triples per call.
assert meta["format"] == "spatten-trace" and meta["version"] in ("1", "2", "3", "4", "5", "6"), meta
header = json.loads(meta["header"])
kv_heads = header.get("kv_heads", header["heads"])
batch = header.get("batch", 1)
t = load_file(path)  # column name -> numpy array


def decode(code, words):
    """One compact index list (version 3) as a numpy array of token indices."""
    words = words.astype(np.int64)
    if code == 0:
        return words
    if code == 1:
        starts, lengths = words[0::2], words[1::2]
        return np.concatenate([np.arange(s, s + n) for s, n in zip(starts, lengths)] or [words[:0]])
    if code == 2:
        first, span = words[0], words[1]
        bits = np.unpackbits(words[2:].astype("<u4").view(np.uint8), bitorder="little")[:span]
        return first + np.flatnonzero(bits)
    raise ValueError(f"unknown index encoding {code}")


def index_lists(flat, offsets, codes=None):
    parts = np.split(t[flat], t[offsets][1:-1].astype(np.int64))
    if codes is None:
        return parts
    return [decode(c, w) for c, w in zip(t[codes], parts)]


compact = int(meta["version"]) >= 3
keys = index_lists("head_calls.keys", "head_calls.key_offsets",
                   "head_calls.key_encoding" if compact else None)

print(header["workload"], header["layers"], "layers x", header["heads"], "heads,", kv_heads, "K/V heads")
if "softmax_key_tile_rows" in header:
    print("rows of many-query calls summed online over key tiles of", header["softmax_key_tile_rows"], "rows")
if batch > 1:
    calls_per_sequence = np.bincount(t["head_calls.sequence"], minlength=batch)
    print("a batch of", batch, "sequences; head calls per sequence:", calls_per_sequence.tolist())
if "value_topk_entries" in header:
    stages = [s.reshape(-1, 3) for s in index_lists("topk.stages", "topk.stage_offsets")]
    tiled = [s for s in stages if len(s)]
    print("local-V engine holds", header["value_topk_entries"], "candidates;", len(tiled),
          "selections ran hierarchically in", sum(len(s) for s in tiled), "stages")
print("head calls:", len(keys), " keys fetched:", sum(len(k) for k in keys))
print("LSB refetches:", int(t["head_calls.lsb_refetch"].sum()))
first = 0
print(f"call {first}: iteration {t['head_calls.iteration'][first]}, layer {t['head_calls.layer'][first]},"
      f" head {t['head_calls.head'][first]}, {len(keys[first])} keys, first {keys[first][:8].tolist()}")
