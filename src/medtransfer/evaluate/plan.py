"""A site-adaptation plan: what a run may change and what it must achieve.

In the spirit of the FDA's predetermined change control plan, the plan is written before
the adaptation and declares the allowed methods and recalibrations, acceptance bounds (lower
95% limits on AUROC and sensitivity, a calibration-slope range, a floor for every subgroup)
and the sequestered test set; :func:`check_plan` checks a run against it and writes what
changed from the source model, why, and on what evidence.
"""

from __future__ import annotations

import difflib
import json
from math import nan
from pathlib import Path
from typing import Any

from medtransfer.errors import ConfigError, DataError

MIN_CLASS_CASES = 10
RECALIBRATED = "+recalibrated"
LOWER_BOUNDS = ("auroc_lower", "sensitivity_lower", "specificity_lower", "subgroup_auroc_floor")
DEFAULT_PLAN: dict[str, Any] = {
    "version": 1,
    "allowed_methods": ["source_only", "target_only", "pooled", "coral", "subspace_alignment",
                        "adaptive_logreg", "adaptive_svm", "label_shift", "kmm", "kliep"],
    "allowed_recalibration": ["none", "temperature", "platt", "isotonic"],
    "acceptance": {
        "auroc_lower": 0.70,
        "sensitivity_lower": 0.70,
        "specificity_lower": None,
        "calibration_slope": [0.7, 1.3],
        "subgroup_auroc_floor": 0.60,
        "max_leaked_cases": 0,
    },
    "sequestered_test": {"ids_file": None, "min_cases": 100},
}


def _unknown(path: Path, where: str, given: dict, allowed: dict) -> None:
    for key in given:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), list(allowed), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(f"{path}: unknown key {key!r} in {where}; {hint}allowed: "
                              f"{', '.join(allowed)}")


def _probability(path: Path, key: str, value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                              or not 0.0 <= value <= 1.0):
        raise ConfigError(f"{path}: acceptance.{key} = {value!r} is impossible; a lower "
                          "confidence limit is a number in [0, 1] (or null for no bound)")


