"""A/A calibration: how far this machine's medians drift between runs of the same code, stored for compare.

Some drift lasts longer than a whole run (a point 42 % slower for all of one run), so nothing inside one run
can see it; only runs of the *same* code can. ``dlplayground calibrate`` takes two or more such runs of this
machine (existing files, or ``--runs N`` fresh ``dlplayground bench`` runs), estimates the run-to-run drift
``sigma_run`` with ``dlplayground.bench.noise.estimate_run_sigma`` (the one estimator; a compare with several
runs per side uses it too) and writes it as a ``NoiseProfile``. A compare of one run per side on the same
machine then loads the profile and judges changes against it instead of the conservative default.

A profile belongs to a *machine key*: the device's name (the CPU model on a CPU, the GPU model on a GPU),
the device type, the dtype and the thread count, since each of these changes how a run drifts. Profiles live
in ``$XDG_CACHE_HOME/dlplayground/noise/<machine key>.json`` (``~/.cache/...`` without ``XDG_CACHE_HOME``), one
per key, or wherever ``-o`` puts them.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dlplayground.atomic import atomic_write_text
from dlplayground.bench.noise import PointNoise, estimate_run_sigma, point_noise
from dlplayground.errors import UserInputError
from dlplayground.results import BATCH_SIZE_STUDY, Envelope, record_from_dict, to_json

PROFILE_SCHEMA = 1
DEFAULT_RESAMPLES = 1000
METHOD = ("sigma_run = sqrt(max(0, pooled variance of each point's log median between runs - pooled mean "
          "within-run se^2)), se from each run's two-level bootstrap over passes "
          "(dlplayground.bench.noise.estimate_run_sigma)")
ROUGH_BELOW_DOF = 20
"""Degrees of freedom under which calibrate says its estimate is rough (the SD of a variance estimate from
k degrees of freedom is sqrt(2/k) of it: over 30 % below 20)."""
PointKey = tuple[str, str, str, int]
"""model, device, dtype, batch size: how points are matched between runs."""


# ------------------------------------------------------------------------------------------- machine
@dataclass(frozen=True)
class MachineKey:
    """What a noise profile belongs to: runs with a different key drift differently."""

    name: str
    """The device's name: the CPU model on a CPU, the GPU model on a GPU (``environment["device_name"]``)."""
    device_type: str
    """cpu, cuda or mps."""
    dtype: str
    threads: int

    @property
    def slug(self) -> str:
        """A file-name-safe form of the key, for the default profile location."""
        text = f"{self.device_type}-{self.name}-{self.dtype}-{self.threads}t"
        return re.sub(r"[^A-Za-z0-9._]+", "-", text).strip("-._").lower()[:150] or "unknown"

    def text(self) -> str:
        return f"{self.name} ({self.device_type}, {self.dtype}, {self.threads} threads)"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> MachineKey:
        return record_from_dict(cls, data)


def machine_key(envelope: Envelope) -> MachineKey:
    """The machine key of a batch-size run, from its environment fingerprint and its records."""
    env = envelope.environment
    records = envelope.records
    device = str(env.get("device") or (records[0].device if records else "unknown"))
    dtypes = sorted({r.dtype for r in records}) or [str(envelope.config.get("dtype", "unknown"))]
    threads = records[0].threads if records else int(env.get("torch_threads") or 0)
    return machine_key_of(env, device, "+".join(dtypes), threads)


def machine_key_of(environment: Mapping[str, Any], device: str, dtype: str, threads: int) -> MachineKey:
    """The machine key from an environment fingerprint (``devices.environment_fingerprint``) and run settings."""
    name = str(environment.get("device_name") or environment.get("cpu_model") or "unknown")
    return MachineKey(name=name, device_type=device.split(":")[0], dtype=dtype, threads=threads)


