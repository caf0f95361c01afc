"""The speed suite: extraction throughput, fit time and peak memory against skada, the demo.

``medtransfer bench --suite speed --out DIR`` measures, in one run:

- images/s of the default backbone on random 28x28 images resized to 64/128/224 px: plain
  eager PyTorch of the same weights beside medtransfer's torch and ONNX engines (empty
  cache) and its cache hits, with each output's largest difference to plain eager;
- ``ray``: images/s of ``extract`` to a feature store on 20k images at 64 px, in process and
  on 1 and 2 Ray actors (:mod:`~medtransfer.bench.ray_speed`);
- ``auto``: fit time of ``auto`` on a heart pair and on the WBC images (with ``--data``),
  fold-invariant adaptations reused vs refitted per fold (:mod:`~medtransfer.bench.auto_speed`);
- ``streaming``: CORAL, the density ratio and the final head streamed from a feature store of
  1M x 1,280 float32 rows, seconds per stage and peak memory
  (:mod:`~medtransfer.bench.stream_speed`);
- fit time and peak memory of each medtransfer method that skada also implements, beside
  skada's pipeline of the same method with the same hyper-parameters, on synthetic shifted
  Gaussians of n = 1k/10k/100k rows x 1,280 features. Each fit runs alone in a fresh Python
  process under a time and an address-space limit, so a fit that cannot run at a size is
  recorded as a timeout, out of memory or its error, never left out;
- the wall time of ``medtransfer demo`` in a temporary folder: with an empty cache, then warm.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from medtransfer.bench.auto_speed import auto_lines
from medtransfer.bench.core import Unit
from medtransfer.bench.extraction_speed import engine_table
from medtransfer.bench.fit_cost import SKADA_COUNTERPARTS, measure_fit
from medtransfer.bench.ray_speed import ray_lines
from medtransfer.bench.stream_speed import STAGES
from medtransfer.errors import MedTransferError
from medtransfer.params import ParameterError

PARTS = ("extraction", "ray", "auto", "streaming", "demo")  # --only names these and methods
# auto's units: a heart pair (bundled), and PBC -> BCCD (1,500 + 341 images; needs --data)
AUTO_UNITS = (("heart", Unit("Cleveland", "Hungary", 10, 0)), ("wbc", Unit("pbc", "bccd", 5, 0)))


def measure_extraction(sizes: Sequence[int], n: int,
                       backbone: str = "efficientnet_lite0") -> list[dict]:
    """Images/s of plain eager PyTorch and of medtransfer (torch, onnx, cache hits)."""
    from medtransfer.bench.extraction_speed import measure_engines

    return [_record("random 28x28 gray", r.pop("target"), backbone, "images_per_s",
                    r.pop("value"), **r) for r in measure_engines(sizes, n, backbone)]


def measure_demo(timeout_s: float = 1200.0) -> list[dict]:
    """Wall time of ``medtransfer demo`` in a temporary folder: empty cache, then warm."""
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MEDTRANSFER_CACHE": str(Path(tmp) / "cache")}
        command = [sys.executable, "-c", "from medtransfer.cli import app; app()",
                   "demo", "--quiet", "--force", "--out", str(Path(tmp) / "demo")]
        for mode in ("cold", "warm"):
            start = time.perf_counter()
            try:
                proc = subprocess.run(command, cwd=tmp, env=env, capture_output=True, text=True,
                                      timeout=timeout_s)
                error = (None if proc.returncode == 0 else
                         f"exit code {proc.returncode}: {proc.stderr.strip()[-300:]}")
            except subprocess.TimeoutExpired:
                error = f"timeout: over {timeout_s:g} s"
            seconds = time.perf_counter() - start
            records.append(_record("bundled data", f"demo-{mode}", "medtransfer demo", "wall_s",
                                   None if error else seconds, error=error))
    return records


def _record(source: str, target: str, method: str, metric: str, value: float | None,
            **extra: Any) -> dict:
    record = {"suite": "speed", "source": source, "target": target, "k": 0, "seed": 0,
              "method": method, "metric": metric,
              "value": None if value is None else round(float(value), 3)}
    return record | {key: val for key, val in extra.items() if val is not None}


class SpeedSuite:
    """``medtransfer bench --suite speed``; ``--only`` picks parts (:data:`PARTS`) or method
    names. ``--seeds`` is ignored (every measurement is seeded 0); ``--k`` is refused.

    Parameters
    ----------
    sizes, n_images : extraction image sides and number of images.
    ns, n_features : rows and features of the fit-time data.
    methods : medtransfer methods timed against skada (keys of :data:`SKADA_COUNTERPARTS`).
    time_limit_s, memory_limit_mib : limits on each fit (see :func:`measure_fit`).
    demo : whether to time the demo (about two minutes: cold and warm).
    stream_rows : source plus target rows of the streamed part (``--only streaming``).
    ray_images, ray_size : images and their side for the ``ray`` part.
    data : folder holding ``wbc/`` for the ``auto`` part's WBC unit (None: recorded as not run).
    """

    name = label = "speed"

    def __init__(self, sizes: Sequence[int] = (64, 128, 224), n_images: int = 256,
                 ns: Sequence[int] = (1_000, 10_000, 100_000), n_features: int = 1280,
                 methods: Sequence[str] = tuple(SKADA_COUNTERPARTS), time_limit_s: float = 120.0,
                 memory_limit_mib: int = 5120, demo: bool = True,
                 stream_rows: int = 1_000_000, ray_images: int = 20_000, ray_size: int = 64,
                 data: Path | None = None) -> None:
        self.stream_rows = stream_rows
        self.ray_images, self.ray_size, self.data = ray_images, ray_size, data
        self.sizes, self.n_images, self.ns, self.n_features = sizes, n_images, ns, n_features
        self.methods, self.demo = methods, demo
        self.time_limit_s, self.memory_limit_mib = time_limit_s, memory_limit_mib

    def run(self, out: Path, *, seeds: int = 1, ks: Sequence[int] | None = None,
            only: Sequence[str] | None = None,
            log: Callable[[str], None] | None = None) -> list[dict]:
        """Measure everything (or ``only`` these parts); write ``OUT/speed.json`` and ``.md``."""
        from medtransfer.bench.core import write_results  # not in the fit processes: slow import

        if ks:
            raise ParameterError("SpeedSuite.run", "ks", list(ks), lambda style: (
                "does not apply to the speed suite (it labels no target); leave it out"))
        unknown = sorted(set(only or ()) - {*PARTS, *self.methods})
        if unknown:
            raise ParameterError("SpeedSuite.run", "only", list(only or ()), lambda style: (
                f"{', '.join(unknown)}: not a part of the speed suite; its parts are "
                f"{', '.join([*PARTS, *self.methods])}"))
        log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        wanted = set(only or (*PARTS[:-1], *self.methods, *(("demo",) if self.demo else ())))
        records = []
        if "extraction" in wanted:
            records += measure_extraction(self.sizes, self.n_images)
            log("extraction images/s: "
                + ", ".join(f"{r['target']} {r['value']:.0f}" for r in records))
        if "ray" in wanted:
            records += self.measure_ray(log)
        if "auto" in wanted:
            records += self.measure_auto(log)
        for method in [m for m in self.methods if m in wanted]:
            records += self.measure_method(method, log)
        if "streaming" in wanted:
            records += self.measure_streaming(log)
        if "demo" in wanted:
            records += measure_demo()
            log("demo: " + ", ".join(f"{r['target']} {r['value']} s" for r in records
                                     if r["metric"] == "wall_s"))
        if only:
            records = self._kept(Path(out), wanted) + records
        write_results(self.name, records, speed_tables(records, self.time_limit_s,
                                                       self.memory_limit_mib), Path(out))
        return records

    def _kept(self, out: Path, wanted: set[str]) -> list[dict]:
        """Saved records of the parts not measured again (``--only`` keeps the others)."""
        saved = out / f"{self.name}.json"
        if not saved.is_file():
            return []
        return [r for r in json.loads(saved.read_text()) if _part(r) not in wanted]

    def measure_ray(self, log: Callable[[str], None]) -> list[dict]:
        """``extract`` images/s in process and on 1 and 2 Ray actors."""
        from medtransfer.bench.ray_speed import measure_ray

        found = measure_ray(self.ray_images, self.ray_size)
        records = [_record("random 28x28 gray", f"n={self.ray_images}", r.pop("method"),
                           "extract_images_per_s", r.pop("value"), images=self.ray_images,
                           size=self.ray_size, **r) for r in found]
        log("extract images/s: " + ", ".join(f"{r['method']} {r['value'] or r.get('error')}"
                                              for r in records))
        return records

    def measure_auto(self, log: Callable[[str], None]) -> list[dict]:
        """``auto``'s fit seconds before / after the fold-invariant reuse, per unit."""
        from medtransfer.bench import SUITES
        from medtransfer.bench.auto_speed import time_auto

        records = []
        for name, unit in AUTO_UNITS:
            extra = {}
            try:
                found = time_auto(SUITES.get(name)(self.data), unit)
            except MedTransferError as error:  # the WBC data not given: recorded, not fatal
                found, extra = {"speedup": None}, {"error": f"not run: {error}"[:300]}
            records.append(_record(unit.source, unit.target, f"auto ({name})", "auto_speedup",
                                   found.pop("speedup"), **found, **extra)
                           | {"k": unit.k, "suite_of_unit": name})
            log(f"auto on {name}: {records[-1]}")
        return records

    def measure_streaming(self, log: Callable[[str], None]) -> list[dict]:
        """Seconds of each streamed stage and the fitting process's peak memory."""
        from medtransfer.bench.stream_speed import measure_streaming

        found = measure_streaming(self.stream_rows)
        target, extra = f"n={found['rows']}", {"features": found["features"],
                                               "data_mib": round(found["data_mib"])}
        records = [_record("synthetic store", target, f"streamed {stage}", "stream_fit_s",
                           found["seconds"][stage], **extra) for stage in STAGES]
        records.append(_record("synthetic store", target, "streamed " + "+".join(STAGES),
                               "stream_peak_mib", found["peak_mib"], **extra))
        log(f"streamed {found['rows']} rows: {found['seconds']} s, peak "
            f"{found['peak_mib']:.0f} MiB (data {found['data_mib']:.0f} MiB)")
        return records

    def measure_method(self, method: str, log: Callable[[str], None]) -> list[dict]:
        """Both implementations at every n; after a timeout or out of memory the larger sizes
        are recorded as not run (they would only fail slower)."""
        records: list[dict] = []
        gave_up: dict[str, str] = {}
        for n in self.ns:
            for impl in ("medtransfer", "skada"):  # back to back: the same machine load
                if impl in gave_up:
                    result = {"fit_s": None, "peak_mib": None, "error": gave_up[impl]}
                else:
                    result = measure_fit(method, impl, n, self.n_features, seed=0,
                                         time_limit_s=self.time_limit_s,
                                         memory_limit_mib=self.memory_limit_mib)
                    kind = (result["error"] or "").split(":")[0]
                    if kind in ("timeout", "out of memory", "crashed"):
                        gave_up[impl] = f"not run: {kind} at n={n}"
                name = method if impl == "medtransfer" else f"skada:{method}"
                extra = {"features": self.n_features, "error": result["error"],
                         "note": result.get("note")}
                records += [_record("synthetic", f"n={n}", name, metric, result[metric], **extra)
                            for metric in ("fit_s", "peak_mib")]
                log(f"{name} n={n}: " + (result["error"] or f"{result['fit_s']:.2f} s, "
                                         f"{result['peak_mib']:.0f} MiB"))
        return records


