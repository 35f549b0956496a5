"""spatten_sim: the SpAtten sparse-attention accelerator simulator, in process.

A thin face over the Rust library (the same code as the ``spatten`` CLI):

- ``load_arch`` / ``load_workload``: presets or TOML files, validated; bad input raises
  ``ConfigError`` (a ``ValueError``) carrying ``file``, ``line``, ``key`` and ``reason``.
- ``run``: values -> bit-exact reference -> attention trace -> cycle simulation -> energy and
  baselines, returning a ``Result`` whose ``stats`` equal the CLI's stats.json.
- ``reference``: the reference alone, returning an ``AttentionTrace`` with numpy columns;
  ``AttentionTrace.from_numpy`` builds one from your own decisions.
- ``capture``: Q/K/V of a PyTorch model's attention layers (forward hooks), as the dict of
  numpy arrays that ``run`` and ``reference`` accept.
- ``sweep``: a design-space sweep spec run on all cores, returning its rows.
"""

from ._native import (
    Arch,
    AttentionTrace,
    ConfigError,
    DataError,
    Result,
    SimulationError,
    SweepResult,
    Workload,
    __version__,
    load_arch,
    load_workload,
    reference,
    run,
    sweep,
)
from .torch_capture import capture

__all__ = [
    "Arch",
    "AttentionTrace",
    "ConfigError",
    "DataError",
    "Result",
    "SimulationError",
    "SweepResult",
    "Workload",
    "__version__",
    "capture",
    "load_arch",
    "load_workload",
    "reference",
    "run",
    "sweep",
]
