"""The example script runs and prints its table."""

import pathlib
import subprocess
import sys

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "pruning_table.py"


def test_the_example_prints_one_row_per_pruning_setting(tmp_path):
    p = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True,
                       cwd=tmp_path, timeout=600)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    assert lines[0].startswith("values: ")
    assert "speedup vs TITAN Xp" in lines[1]
    table = lines[2:]
    assert len(table) == 2
    assert table[0].split()[0] in ("0.0", "0.000") and table[1].split()[0] in ("0.5", "0.500")
    cycles = [int(line.split()[1]) for line in table]
    # Pruning half the tokens takes fewer cycles.
    assert cycles[1] < cycles[0]