def speed_tables(records: list[dict], time_limit_s: float, memory_limit_mib: int) -> str:
    """Markdown: extraction table, adaptation table (medtransfer / skada), demo line."""
    lines = []
    extraction = [r for r in records if r["metric"] == "images_per_s"]
    if extraction:
        lines += engine_table(extraction)
    fits = {(r["method"], r["target"], r["metric"]): r for r in records
            if r["metric"] in ("fit_s", "peak_mib")}
    if fits:
        lines += _adaptation_table(fits, time_limit_s, memory_limit_mib)
    ray = [r for r in records if r["metric"] == "extract_images_per_s"]
    if ray:
        lines += ray_lines(ray)
    auto = [r for r in records if r["metric"] == "auto_speedup"]
    if auto:
        lines += auto_lines(auto)
    streamed = {r["method"]: r for r in records if r["metric"].startswith("stream_")}
    if streamed:
        lines += _streaming_lines(streamed)
    demo = {r["target"]: r for r in records if r["metric"] == "wall_s"}
    if demo:
        parts = [f"{mode} {demo[f'demo-{mode}']['value']:.0f} s" if demo[f"demo-{mode}"]["value"]
                 is not None else f"{mode} failed ({demo[f'demo-{mode}']['error']})"
                 for mode in ("cold", "warm")]
        lines.append(f"Demo end to end (`medtransfer demo`, empty cache then warm): "
                     f"{', '.join(parts)}.")
    return "\n".join(lines).rstrip()