def stored_profile_for(envelopes: Sequence[Envelope]) -> tuple[NoiseProfile | None, str | None]:
    """The stored profile of the machine all ``envelopes`` come from, with its path; (None, None) when they
    come from several machines or none was stored (a corrupt one is an error)."""
    keys = {machine_key(e) for e in envelopes}
    found = find_profile(keys.pop()) if len(keys) == 1 else None
    return (found[0], str(found[1])) if found is not None else (None, None)


# ------------------------------------------------------------------------------------------- runs
def label(envelope: Envelope, default: str = "run") -> str:
    return str(envelope.source) if envelope.source is not None else default


def require_batch_runs(envelopes: Sequence[Envelope], what: str) -> None:
    """Refuse anything but batch-size runs with points; the message names the file."""
    for env in envelopes:
        if env.study != BATCH_SIZE_STUDY:
            raise UserInputError(f"{label(env)}: {what} works on batch-size results, this is a {env.study!r} result")
        if not env.records:
            raise UserInputError(f"{label(env)}: holds no benchmark points")


def noise_by_point(envelopes: Sequence[Envelope], *, resamples: int = DEFAULT_RESAMPLES,
                   seed: int = 0) -> tuple[dict[PointKey, tuple[PointNoise, ...]], list[PointKey]]:
    """Each point's ``PointNoise`` in every run, for the points present in all runs; and the points that are not.

    Every run's interval comes from its own passes (``point_noise``, seeded per point).
    """
    indexes = [{(r.model, r.device, r.dtype, r.batch_size): r for r in env.records} for env in envelopes]
    everywhere = set.intersection(*(set(i) for i in indexes))
    partial = sorted(set.union(*(set(i) for i in indexes)) - everywhere)
    series = {key: tuple(point_noise(index[key], resamples=resamples, seed=seed) for index in indexes)
              for key in sorted(everywhere)}
    return series, partial


# ------------------------------------------------------------------------------------------- profile
@dataclass(frozen=True)
class NoiseProfile:
    """A machine's measured run-to-run drift, written by ``dlplayground calibrate`` and read by compare."""

    machine: MachineKey
    run_sigma: float
    """SD of a point's log median between runs beyond its within-run interval."""
    points: int
    """Points the estimate pooled over."""
    runs: int
    degrees_of_freedom: int
    created: str
    sources: tuple[str, ...]
    """The runs it was computed from (files, or the bench options of the runs calibrate made)."""
    method: str = METHOD
    schema: int = PROFILE_SCHEMA

    def __post_init__(self) -> None:
        if self.schema != PROFILE_SCHEMA:
            raise ValueError(f"schema {self.schema} is not supported (expected {PROFILE_SCHEMA})")
        if not 0 <= self.run_sigma < 10:
            raise ValueError(f"run_sigma must be in [0, 10), got {self.run_sigma}")
        if self.runs < 2 or self.points < 1 or self.degrees_of_freedom < 1:
            raise ValueError(f"a profile needs >= 2 runs, >= 1 point and >= 1 degree of freedom, got runs "
                             f"{self.runs}, points {self.points}, degrees of freedom {self.degrees_of_freedom}")

    def describe(self) -> str:
        return (f"{self.points} points x {self.runs} runs, {self.degrees_of_freedom} degrees of freedom, "
                f"created {self.created}")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["sources"] = list(self.sources)
        return out

    @classmethod
    def from_dict(cls, data: Any) -> NoiseProfile:
        return record_from_dict(cls, data, nested={"machine": MachineKey.from_dict})


def profile_from_envelopes(envelopes: Sequence[Envelope], *, sources: Sequence[str] | None = None,
                           resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                           created: str | None = None) -> NoiseProfile:
    """The noise profile of two or more runs of the same code on one machine; ``UserInputError`` otherwise."""
    if len(envelopes) < 2:
        raise UserInputError(f"calibrate needs at least two runs of the same code on this machine, got "
                             f"{len(envelopes)}")
    require_batch_runs(envelopes, "calibrate")
    keys = {machine_key(env) for env in envelopes}
    if len(keys) > 1:
        listing = "; ".join(f"{label(env)}: {machine_key(env).text()}" for env in envelopes)
        raise UserInputError(f"calibrate: the runs are from different machines or settings ({listing}); "
                             "calibrate each machine from its own runs")
    series, _ = noise_by_point(envelopes, resamples=resamples, seed=seed)
    try:
        drift = estimate_run_sigma(series.values())
    except ValueError as exc:
        names = ", ".join(label(env) for env in envelopes)
        raise UserInputError(f"calibrate: {names}: {exc}") from None
    return NoiseProfile(
        machine=keys.pop(), run_sigma=drift.run_sigma, points=drift.points, runs=len(envelopes),
        degrees_of_freedom=drift.degrees_of_freedom,
        created=created or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        sources=tuple(sources if sources is not None else (label(env) for env in envelopes)),
    )


