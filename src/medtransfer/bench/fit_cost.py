"""Fit time and peak memory of one adaptation method, alone in a fresh Python process.

The speed suite (:mod:`medtransfer.bench.speed`) compares medtransfer's registered methods with
skada's pipelines of the same methods. Each fit runs in its own process so that its peak
resident memory is its own (Linux's ``VmHWM``, reset just before the fit) and so that a time
limit (``SIGALRM``) and an address-space limit (``RLIMIT_AS``) can stop it: a fit that cannot
run at a size is reported as a timeout, out of memory or its error.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from typing import Any

import numpy as np

# medtransfer method -> skada adapter of the same method (see skada_adapter for the settings)
SKADA_COUNTERPARTS = {
    "coral": "CORALAdapter",
    "subspace_alignment": "SubspaceAlignmentAdapter",
    "ot_entropic": "EntropicOTMappingAdapter",
    "density_ratio": "DiscriminatorReweightAdapter",  # both: a source-vs-target classifier
    "kmm": "KMMReweightAdapter",
    "tca": "TransferComponentAnalysisAdapter",
}
_RESULT = "SPEED-RESULT "


def skada_adapter(method: str, n: int, d: int) -> Any:
    """skada's adapter for ``method``, set as medtransfer's registered method sets its own."""
    import skada
    from sklearn.linear_model import LogisticRegression

    settings: dict[str, dict[str, Any]] = {
        "coral": {"reg": "auto"},
        "subspace_alignment": {"n_components": min(n // 2, d), "random_state": 0},
        "ot_entropic": {"reg_e": 1.0, "norm": "median"},
        "density_ratio": {"domain_classifier": LogisticRegression(C=1.0, max_iter=2000)},
        "kmm": {"gamma": 1.0 / d, "B": 10.0, "max_iter": 1000},
        "tca": {"n_components": 20, "mu": 1.0},
    }
    return getattr(skada, SKADA_COUNTERPARTS[method])(**settings[method])


def synthetic_shift(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n rows x d float64 features, the first half source, the rest a shifted target.

    The target is scaled by 1.5 and moved by a random mean; source labels follow a noisy
    linear rule, target labels are hidden (-1). Built in place, so that generating the data
    uses no more memory than holding it.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    half = n // 2
    X[half:] *= 1.5
    X[half:] += rng.normal(0.0, 0.5, d)
    score = X[:half] @ (rng.standard_normal(d) / np.sqrt(d)) + 0.5 * rng.standard_normal(half)
    y = np.full(n, -1)
    y[:half] = score > 0
    return X, y, np.where(np.arange(n) < half, 1, -2)


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


def _fit_child() -> None:
    """Run one fit described by the JSON on stdin; print the result after ``_RESULT``."""
    import gc
    import resource
    import warnings

    from sklearn import config_context
    from sklearn.linear_model import LogisticRegression

    spec = json.loads(sys.stdin.read())
    method, n, d = spec["method"], spec["n"], spec["d"]
    routing = spec["impl"] == "skada"  # skada needs metadata routing (see competitors.py)
    if routing:
        import skada
        from sklearn.preprocessing import StandardScaler

        with config_context(enable_metadata_routing=True):
            final = LogisticRegression().set_fit_request(sample_weight=True)
            model = skada.make_da_pipeline(StandardScaler(), skada_adapter(method, n, d), final)
    else:
        from medtransfer.adapt.base import METHODS

        model = METHODS.get(method).build(LogisticRegression(), spec["seed"])
    X, y, domain = synthetic_shift(n, d, spec["seed"])
    gc.collect()
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # reset the peak RSS (VmHWM) to the current RSS
    before = _status_kib("VmRSS")
    room = _status_kib("VmSize") * 1024 + spec["memory_limit_mib"] * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (room, resource.getrlimit(resource.RLIMIT_AS)[1]))
    error = None
    # SIGALRM's default action ends the process even inside BLAS: the parent reads a timeout.
    signal.setitimer(signal.ITIMER_REAL, spec["time_limit_s"])
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught, \
            config_context(enable_metadata_routing=routing):
        warnings.simplefilter("always")
        try:
            model.fit(X, y, sample_domain=domain)
        except MemoryError as err:
            error = f"out of memory: {err} (limit {spec['memory_limit_mib']} MiB)"
        except Exception as err:  # recorded: the table says what went wrong
            error = f"{type(err).__name__}: {err}"
    seconds = time.perf_counter() - start
    signal.setitimer(signal.ITIMER_REAL, 0)
    notes = sorted({str(w.message) for w in caught if w.category.__name__ not in
                    ("ConvergenceWarning", "FutureWarning", "DeprecationWarning")})
    print(_RESULT + json.dumps({
        "fit_s": None if error else seconds,
        "peak_mib": None if error else (_status_kib("VmHWM") - before) / 1024,
        "error": error, "note": " | ".join(notes)[:400] or None,
    }), flush=True)


def measure_fit(method: str, impl: str, n: int, d: int, *, time_limit_s: float = 120.0,
                memory_limit_mib: int = 5120, seed: int = 0) -> dict[str, Any]:
    """Fit time and peak memory of one method at one size, in a fresh process.

    Parameters
    ----------
    method : str
        A key of :data:`SKADA_COUNTERPARTS`.
    impl : {"medtransfer", "skada"}
        medtransfer's registered method, or skada's pipeline of the same method.
    n, d : int
        Rows (half source, half target) and features of the synthetic data.
    time_limit_s : float
        Limit on the fit alone (imports and data generation are not counted).
    memory_limit_mib : int
        Address space the fit may add to what the process holds before it.
    seed : int
        Seed of the data and of the method.

    Returns
    -------
    dict
        ``fit_s`` (wall time of ``fit``), ``peak_mib`` (peak resident memory above what the
        process held before the fit: the data are not counted), ``error`` (None, or
        "timeout: ...", "out of memory: ...", "crashed: ...", "<Exception>: ...") and
        ``note`` (the fit's warnings, e.g. that it subsampled).
    """
    spec = {"method": method, "impl": impl, "n": n, "d": d, "seed": seed,
            "time_limit_s": time_limit_s, "memory_limit_mib": memory_limit_mib}
    failed = {"fit_s": None, "peak_mib": None, "note": None}
    child = "from medtransfer.bench.fit_cost import _fit_child; _fit_child()"
    try:
        proc = subprocess.run([sys.executable, "-c", child], input=json.dumps(spec),
                              capture_output=True, text=True, timeout=time_limit_s + 300)
    except subprocess.TimeoutExpired:
        return {**failed, "error": f"timeout: no result within {time_limit_s + 300:.0f} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(_RESULT):
            return json.loads(line[len(_RESULT):])
    if proc.returncode == -signal.SIGALRM:
        return {**failed, "error": f"timeout: fit ran over {time_limit_s:g} s"}
    if proc.returncode < 0:  # e.g. a library that aborts when an allocation fails
        cause = (f"killed by {signal.Signals(-proc.returncode).name} (over the "
                 f"{memory_limit_mib} MiB limit?)")
    else:
        cause = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
    return {**failed, "error": f"crashed: {cause[-300:]}"}
