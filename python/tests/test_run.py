"""run(): the pipeline in process, equal to `spatten run`, and its errors."""

import pathlib
import threading

import numpy as np
import pytest

import spatten_sim as ss
from conftest import VALUES, load_values_as_numpy, read_json


def without_input(stats):
    """Stats minus the provenance line that names the input (a path or "numpy arrays")."""
    return {k: v for k, v in stats.items() if k != "input"}


def test_a_synthetic_run_returns_stats_energy_and_baselines(workdir):
    r = ss.run("spatten", "tiny.toml")
    s = r.stats
    assert r.name == s["name"] == "spatten-tiny"
    assert s["cycles"] > 0 and s["seconds"] > 0
    assert s["workload"] == "tiny" and s["arch"] == "spatten"
    assert r.energy == s["energy"]
    assert r.energy["total_j"] > 0
    assert r.area == s["area"]
    devices = {b["device"] for b in r.baselines}
    assert {"titan-xp", "xeon-e5-2640-v4"} <= devices
    for b in r.baselines:
        assert b["speedup"] == pytest.approx(b["latency_s"] / s["seconds"])
    assert r.trace.header["workload"] == "tiny"
    assert "cycles" in repr(r)


def test_stats_equal_the_clis_stats_json(workdir, cli):
    code, _, err = cli("run", "--workload", "tiny.toml", "--out", "cli", "--quiet")
    assert code == 0, err
    r = ss.run(ss.load_arch("spatten"), ss.load_workload("tiny.toml"))
    assert r.stats == read_json(workdir / "cli" / "stats.json")
    # The report the package writes is the CLI's, byte for byte.
    files = r.write_report(workdir / "py")
    assert workdir / "py" / "stats.json" in files
    for name in ("stats.json", "baselines.csv", "energy.csv", "modules.csv", "summary.md"):
        assert (workdir / "py" / name).read_bytes() == (workdir / "cli" / name).read_bytes(), name


def test_a_generation_run_with_simple_dram_equals_the_cli(workdir, cli):
    code, _, err = cli("run", "--workload", "tiny-gen.toml", "--dram", "simple", "--out", "cli",
                       "--quiet")
    assert code == 0, err
    r = ss.run(workload="tiny-gen.toml", dram="simple")
    assert r.stats == read_json(workdir / "cli" / "stats.json")
    assert r.stats["dram_model"] == "simple"


def test_a_value_file_run_equals_the_cli(workdir, cli):
    code, _, err = cli("run", "--workload", "minilm", "--values", VALUES, "--out", "cli", "--quiet")
    assert code == 0, err
    r = ss.run("spatten", "minilm", values=str(VALUES))
    assert r.stats == read_json(workdir / "cli" / "stats.json")


def test_numpy_values_give_the_value_files_result():
    arrays = load_values_as_numpy()
    from_file = ss.run("spatten", "minilm", values=str(VALUES))
    from_arrays = ss.run("spatten", "minilm", values=arrays)
    assert from_arrays.stats["input"] == "numpy arrays"
    assert without_input(from_arrays.stats) == without_input(from_file.stats)
    # Any memory layout is read in place: a Fortran-ordered copy and strided views too.
    fortran = {k: np.asfortranarray(v) for k, v in arrays.items()}
    strided = {k: np.repeat(v, 2, axis=2)[:, :, ::2] for k, v in arrays.items()}
    for other in (fortran, strided):
        assert not next(iter(other.values())).flags.c_contiguous
        r = ss.run("spatten", "minilm", values=other)
        assert r.stats == from_arrays.stats


def test_bad_arrays_are_data_errors_that_say_what_is_wrong():
    arrays = load_values_as_numpy()
    w = ss.load_workload("minilm")
    as_f64 = dict(arrays, **{"layers.0.q": arrays["layers.0.q"].astype(np.float64)})
    with pytest.raises(ss.DataError, match=r"layers.0.q has dtype float64, expected float32"):
        ss.run("spatten", w, values=as_f64)
    missing = {k: v for k, v in arrays.items() if k != "layers.2.k"}
    with pytest.raises(ss.DataError, match="layers.2.k is missing"):
        ss.run("spatten", w, values=missing)
    with pytest.raises(ss.DataError, match="not of the form"):
        ss.run("spatten", w, values=dict(arrays, extra=arrays["layers.0.q"]))
    flat = dict(arrays, **{"layers.0.v": arrays["layers.0.v"].reshape(-1)})
    with pytest.raises(ss.DataError, match="expected rank 3"):
        ss.run("spatten", w, values=flat)
    short = {k: v[:, :100] for k, v in arrays.items()}
    with pytest.raises(ss.DataError, match=r"shape \[12, 100, 32\], the workload needs \[12, 119, 32\]"):
        ss.run("spatten", w, values=short)
    nan = {k: v.copy() for k, v in arrays.items()}
    nan["layers.1.k"][0, 0, 0] = np.nan
    with pytest.raises(ss.DataError, match="not a finite number"):
        ss.run("spatten", w, values=nan)
    with pytest.raises(ss.DataError, match="is a list, expected a numpy array"):
        ss.run("spatten", w, values=dict(arrays, **{"layers.0.q": [1.0]}))
    with pytest.raises(TypeError, match="values must be None"):
        ss.run("spatten", w, values=3)