def check_bounds(path: Path, plan: dict) -> None:
    """Refuse bounds no run could meet or that are not numbers."""
    acceptance = plan["acceptance"]
    for key in LOWER_BOUNDS:
        _probability(path, key, acceptance.get(key))
    slope = acceptance.get("calibration_slope")
    if slope is not None and not (
            isinstance(slope, list) and len(slope) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in slope)
            and 0 < slope[0] < slope[1]):
        raise ConfigError(f"{path}: acceptance.calibration_slope = {slope!r} is impossible; "
                          "give [low, high] with 0 < low < high, e.g. [0.7, 1.3]")
    leaked = acceptance.get("max_leaked_cases")
    if leaked is not None and (not isinstance(leaked, int) or leaked < 0):
        raise ConfigError(f"{path}: acceptance.max_leaked_cases = {leaked!r}; use a whole "
                          "number >= 0")
    minimum = plan["sequestered_test"].get("min_cases")
    if minimum is not None and (not isinstance(minimum, int) or minimum < 1):
        raise ConfigError(f"{path}: sequestered_test.min_cases = {minimum!r}; use a whole "
                          "number >= 1")
    for key in ("allowed_methods", "allowed_recalibration"):
        value = plan[key]
        if not (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
            raise ConfigError(f"{path}: {key} must be a non-empty list of names")


def load_plan(path: Path) -> dict[str, Any]:
    """Read and check a plan file; unknown keys and impossible bounds are refused.

    Returns
    -------
    dict
        The plan with every key present (defaults filled in) and ``sequestered_ids``: the
        ids listed in ``sequestered_test.ids_file`` (relative to the plan's folder).
    """
    path = Path(path)
    try:
        given = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such plan file; write one with `medtransfer plan init "
                          f"-o {path}`") from None
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(given, dict):
        raise ConfigError(f"{path}: a plan is a JSON object; see `medtransfer plan init`")
    _unknown(path, "the plan", given, DEFAULT_PLAN)
    plan = {**DEFAULT_PLAN, **given}
    for part in ("acceptance", "sequestered_test"):
        if not isinstance(plan[part], dict):
            raise ConfigError(f"{path}: {part} must be an object")
        _unknown(path, part, plan[part], DEFAULT_PLAN[part])
        plan[part] = {**DEFAULT_PLAN[part], **plan[part]}
    check_bounds(path, plan)
    plan["sequestered_ids"] = read_sequestered(path, plan["sequestered_test"].get("ids_file"))
    return plan


def read_sequestered(path: Path, ids_file: str | None) -> list[str]:
    """The sequestered ids, one a line, from a file relative to the plan."""
    if ids_file is None:
        return []
    file = (path.parent / ids_file) if not Path(ids_file).is_absolute() else Path(ids_file)
    if not file.is_file():
        raise ConfigError(f"{path}: sequestered_test.ids_file {str(file)!r} does not exist")
    return [line.strip() for line in file.read_text().splitlines() if line.strip()]


def check_heldout_size(plan: dict, n_positive: int, n_negative: int) -> None:
    """Refuse a held-out set too small to estimate the plan's lower bounds."""
    bounded = [k for k in ("auroc_lower", "sensitivity_lower", "specificity_lower")
               if plan["acceptance"].get(k) is not None]
    if bounded and min(n_positive, n_negative) < MIN_CLASS_CASES:
        raise DataError(
            f"held-out target has {n_positive} positive and {n_negative} negative cases: too "
            f"few to estimate the plan's {', '.join(bounded)} (a lower 95% limit needs at "
            f"least {MIN_CLASS_CASES} of each); label fewer target samples or add target cases")


def _lower_limit(entry: Any) -> float | None:
    return entry.get("low") if isinstance(entry, dict) else None


def _criterion(name: str, required: str, observed: Any, passed: bool) -> dict[str, Any]:
    return {"criterion": name, "required": required, "observed": observed, "passed": passed}


def acceptance_checks(plan: dict, manifest: dict, subgroup_auroc: dict[str, float]) -> list:
    """One record per acceptance bound of the plan that is set."""
    bounds = plan["acceptance"]
    chosen = str(manifest.get("method"))
    metrics = (manifest.get("metrics") or {}).get(chosen) or {}
    point = ((manifest.get("validation") or {}).get("operating_point") or {}).get("heldout") or {}
    checks = []
    for key, metric in (("auroc_lower", "auroc"), ("sensitivity_lower", "sensitivity"),
                        ("specificity_lower", "specificity")):
        if bounds.get(key) is not None:
            low = _lower_limit(point.get(metric) or metrics.get(metric))
            checks.append(_criterion(f"lower 95% limit of {metric}", f">= {bounds[key]}",
                                     low, low is not None and low >= bounds[key]))
    if bounds.get("calibration_slope") is not None:
        lo, hi = bounds["calibration_slope"]
        # a recalibrated run serves the recalibrated probabilities: judge those
        served = (manifest.get("metrics") or {}).get(chosen + RECALIBRATED) or metrics
        slope = (served.get("calibration_slope") or {}).get("value")
        checks.append(_criterion("calibration slope", f"in [{lo}, {hi}]", slope,
                                 slope is not None and lo <= slope <= hi))
    if bounds.get("subgroup_auroc_floor") is not None:
        floor = bounds["subgroup_auroc_floor"]
        for group, auroc in subgroup_auroc.items():
            checks.append(_criterion(f"AUROC in subgroup {group}", f">= {floor}", auroc,
                                     auroc >= floor))
    if bounds.get("max_leaked_cases") is not None:
        leak = manifest.get("leakage") or {}
        scored = int(leak.get("n_flagged") or 0) - int(leak.get("dropped") or 0)
        checks.append(_criterion("held-out duplicates scored", f"<= {bounds['max_leaked_cases']}",
                                 scored, scored <= bounds["max_leaked_cases"]))
    return checks


def change_checks(plan: dict, manifest: dict, labelled_ids: list[str]) -> list:
    """The run's method and recalibration allowed, and the sequestered test set untouched."""
    method = str(manifest.get("chosen_method") or manifest.get("method"))
    recalibration = str(manifest.get("recalibrate") or "none")
    n_heldout = int(((manifest.get("leakage") or {}).get("roles") or {}).get(
        "held-out target", 0)) - int((manifest.get("leakage") or {}).get("dropped") or 0)
    used = sorted(set(plan.get("sequestered_ids") or []) & set(labelled_ids))
    checks = [
        _criterion("method allowed", ", ".join(plan["allowed_methods"]), method,
                   method in plan["allowed_methods"]),
        _criterion("recalibration allowed", ", ".join(plan["allowed_recalibration"]),
                   recalibration, recalibration in plan["allowed_recalibration"]),
        _criterion("sequestered cases used for fitting", "0", len(used), not used),
    ]
    minimum = plan["sequestered_test"].get("min_cases")
    if minimum is not None:
        checks.append(_criterion("held-out cases scored", f">= {minimum}", n_heldout,
                                 n_heldout >= minimum))
    return checks


def change_log(manifest: dict) -> list[dict[str, str]]:
    """What changed from the source model, why, and the evidence for it."""
    metrics = manifest.get("metrics") or {}
    chosen = str(manifest.get("method"))
    method = str(manifest.get("chosen_method") or chosen)
    reason = (manifest.get("selection") or {}).get("reason") or "fixed by the user"

    def auroc(name: str) -> str:
        entry = (metrics.get(name) or {}).get("auroc") or {}
        return (f"{name} AUROC {entry['value']:.3f} ({entry['low']:.3f}, {entry['high']:.3f})"
                if "value" in entry else f"{name}: not scored")

    log = [{"change": f"model carried from the source with {method}" if method != "source_only"
            else "source model used unchanged (source_only)",
            "why": str(reason), "evidence": f"{auroc(chosen)} vs {auroc('source_only')} on the "
            "held-out target"}]
    if manifest.get("recalibrate"):
        slope = {n: (metrics.get(n) or {}).get("calibration_slope", {}).get("value", nan)
                 for n in (chosen, chosen + RECALIBRATED)}
        log.append({"change": f"probabilities recalibrated ({manifest['recalibrate']}) on the "
                    "labelled target cases", "why": "--recalibrate",
                    "evidence": f"held-out calibration slope before {slope[chosen]:.3f}, "
                    f"after {slope[chosen + RECALIBRATED]:.3f}"})
    point = (manifest.get("validation") or {}).get("operating_point")
    if point:
        sens = (point.get("heldout") or {}).get("sensitivity") or {}
        log.append({"change": f"decision threshold {point['threshold']:.3f}",
                    "why": str(point.get("rule")),
                    "evidence": f"held-out sensitivity {sens.get('value', float('nan')):.3f} "
                    f"({sens.get('low', float('nan')):.3f}, {sens.get('high', float('nan')):.3f})"})
    dropped = int((manifest.get("leakage") or {}).get("dropped") or 0)
    if dropped:
        log.append({"change": f"{dropped} duplicated held-out cases not scored",
                    "why": "--dedupe drop", "evidence": "leakage check"})
    return log


def check_plan(plan: dict, manifest: dict, *, labelled_ids: list[str],
               subgroup_auroc: dict[str, float]) -> dict[str, Any]:
    """Check a run's manifest against ``plan`` (from :func:`load_plan`).

    Returns
    -------
    dict
        ``passed``, ``checks`` (criterion, required, observed, passed) and ``change_log``.
    """
    checks = [*change_checks(plan, manifest, labelled_ids),
              *acceptance_checks(plan, manifest, subgroup_auroc)]
    return {"passed": all(c["passed"] for c in checks), "checks": checks,
            "change_log": change_log(manifest),
            "plan": {k: v for k, v in plan.items() if k != "sequestered_ids"}}
