"""load_arch / load_workload: presets, files, overrides, and the CLI's errors."""

import os

import pytest

import spatten_sim as ss


def test_presets_load_and_describe_themselves():
    a = ss.load_arch("spatten")
    assert a.name == "spatten"
    assert len(a.hash) == 16
    assert a.to_dict()["qk"]["multipliers"] == 512
    assert "[qk]" in a.to_toml()
    w = ss.load_workload("bert-base")
    assert w.name == "bert-base"
    assert w.to_dict()["model"]["layers"] == 12
    assert w.final_tokens == w.to_dict()["stage"]["prompt_tokens"]
    assert "Arch(" in repr(a) and "Workload(" in repr(w)


def test_files_with_base_load_by_path(workdir):
    w = ss.load_workload("tiny.toml")
    assert w.name == "tiny"
    assert w.to_dict()["model"]["heads"] == 4
    # pathlib paths work too.
    assert ss.load_workload(workdir / "tiny.toml").hash == w.hash


def test_overrides_set_dotted_keys_before_validation():
    a = ss.load_arch("spatten", **{"hbm.channels": 4})
    assert a.to_dict()["hbm"]["channels"] == 4
    b = ss.load_arch("spatten", hbm__channels=4)
    assert b.hash == a.hash
    w = ss.load_workload("bert-base", token_pruning__average_ratio=0.5)
    assert w.to_dict()["token_pruning"]["average_ratio"] == 0.5
    assert w.hash != ss.load_workload("bert-base").hash


def test_an_unknown_preset_names_the_presets():
    with pytest.raises(ss.ConfigError) as e:
        ss.load_arch("no-such-arch")
    err = e.value
    assert isinstance(err, ValueError)
    assert err.file == "no-such-arch"
    assert err.key is None and err.line is None
    assert "presets: spatten" in err.reason


def test_errors_carry_file_line_key_reason_and_match_the_cli(workdir, cli):
    (workdir / "bad.toml").write_text('base = "bert-base"\n[quant]\nmsb_bits = 7\n')
    with pytest.raises(ss.ConfigError) as e:
        ss.load_workload("bad.toml")
    err = e.value
    # The file as the CLI names it (relative to the working directory).
    assert os.path.normpath(err.file) == "bad.toml"
    assert (err.line, err.key) == (3, "quant.msb_bits")
    assert "must be one of" in err.reason and "(got 7)" in err.reason
    code, _, stderr = cli("config", "check", "bad.toml")
    assert code == 2
    assert f"error: {err}" in stderr


def test_an_override_of_a_missing_key_or_a_bad_value_is_a_config_error():
    with pytest.raises(ss.ConfigError) as e:
        ss.load_arch("spatten", **{"qk.no_such_key": 1})
    assert e.value.key == "qk.no_such_key"
    with pytest.raises(ss.ConfigError) as e:
        ss.load_arch("spatten", **{"hbm.channels": 3})
    assert e.value.key == "hbm.channels"
    assert "set by the sweep" in e.value.reason
    with pytest.raises(TypeError, match="no TOML form"):
        ss.load_arch("spatten", **{"hbm.channels": object()})


def test_a_missing_file_is_a_config_error(workdir):
    with pytest.raises(ss.ConfigError, match="cannot read workload file"):
        ss.load_workload("missing.toml")
