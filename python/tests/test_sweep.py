"""sweep(): rows equal to `spatten sweep`'s results, progress from worker threads, errors."""

import threading

import pytest

import spatten_sim as ss

SPEC = """
name = "pytest"
arch = "spatten"
workloads = ["tiny.toml"]
constraints = ["topk_value.comparators <= topk_token.comparators"]

[axes]
topk_token.comparators = [4, 16]
topk_value.comparators = [4, 16]
quant.msb_bits = [6, 7]
"""


@pytest.fixture
def spec(workdir):
    (workdir / "sweep.toml").write_text(SPEC)
    return workdir / "sweep.toml"


def test_rows_equal_the_clis_results_csv(spec, workdir, cli):
    calls = []
    main = threading.get_ident()

    def progress(done, total):
        calls.append((done, total, threading.get_ident()))

    r = ss.sweep(spec, jobs=2, out=workdir / "py", progress=progress)
    assert r.summary["points_total"] == 8 and r.summary["ran"] == 8
    # msb_bits = 7 is not a valid width: those points are rows with status "invalid".
    assert (r.summary["ok"], r.summary["invalid"], r.summary["skipped"]) == (3, 4, 1)
    assert len(r) == 8 and len(r.rows) == 8
    assert r.columns[:2] == ["point", "workload"]
    assert [row["point"] for row in r.rows] == list(range(8))
    ok = [row for row in r.rows if row["status"] == "ok"]
    assert all(isinstance(row["cycles"], int) and row["cycles"] > 0 for row in ok)
    invalid = [row for row in r.rows if row["status"] == "invalid"]
    assert all(row["cycles"] is None and "msb_bits" in row["detail"] for row in invalid)
    # Called once per point, from the worker threads (the sweep runs without the GIL).
    assert sorted(c[0] for c in calls) == list(range(1, 9))
    assert {c[1] for c in calls} == {8}
    assert all(c[2] != main for c in calls)

    code, _, err = cli("sweep", "sweep.toml", "--jobs", "1", "--out", "cli", "--quiet")
    assert code == 0, err
    assert (workdir / "py" / "results.csv").read_bytes() == \
        (workdir / "cli" / "results.csv").read_bytes()


def test_resume_shards_and_pandas(spec, workdir):
    first = ss.sweep(spec, jobs=1, out=workdir / "s", shard=(0, 2))
    assert first.summary["points_in_shard"] == 4
    assert [row["point"] for row in first.rows] == [0, 2, 4, 6]
    with pytest.raises(ss.SimulationError, match="already exists"):
        ss.sweep(spec, out=workdir / "s", shard=(0, 2))
    again = ss.sweep(spec, out=workdir / "s", shard=(0, 2), resume=True)
    assert again.summary["already_done"] == 4 and again.summary["ran"] == 0
    assert again.rows == first.rows
    pd = pytest.importorskip("pandas")
    df = first.to_pandas()
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == first.columns and len(df) == 4


def test_a_failing_progress_callback_raises_after_the_sweep(spec, workdir):
    seen = []

    def progress(done, total):
        seen.append(done)
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        ss.sweep(spec, jobs=1, out=workdir / "p", progress=progress)
    assert seen == [1]
    # The rows were still all written.
    assert (workdir / "p" / "results.csv").read_text().count("\n") == 9


def test_bad_specs_and_arguments(workdir):
    (workdir / "bad.toml").write_text('name = "x"\narch = "spatten"\nworkloads = []\n')
    with pytest.raises(ss.ConfigError) as e:
        ss.sweep(workdir / "bad.toml")
    assert e.value.file.endswith("bad.toml")
    with pytest.raises(ss.ConfigError):
        ss.sweep(workdir / "missing.toml")
    (workdir / "ok.toml").write_text(SPEC)
    with pytest.raises(ss.SimulationError, match="need 0 <= K < N"):
        ss.sweep(workdir / "ok.toml", shard=(2, 2))
    with pytest.raises(ss.SimulationError, match="unknown DRAM back-end"):
        ss.sweep(workdir / "ok.toml", dram="nope")
