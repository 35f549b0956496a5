"""reference(), AttentionTrace: numpy columns, from_numpy, files, and replay through run()."""

import numpy as np
import pytest

import spatten_sim as ss
from conftest import VALUES, load_values_as_numpy, read_json

NONE = np.iinfo(np.uint32).max


def hand_made():
    """A trace built from scratch in numpy: 2 layers x 2 heads over 8 tokens; the token top-k
    after layer 0 keeps 6 tokens, which layer 1 then fetches."""
    kept = [0, 1, 2, 3, 5, 7]
    keys = [list(range(8))] * 2 + [kept] * 2
    u32, u8 = np.uint32, np.uint8
    offsets = np.cumsum([0] + [len(k) for k in keys]).astype(np.uint64)
    header = dict(workload="hand-made", source="numpy", layers=2, heads=2, head_dim=64,
                  stage="summarization", prompt_tokens=8, generated_tokens=0, seed=0)
    columns = {
        "head_calls.iteration": np.zeros(4, u32),
        "head_calls.layer": np.array([0, 0, 1, 1], u32),
        "head_calls.head": np.array([0, 1, 0, 1], u32),
        "head_calls.queries": np.array([8, 8, 6, 6], u32),
        "head_calls.requant_rows": np.zeros(4, u32),
        "head_calls.value_topk": np.full(4, NONE, u32),
        "head_calls.query_bits": np.full(4, 12, u8),
        "head_calls.key_msb_bits": np.full(4, 12, u8),
        "head_calls.value_msb_bits": np.full(4, 12, u8),
        "head_calls.lsb_bits": np.zeros(4, u8),
        "head_calls.lsb_refetch": np.zeros(4, u8),
        "head_calls.accumulate_importance": np.ones(4, u8),
        "head_calls.key_offsets": offsets,
        "head_calls.keys": np.concatenate(keys).astype(np.uint16),
        "head_calls.value_offsets": offsets,
        "head_calls.values": np.concatenate(keys).astype(np.uint16),
        "topk.purpose": np.array([0], u8),
        "topk.n": np.array([8], u32),
        "topk.k": np.array([6], u32),
        "topk.round_offsets": np.array([0, 2], np.uint64),
        "topk.rounds": np.array([8, 5], u32),
        "layers.iteration": np.zeros(2, u32),
        "layers.layer": np.array([0, 1], u32),
        "layers.token_topk": np.array([0, NONE], u32),
        "layers.head_topk": np.full(2, NONE, u32),
        "layers.token_offsets": np.array([0, 6, 12], np.uint64),
        "layers.tokens_kept": np.array(kept * 2, np.uint16),
        "layers.head_offsets": np.array([0, 2, 4], np.uint64),
        "layers.heads_kept": np.array([0, 1, 0, 1], u32),
    }
    return header, columns


def test_reference_equals_the_clis_trace(workdir, cli):
    code, _, err = cli("trace", "reference", "--workload", "minilm", "--values", VALUES,
                       "--out", "cli.trace")
    assert code == 0, err
    t = ss.reference("minilm", str(VALUES))
    assert t == ss.AttentionTrace.read("cli.trace")
    assert t.header["workload"] == "minilm"
    assert t.num_head_calls == len(t["head_calls.layer"]) > 0


def test_reference_reads_numpy_arrays_in_place():
    from_file = ss.reference("minilm", VALUES)
    from_arrays = ss.reference(ss.load_workload("minilm"), load_values_as_numpy())
    assert from_arrays.header["source"] == "reference:numpy arrays"
    strip = lambda h: {k: v for k, v in h.items() if k != "source"}  # noqa: E731
    assert strip(from_arrays.header) == strip(from_file.header)
    a, b = from_arrays.columns, from_file.columns
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[k], b[k]) and a[k].dtype == b[k].dtype for k in a)
    with pytest.raises(ss.DataError, match="layers.0.k is missing"):
        ss.reference("minilm", {"layers.0.q": load_values_as_numpy()["layers.0.q"]})


def test_columns_are_read_only_numpy_arrays_with_the_file_dtypes(workdir):
    t = ss.reference("tiny.toml")
    cols = t.columns
    assert cols["head_calls.keys"].dtype == np.uint16
    assert cols["head_calls.key_offsets"].dtype == np.uint64
    assert cols["head_calls.layer"].dtype == np.uint32
    assert cols["head_calls.lsb_refetch"].dtype == np.uint8
    assert len(cols["head_calls.key_offsets"]) == t.num_head_calls + 1
    assert len(cols["topk.n"]) == t.num_topk_calls
    assert len(cols["layers.layer"]) == t.num_layer_records
    with pytest.raises(ValueError, match="read-only"):
        cols["head_calls.keys"][0] = 1
    # The arrays are made once and shared; the dict is the caller's own.
    assert t.columns["head_calls.keys"] is cols["head_calls.keys"]
    cols.clear()
    assert "topk.rounds" in t.columns
    with pytest.raises(KeyError):
        t["no.such.column"]


