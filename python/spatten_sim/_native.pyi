"""Type stubs of the compiled extension (src/*.rs); the docstrings there are the reference."""

import os
import pathlib
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

PathLike = Union[str, "os.PathLike[str]"]
#: A value file path, or {"layers.N.q" | "layers.N.k" | "layers.N.v": float32 [heads, tokens, head_dim]}.
Values = Union[None, PathLike, Mapping[str, npt.NDArray[np.float32]]]

class ConfigError(ValueError):
    """An architecture, workload or sweep configuration is invalid."""

    file: str
    line: Optional[int]
    key: Optional[str]
    reason: str

class DataError(ValueError):
    """Value tensors or an attention trace are unusable (file, dtype, shape, consistency)."""

class SimulationError(RuntimeError):
    """The simulation itself failed (watchdog stall, missing DRAM back-end, sweep I/O)."""

class Arch:
    """A resolved, validated architecture (design point)."""

    @property
    def name(self) -> str: ...
    @property
    def hash(self) -> str: ...
    def to_toml(self) -> str: ...
    def to_dict(self) -> Dict[str, Any]: ...

class Workload:
    """A resolved, validated workload."""

    @property
    def name(self) -> str: ...
    @property
    def hash(self) -> str: ...
    @property
    def seed(self) -> int: ...
    @property
    def final_tokens(self) -> int: ...
    def to_toml(self) -> str: ...
    def to_dict(self) -> Dict[str, Any]: ...

def load_arch(name_or_path: PathLike, **overrides: Any) -> Arch:
    """Loads an architecture preset or TOML file; keyword arguments set dotted keys
    (``**{"hbm.channels": 4}`` or ``hbm__channels=4``). Raises ConfigError."""

def load_workload(name_or_path: PathLike, **overrides: Any) -> Workload:
    """Loads a workload preset or TOML file; keyword arguments set dotted keys. Raises
    ConfigError."""

class AttentionTrace:
    """Every decision of a run; ``columns`` are the trace file's columns as read-only arrays."""

    @staticmethod
    def read(path: PathLike) -> "AttentionTrace": ...
    @staticmethod
    def from_numpy(header: Mapping[str, Any], columns: Mapping[str, np.ndarray]) -> "AttentionTrace":
        """Builds a trace from columns named and typed as in traces/FORMAT.md."""
    def write(self, path: PathLike) -> None: ...
    @property
    def header(self) -> Dict[str, Any]: ...
    @property
    def columns(self) -> Dict[str, np.ndarray]: ...
    def __getitem__(self, name: str) -> np.ndarray: ...
    @property
    def num_head_calls(self) -> int: ...
    @property
    def num_topk_calls(self) -> int: ...
    @property
    def num_layer_records(self) -> int: ...
    def __eq__(self, other: object) -> bool: ...

class Result:
    """The outcome of ``run``."""

    @property
    def name(self) -> str: ...
    @property
    def stats(self) -> Dict[str, Any]:
        """What the report's stats.json holds."""
    @property
    def energy(self) -> Dict[str, Any]: ...
    @property
    def area(self) -> Dict[str, Any]: ...
    @property
    def baselines(self) -> List[Dict[str, Any]]: ...
    @property
    def trace(self) -> AttentionTrace: ...
    def to_pandas(self) -> Any:
        """A one-row pandas DataFrame of the stats (needs pandas)."""
    def write_report(self, directory: PathLike) -> List[pathlib.Path]: ...

def run(
    arch: Union[Arch, PathLike, None] = None,
    workload: Union[Workload, PathLike, None] = None,
    values: Values = None,
    trace: Union[AttentionTrace, PathLike, None] = None,
    dram: str = "native",
    timeline: bool = False,
    measured_baselines: Optional[Sequence[PathLike]] = None,
    progress: Optional[Callable[[str], Any]] = None,
) -> Result:
    """One experiment end to end, as ``spatten run``; releases the GIL."""

def reference(workload: Union[Workload, PathLike], values: Values = None) -> AttentionTrace:
    """The bit-exact reference over values, as ``spatten trace reference``."""

class SweepResult:
    columns: List[str]
    rows: List[Dict[str, Union[int, float, str, None]]]
    summary: Dict[str, Union[int, float]]
    out: pathlib.Path
    def to_pandas(self) -> Any: ...
    def __len__(self) -> int: ...

def sweep(
    spec: PathLike,
    jobs: Optional[int] = None,
    out: Optional[PathLike] = None,
    resume: bool = False,
    shard: Optional[Tuple[int, int]] = None,
    dram: str = "native",
    progress: Optional[Callable[[int, int], Any]] = None,
) -> SweepResult:
    """Runs a sweep spec as ``spatten sweep``; releases the GIL."""