def test_bad_arguments_raise_with_the_clis_messages(workdir, cli):
    with pytest.raises(ss.DataError, match="give workload=W"):
        ss.run("spatten")
    with pytest.raises(ss.SimulationError, match="unknown DRAM back-end"):
        ss.run("spatten", "tiny.toml", dram="bogus")
    with pytest.raises(ss.SimulationError, match="features dramsim3"):
        ss.run("spatten", "tiny.toml", dram="dramsim3")
    with pytest.raises(ss.DataError, match="cannot read"):
        ss.run("spatten", "minilm", values="missing.safetensors")
    with pytest.raises(ss.ConfigError):
        ss.run("no-such-arch", "tiny.toml")
    # A design point the workload cannot run on: the error is the CLI's, key and all.
    narrow = ss.load_arch("spatten", **{"qk.multipliers": 32, "pv.multipliers": 32})
    with pytest.raises(ss.ConfigError) as e:
        ss.run(narrow, "tiny.toml")
    assert e.value.key == "qk.multipliers"
    assert "not a multiple of workload tiny's head_dim 64" in str(e.value)


def test_to_pandas_is_one_row_of_the_stats(workdir):
    pd = pytest.importorskip("pandas")
    r = ss.run("spatten", "tiny.toml")
    df = r.to_pandas()
    assert len(df) == 1
    assert df["cycles"][0] == r.stats["cycles"]
    assert df["energy.total_j"][0] == r.energy["total_j"]
    both = pd.concat([df, ss.run("spatten-1-8", "tiny.toml").to_pandas()], ignore_index=True)
    assert list(both["arch"]) == ["spatten", "spatten-1-8"]


def test_runs_release_the_gil():
    """The main thread keeps running Python while another thread is inside run()."""
    import time

    arrays = load_values_as_numpy()
    span = {}

    def work():
        span["start"] = time.perf_counter()
        ss.run("spatten", "minilm", values=arrays)
        span["end"] = time.perf_counter()

    t = threading.Thread(target=work)
    stamps = []
    t.start()
    while t.is_alive():
        stamps.append(time.perf_counter())
    t.join()
    inside = [s for s in stamps if span["start"] < s < span["end"]]
    # Holding the GIL through the run would leave the main thread no turn until it returned.
    assert len(inside) > 10, (len(inside), span)


def test_timeline_and_measured_baselines_join_the_report(workdir, cli):
    code, _, err = cli("baseline", "measure-cpu", "--workload", "tiny.toml", "--repeats", "3",
                       "--warmup", "1", "--out", "cpu.json")
    assert code == 0, err
    r = ss.run("spatten", "tiny.toml", timeline=True, measured_baselines=["cpu.json"])
    measured = [b for b in r.baselines if b["provenance"] == "measured"]
    assert len(measured) == 1
    files = r.write_report("rep")
    assert pathlib.Path("rep", "timeline.json") in files
    assert "| measured |" in (workdir / "rep" / "summary.md").read_text()
    assert r.trace is r.trace  # made once
    with pytest.raises(ss.DataError, match="cpu.json: baseline measured tiny"):
        ss.run("spatten", "tiny-gen.toml", measured_baselines=["cpu.json"])


def test_progress_names_each_phase_and_its_errors_surface(workdir):
    phases = []
    ss.run("spatten", "tiny.toml", progress=phases.append)
    assert phases == ["generating synthetic values", "running the reference model",
                      "simulating cycles", "energy and baselines"]
    phases.clear()
    ss.run("spatten", "minilm", values=load_values_as_numpy(), progress=phases.append)
    assert phases == ["running the reference model", "simulating cycles", "energy and baselines"]

    def fail(name):
        phases.append(name)
        raise KeyboardInterrupt

    phases.clear()
    with pytest.raises(KeyboardInterrupt):
        ss.run("spatten", "tiny.toml", progress=fail)
    assert phases == ["generating synthetic values"]