def profile_folder() -> Path:
    """``$XDG_CACHE_HOME/dlplayground/noise`` (``~/.cache/dlplayground/noise`` without it)."""
    cache = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(cache) if cache and Path(cache).is_absolute() else Path.home() / ".cache"
    return base / "dlplayground" / "noise"


def default_profile_path(key: MachineKey) -> Path:
    return profile_folder() / f"{key.slug}.json"


def write_profile(profile: NoiseProfile, path: Path | None = None) -> Path:
    """Write ``profile`` atomically to ``path`` (default: its machine's location); returns the path."""
    return atomic_write_text(path or default_profile_path(profile.machine), to_json(profile.to_dict()) + "\n")


def read_profile(path: Path | str) -> NoiseProfile:
    """Read a noise profile strictly; ``UserInputError`` naming the file when it is missing, corrupt or foreign."""
    path = Path(path)
    fix = "write it with `dlplayground calibrate`"
    if not path.is_file():
        raise UserInputError(f"noise profile {str(path)!r} does not exist or is not a file; {fix}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return NoiseProfile.from_dict(data)
    except (UnicodeDecodeError, json.JSONDecodeError, TypeError, ValueError) as exc:
        detail = f"not valid JSON ({exc.msg})" if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise UserInputError(f"noise profile {str(path)!r} is not a DL-Playground noise profile: {detail}; "
                             f"{fix} again") from None


def find_profile(key: MachineKey) -> tuple[NoiseProfile, Path] | None:
    """The stored profile of this machine key, if ``calibrate`` wrote one (a corrupt one is an error)."""
    path = default_profile_path(key)
    return (read_profile(path), path) if path.exists() else None


# ------------------------------------------------------------------------------------------- runs
BenchRunner = Callable[[list[str]], int]
"""Runs ``dlplayground`` with the given arguments and returns its exit code."""


class BenchRunError(RuntimeError):
    """A bench run made by calibrate failed; ``code`` is its exit code."""

    def __init__(self, index: int, runs: int, code: int) -> None:
        super().__init__(f"calibrate: bench run {index} of {runs} failed (exit code {code}); no profile written")
        self.code = code


def bench_in_subprocess(argv: list[str]) -> int:
    """``python -m dlplayground ARGV`` in a fresh process: each run starts cold, as separate runs of a user do."""
    return subprocess.run([sys.executable, "-m", "dlplayground", *argv], check=False).returncode


def run_benches(runs: int, bench_args: Sequence[str], folder: Path, *,
                run_bench: BenchRunner = bench_in_subprocess) -> list[Path]:
    """Run ``dlplayground bench BENCH_ARGS -o folder/run-I.json`` ``runs`` times; the results files."""
    if runs < 2:
        raise UserInputError(f"--runs must be >= 2 (drift between runs needs two of them), got {runs}")
    if any(a in ("-o", "--out") or a.startswith("--out=") for a in bench_args):
        raise UserInputError("calibrate sets the bench's -o/--out itself; leave it out of the bench options "
                             "(use calibrate's -o for the profile)")
    paths = []
    for i in range(1, runs + 1):
        out = folder / f"run-{i}.json"
        code = run_bench(["bench", *bench_args, "-o", str(out)])
        if code != 0:
            raise BenchRunError(i, runs, code)
        paths.append(out)
    return paths