def test_columns_round_trip_through_from_numpy_and_files(workdir):
    t = ss.reference("tiny-gen.toml")
    again = ss.AttentionTrace.from_numpy(t.header, t.columns)
    assert again == t
    t.write("t.trace")
    assert ss.AttentionTrace.read("t.trace") == t
    assert t != ss.reference("tiny.toml")
    assert t != "not a trace"


def test_a_reference_trace_replays_to_the_same_stats(workdir):
    direct = ss.run("spatten", "tiny-gen.toml")
    replayed = ss.run("spatten", "tiny-gen.toml", trace=ss.reference("tiny-gen.toml"))
    assert replayed.stats["input"].startswith("in-memory trace (reference:")
    strip = lambda s: {k: v for k, v in s.items() if k != "input"}  # noqa: E731
    assert strip(replayed.stats) == strip(direct.stats)


def test_a_numpy_built_trace_runs_in_process_as_the_cli_runs_its_file(workdir, cli):
    header, columns = hand_made()
    t = ss.AttentionTrace.from_numpy(header, columns)
    assert t.num_head_calls == 4 and t.num_topk_calls == 1
    t.write("hand-made.trace")
    code, _, err = cli("run", "--trace", "hand-made.trace", "--out", "cli", "--quiet")
    assert code == 0, err
    from_file = ss.run(trace="hand-made.trace")
    assert from_file.stats == read_json(workdir / "cli" / "stats.json")
    in_memory = ss.run(trace=t)
    assert in_memory.stats["input"] == "in-memory trace (numpy)"
    strip = lambda s: {k: v for k, v in s.items() if k != "input"}  # noqa: E731
    assert strip(in_memory.stats) == strip(from_file.stats)
    # Layer 1 fetched 6 of the 8 tokens' keys: less K traffic than a dense trace.
    dense_cols = dict(columns)
    dense_keys = [list(range(8))] * 4
    dense_cols["head_calls.keys"] = np.concatenate(dense_keys).astype(np.uint16)
    dense_cols["head_calls.values"] = dense_cols["head_calls.keys"]
    dense_cols["head_calls.key_offsets"] = np.arange(0, 33, 8, dtype=np.uint64)
    dense_cols["head_calls.value_offsets"] = dense_cols["head_calls.key_offsets"]
    dense_cols["head_calls.queries"] = np.full(4, 8, np.uint32)
    dense = ss.run(trace=ss.AttentionTrace.from_numpy(header, dense_cols))
    assert in_memory.stats["dram"]["bytes_read"] < dense.stats["dram"]["bytes_read"]


def test_from_numpy_checks_dtypes_shapes_and_every_consistency_rule():
    header, columns = hand_made()
    wrong_dtype = dict(columns, **{"head_calls.layer": columns["head_calls.layer"].astype(np.int64)})
    with pytest.raises(ss.DataError, match=r"head_calls.layer` has dtype I64, expected U32"):
        ss.AttentionTrace.from_numpy(header, wrong_dtype)
    missing = {k: v for k, v in columns.items() if k != "topk.rounds"}
    with pytest.raises(ss.DataError, match="topk.rounds` is missing"):
        ss.AttentionTrace.from_numpy(header, missing)
    unsorted = dict(columns)
    unsorted["head_calls.keys"] = columns["head_calls.keys"].copy()
    unsorted["head_calls.keys"][[0, 1]] = [1, 0]
    with pytest.raises(ss.DataError, match="head call 0 .* keys not strictly ascending"):
        ss.AttentionTrace.from_numpy(header, unsorted)
    short = dict(columns, **{"head_calls.head": columns["head_calls.head"][:3]})
    with pytest.raises(ss.DataError, match="head_calls.head` has 3 entries, expected 4"):
        ss.AttentionTrace.from_numpy(header, short)
    with pytest.raises(ss.DataError, match="trace header: missing field `seed`"):
        ss.AttentionTrace.from_numpy({k: v for k, v in header.items() if k != "seed"}, columns)
    with pytest.raises(ss.DataError, match="cannot hold"):
        ss.AttentionTrace.from_numpy(header, dict(columns, x=np.array(["a"])))
    with pytest.raises(ss.DataError, match="expected a numpy array"):
        ss.AttentionTrace.from_numpy(header, dict(columns, x=[1, 2]))


def test_unreadable_trace_files_are_data_errors(workdir):
    (workdir / "junk.trace").write_bytes(b"\x01\x02")
    with pytest.raises(ss.DataError, match="not a readable safetensors file"):
        ss.AttentionTrace.read("junk.trace")
    with pytest.raises(ss.DataError, match="not a readable safetensors file"):
        ss.run(trace="junk.trace")
    with pytest.raises(ss.DataError, match="values or trace, not both"):
        ss.run(workload="tiny.toml", values=str(VALUES), trace="junk.trace")
