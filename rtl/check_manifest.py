#!/usr/bin/env python3
"""Checks a golden directory's manifest against what one testbench reads, then prints the
vector count for its +vectors plusarg.

usage: check_manifest.py GOLDEN_DIR TESTBENCH

Every file the testbench loads must be listed with the bit width, signedness and per-vector
shape the testbench was written for, so a changed manifest fails here with the file and field
named rather than as a wrong word in simulation. (`spatten golden --check` has already held
the files to the manifest: line format, word count, sha256.)
"""
import json
import sys

# testbench -> module, {file: (bits, signed, shape after the vector axis)}; None = no axis.
EXPECT = {
    "tb_zero_eliminator": ("zero_eliminator", {
        "values.hex": (16, False, [64]), "keep.hex": (1, False, [64]),
        "out.hex": (16, False, [64]), "count.hex": (8, False, [])}),
    "tb_requant_decision": ("requant", {
        "prob.hex": (12, False, [64]), "threshold.hex": (12, False, []),
        "max.hex": (12, False, []), "refetch.hex": (1, False, [])}),
    "tb_qk_lane": ("qk", {
        "q.hex": (12, True, [64]), "k.hex": (12, True, [16, 64]),
        "scores.hex": (32, True, [16])}),
    "tb_importance": ("importance", {
        "token_in.hex": (32, False, [16]), "token_prob.hex": (12, False, [16]),
        "token_out.hex": (32, False, [16]), "head_in.hex": (48, False, []),
        "head_abs_sum.hex": (32, False, []), "head_scale_mantissa.hex": (24, False, []),
        "head_scale_shift.hex": (16, True, []), "head_out.hex": (48, False, [])}),
    "tb_softmax": ("softmax", {
        "scores.hex": (32, True, [64]), "mult_mantissa.hex": (24, False, []),
        "mult_shift.hex": (16, True, []), "exp_hi_rom.hex": (25, False, None),
        "exp_lo_rom.hex": (25, False, None), "exp.hex": (25, False, [64]),
        "sum.hex": (48, False, []), "recip.hex": (28, False, []),
        "prob.hex": (12, False, [64])}),
    "tb_topk_engine": ("topk", {
        "values.hex": (32, False, [64]), "k.hex": (8, False, []),
        "lfsr_state.hex": (32, False, []), "keep_mask.hex": (1, False, [64]),
        "positions.hex": (8, False, [64]), "kth.hex": (32, False, []),
        "keep_eq.hex": (8, False, []), "rounds.hex": (8, False, [64]),
        "round_count.hex": (8, False, [])}),
}
MAX_VECTORS = 1024  # tb_common.svh's TB_MAX_VECTORS


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in EXPECT:
        sys.exit(f"usage: {sys.argv[0]} GOLDEN_DIR {{{','.join(EXPECT)}}}")
    golden, tb = sys.argv[1], sys.argv[2]
    module, files = EXPECT[tb]
    path = f"{golden}/manifest.json"
    with open(path) as f:
        manifest = json.load(f)
    mods = [m for m in manifest["modules"] if m["name"] == module]
    if not mods:
        sys.exit(f"{path}: no module {module!r} (needed by {tb})")
    m = mods[0]
    n = m["vectors"]
    if not 1 <= n <= MAX_VECTORS:
        sys.exit(f"{path}: module {module}: {n} vectors, the testbenches hold 1..{MAX_VECTORS}")
    listed = {f["file"]: f for f in m["files"]}
    for name, (bits, signed, tail) in files.items():
        f = listed.get(f"{module}/{name}")
        if f is None:
            sys.exit(f"{path}: module {module}: no file {name} (needed by {tb})")
        shape = [256] if tail is None and name.endswith("_rom.hex") else [n] + (tail or [])
        for key, want in (("bits", bits), ("signed", signed), ("shape", shape)):
            if f[key] != want:
                sys.exit(f"{path}: {module}/{name}: {key} {f[key]}, {tb} expects {want}")
    print(n)


main()
