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
assert meta["format"] == "spatten-trace" and meta["version"] == "1", meta
header = json.loads(meta["header"])
t = load_file(path)  # column name -> numpy array
keys = np.split(t["head_calls.keys"], t["head_calls.key_offsets"][1:-1].astype(np.int64))

print(header["workload"], header["layers"], "layers x", header["heads"], "heads")
print("head calls:", len(keys), " keys fetched:", int(t["head_calls.key_offsets"][-1]))
print("LSB refetches:", int(t["head_calls.lsb_refetch"].sum()))
first = 0
print(f"call {first}: iteration {t['head_calls.iteration'][first]}, layer {t['head_calls.layer'][first]},"
      f" head {t['head_calls.head'][first]}, {len(keys[first])} keys, first {keys[first][:8].tolist()}")
