"""Shared fixtures: the checkout's root, small workloads, and the `spatten` CLI to compare with."""

import json
import os
import pathlib
import shutil
import struct
import subprocess

import numpy as np

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
VALUES = ROOT / "traces" / "minilm-sts.values.safetensors"

# A small BERT-like workload (as in tests/run_cli.rs) so each run takes a fraction of a second.
TINY = """
base = "bert-base"
name = "tiny"
[model]
layers = 3
heads = 4
hidden = 256
[stage]
prompt_tokens = 48
"""

# A small decoder workload: a prompt then three generated tokens (KV cache, local V pruning).
TINY_GEN = """
base = "gpt2-small"
name = "tiny-gen"
[model]
layers = 3
heads = 4
hidden = 256
[stage]
prompt_tokens = 40
generated_tokens = 3
"""


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A temporary working directory holding tiny.toml and tiny-gen.toml."""
    (tmp_path / "tiny.toml").write_text(TINY)
    (tmp_path / "tiny-gen.toml").write_text(TINY_GEN)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def cli_path():
    """The `spatten` binary: $SPATTEN_BIN, else the checkout's release build, else PATH."""
    env = os.environ.get("SPATTEN_BIN")
    if env:
        if not pathlib.Path(env).is_file():
            pytest.fail(f"SPATTEN_BIN={env} does not exist")
        return env
    built = ROOT / "target" / "release" / "spatten"
    if built.is_file():
        return str(built)
    found = shutil.which("spatten")
    if found:
        return found
    pytest.skip("no spatten binary to compare with (cargo build --release, or set SPATTEN_BIN)")


@pytest.fixture
def cli():
    """Runs the CLI in the current directory; returns (exit code, stdout, stderr)."""
    binary = cli_path()

    def call(*args):
        p = subprocess.run([binary, *map(str, args)], capture_output=True, text=True)
        return p.returncode, p.stdout, p.stderr

    return call


def read_json(path):
    with open(path) as f:
        return json.load(f)


def load_values_as_numpy():
    """The shipped MiniLM value file as {name: float32 array}, read with numpy alone."""
    raw = VALUES.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    data = raw[8 + n:]
    out = {}
    for name, t in header.items():
        begin, end = t["data_offsets"]
        assert t["dtype"] == "F32"
        out[name] = np.frombuffer(data[begin:end], dtype="<f4").reshape(t["shape"])
    return out