def _streaming_lines(streamed: dict[str, dict]) -> list[str]:
    peak = streamed["streamed " + "+".join(STAGES)]
    stages = ", ".join(f"{stage.replace('_', ' ')} {streamed[f'streamed {stage}']['value']:.1f} s"
                       for stage in STAGES)
    return [f"Streamed from a feature store read shard by shard ({peak['target']} rows x "
            f"{peak['features']} float32 features, {peak['data_mib']:,} MiB; half source, half "
            f"target): {stages} (one pass each; the head on CORAL's features weighted by the "
            f"density ratio); peak {peak['value']:,.0f} MiB resident.", ""]


def _adaptation_table(fits: dict, time_limit_s: float, memory_limit_mib: int) -> list[str]:
    methods = list(dict.fromkeys(m for m, _, _ in fits if not m.startswith("skada:")))
    sizes = list(dict.fromkeys(t for _, t, _ in fits))
    features = next(iter(fits.values()))["features"]
    lines = [f"#### Adaptation fit, medtransfer / skada ({features} features; n rows, half "
             "source, half target)", "",
             "Each cell: fit seconds medtransfer / skada (ratio; < 1: medtransfer faster), then "
             "peak MiB above the data medtransfer / skada. Each fit ran alone in a fresh process "
             f"limited to {time_limit_s:g} s and {memory_limit_mib} MiB.", "",
             "| method | " + " | ".join(sizes) + " |", "|---" * (len(sizes) + 1) + "|"]
    notes = []
    for method in methods:
        cells = []
        for size in sizes:
            mine, theirs = (fits.get((name, size, "fit_s")) for name in (method, f"skada:{method}"))
            if mine is None or theirs is None:
                cells.append("")
                continue
            cell = f"{_short(mine)} / {_short(theirs)} s"
            if mine["value"] and theirs["value"]:
                cell += f" ({mine['value'] / theirs['value']:.2f})"
            mem = [fits[(r["method"], size, "peak_mib")] for r in (mine, theirs)]
            cells.append(cell + f", {_short(mem[0], 0)} / {_short(mem[1], 0)} MiB")
            notes += [f"- {r['method']} {size}: {r['error']}" for r in (mine, theirs)
                      if r.get("error") and not r["error"].startswith("not run")]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
        subsampled = next((r for s in reversed(sizes) if (r := fits.get((method, s, "fit_s")))
                           and r.get("note")), None)
        if subsampled:
            notes.append(f"- {method} {subsampled['target']} warned: {subsampled['note']}")
    return [*lines, "", *[note[:400] for note in notes], ""]


def _short(record: dict, digits: int = 2) -> str:
    if record["value"] is not None:
        return f"{record['value']:.{digits}f}"
    return {"out of memory": "OOM"}.get(kind := record["error"].split(":")[0], kind)


def _part(record: dict) -> str:
    """The ``--only`` part a speed record belongs to: extraction, demo or a method name."""
    if record["metric"] == "images_per_s":
        return "extraction"
    if record["metric"] == "wall_s":
        return "demo"
    if record["metric"].startswith("stream_"):
        return "streaming"
    if record["metric"] in ("extract_images_per_s", "auto_speedup"):
        return {"extract_images_per_s": "ray", "auto_speedup": "auto"}[record["metric"]]
    return record["method"].removeprefix("skada:")
