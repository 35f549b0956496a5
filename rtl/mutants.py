#!/usr/bin/env python3
"""Shows that the testbenches can fail: each mutant breaks one RTL line in a copy of rtl/src,
and its testbench must then fail on the shipped vectors with a mismatch report (vector index,
expected and actual word), not merely on lint or a build error. Exits 1 if any mutant survives.

usage: rtl/mutants.py SPATTEN_BIN
"""
import pathlib
import re
import shutil
import subprocess
import sys

RTL = pathlib.Path(__file__).resolve().parent

# (testbench, file, line as written, the broken line, what it breaks)
MUTANTS = [
    ("tb_zero_eliminator", "zero_eliminator.sv",
     "assign `OK(j + 1, i) = come || (`OK(j, i) && !leaves);",
     "assign `OK(j + 1, i) = come || `OK(j, i);",
     "an element that moves also stays"),
    ("tb_requant_decision", "requant_decision.sv",
     "out_refetch <= row_max < threshold;",
     "out_refetch <= row_max <= threshold;",
     "flat when max <= T instead of max < T"),
    ("tb_qk_lane", "qk_lane.sv",
     "wire signed [MULTIPLIER_BITS-1:0] a = q[d*MULTIPLIER_BITS +: MULTIPLIER_BITS];",
     "wire [MULTIPLIER_BITS-1:0] a = q[d*MULTIPLIER_BITS +: MULTIPLIER_BITS];",
     "the query word read as unsigned"),
    ("tb_importance", "importance_acc.sv",
     "<= sum[TOKEN_BITS] ? TOKEN_MAX : sum[TOKEN_BITS-1:0];",
     "<= sum[TOKEN_BITS-1:0];",
     "the token score wraps instead of saturating"),
    ("tb_importance", "scale_mul.sv",
     "r = (PW+1)'(floor_part) + (PW+1)'(half_bit);",
     "r = (PW+1)'(floor_part);",
     "the scale multiply truncates instead of rounding"),
    ("tb_softmax", "softmax.sv",
     "wire [E_BITS-1:0] mant = E_BITS'(rom_prod >> 24) + E_BITS'(rom_prod[23]);",
     "wire [E_BITS-1:0] mant = E_BITS'(rom_prod >> 24);",
     "the exp mantissa truncates instead of rounding"),
    ("tb_softmax", "softmax.sv",
     "wire take = rem_shift >= (SUM_BITS+1)'(sum);",
     "wire take = rem_shift > (SUM_BITS+1)'(sum);",
     "the divider's compare misses equality"),
    ("tb_topk_engine", "topk_engine.sv",
     "keep_a[i] = valid && (x > thr || (is_eq && rank < keep_eq));",
     "keep_a[i] = valid && (x > thr || (is_eq && rank <= keep_eq));",
     "the filter keeps one equal element too many"),
    ("tb_topk_engine", "topk_engine.sv",
     "pivot <= cur_buf[idx_q*VB +: VB];",
     "pivot <= cur_buf[0 +: VB];",
     "the pivot is always C[0], not C[lfsr mod |C|]"),
    ("tb_topk_engine", "topk_engine.sv",
     "wire last_chunk_of_round = (IB'(ch) + 1'b1) * IB'(P) >= len;",
     "wire last_chunk_of_round = (IB'(ch) + 1'b1) * IB'(P) > len;",
     "an empty extra chunk when P divides |C|: every value right, the cycles not"),
]


def main():
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} SPATTEN_BIN")
    spatten = sys.argv[1]
    work = RTL / "build" / "mutant"
    survived = 0
    for tb, file, line, broken, what in MUTANTS:
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(RTL / "src", work)
        path = work / file
        text = path.read_text()
        if text.count(line) != 1:
            sys.exit(f"mutants.py: {file}: {line!r} occurs {text.count(line)} times, not once")
        path.write_text(text.replace(line, broken))
        run = subprocess.run(
            [str(RTL / "run-tests.sh"), spatten, "--src", str(work), "--vectors",
             str(RTL / "vectors"), "--only", tb, "--no-lint", "--no-synth"],
            capture_output=True, text=True)
        out = run.stdout + run.stderr
        report = re.search(r"[a-z_]+: vector \d+: .*", out)
        if run.returncode != 0 and report:
            print(f"killed   {file}: {broken}\n         ({what})\n         {report.group(0)}")
        else:
            why = "passed" if run.returncode == 0 else "failed without a mismatch report"
            print(f"SURVIVED {file}: {broken} ({what}): {why}\n{out[-2000:]}")
            survived += 1
    shutil.rmtree(work, ignore_errors=True)
    print(f"{len(MUTANTS) - survived} of {len(MUTANTS)} mutants killed")
    sys.exit(1 if survived else 0)


main()
