import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from medtransfer.bench import SUITES
from medtransfer.bench.fit_cost import measure_fit
from medtransfer.bench.speed import SpeedSuite, speed_tables
from medtransfer.params import ParameterError

KEYS = {"suite", "source", "target", "k", "seed", "method", "metric", "value"}


@pytest.mark.slow
def test_fits_are_timed_and_measured_against_skada_in_fresh_processes(tmp_path, monkeypatch):
    monkeypatch.setattr("medtransfer.bench.core.environment", lambda: {})  # spares importing torch
    suite = SUITES.get("speed")(None)
    assert isinstance(suite, SpeedSuite) and suite.name == "speed"
    tiny = SpeedSuite(ns=(200,), n_features=16, methods=("coral",), time_limit_s=30)
    records = tiny.run(tmp_path, seeds=10, only=["coral"], log=lambda line: None)
    assert {(r["method"], r["metric"]) for r in records} == {
        (m, metric) for m in ("coral", "skada:coral") for metric in ("fit_s", "peak_mib")}
    assert all(set(r) >= KEYS and r["target"] == "n=200" and "error" not in r for r in records)
    assert all(0 < r["value"] < 30 for r in records if r["metric"] == "fit_s")
    assert all(r["value"] > 0 for r in records if r["metric"] == "peak_mib")
    assert json.loads((tmp_path / "speed.json").read_text()) == records
    table = (tmp_path / "speed.md").read_text()
    assert "| coral |" in table and " MiB" in table and (tmp_path / "speed.meta.json").is_file()


@pytest.mark.slow
def test_a_fit_over_its_limits_is_reported_not_skipped():
    # skada's TCA builds several n x n matrices and an n x n eigendecomposition
    with ThreadPoolExecutor(2) as pool:  # two independent processes
        slow, big = pool.map(lambda limits: measure_fit("tca", "skada", 2000, 16, **limits),
                             [{"time_limit_s": 0.05}, {"memory_limit_mib": 16}])
    assert slow["fit_s"] is None and slow["error"].startswith("timeout")
    assert big["peak_mib"] is None and big["error"].startswith("out of memory")


@pytest.mark.slow
def test_a_method_out_of_memory_says_how_much_and_what_to_do():
    result = measure_fit("coral", "medtransfer", 20000, 256, memory_limit_mib=40)
    assert result["fit_s"] is None and result["error"].startswith("out of memory: ")
    assert "AlignedEstimator ran out of memory on 20000 rows x 256 features (0.04 GiB" in (
        result["error"])
    assert "Subsample the source rows" in result["error"]


def test_wrong_options_are_refused(tmp_path):
    with pytest.raises(ParameterError, match=r"^SpeedSuite.run\(ks=\[10\]\): does not apply to "
                       r"the speed suite \(it labels no target\); leave it out$"):
        SpeedSuite().run(tmp_path, ks=[10])
    with pytest.raises(ParameterError, match=r"^SpeedSuite.run\(only=\['corral'\]\): corral: not "
                       r"a part of the speed suite; its parts are extraction, demo, streaming, "
                       r"coral"):
        SpeedSuite().run(tmp_path, only=["corral"])


def test_tables_show_extraction_failures_ratios_and_the_demo():
    def record(target, method, metric, value, **extra):
        return {"suite": "speed", "source": "s", "target": target, "k": 0, "seed": 0,
                "method": method, "metric": metric, "value": value, **extra}

    extraction = [record(f"64px-{mode}", "efficientnet_lite0", "images_per_s", value,
                         images=8, threads=1, max_abs_diff=diff)
                  for mode, value, diff in (("eager", 100.0, 0.0), ("torch", 150.0, 2e-6),
                                            ("cached", 9e3, 2e-6))]
    fits = [record("n=10", "kmm", "fit_s", 1.0, features=4),
            record("n=10", "kmm", "peak_mib", 10.0, features=4),
            record("n=10", "skada:kmm", "fit_s", 4.0, features=4),
            record("n=10", "skada:kmm", "peak_mib", 30.0, features=4),
            *(record("n=99", m, metric, None, features=4, error="out of memory: 9 GiB")
              for m in ("kmm", "skada:kmm") for metric in ("fit_s", "peak_mib"))]
    demo = [record("demo-cold", "medtransfer demo", "wall_s", 60.0),
            record("demo-warm", "medtransfer demo", "wall_s", None, error="exit code 1: boom")]
    table = speed_tables(extraction + fits + demo, 120, 5120)
    assert ("| 64 px | 100 | 150 (1.5x; 2e-06) | not installed | 9,000 (90.0x; 2e-06) |"
            in table)
    assert "| kmm | 1.00 / 4.00 s (0.25), 10 / 30 MiB | OOM / OOM s, OOM / OOM MiB |" in table
    assert "- skada:kmm n=99: out of memory: 9 GiB" in table
    assert "cold 60 s, warm failed (exit code 1: boom)" in table


@pytest.mark.slow
def test_only_replaces_its_own_parts_and_keeps_the_others(tmp_path, monkeypatch):
    monkeypatch.setattr("medtransfer.bench.core.environment", lambda: {})
    tiny = SpeedSuite(ns=(200,), n_features=16, methods=("coral", "subspace_alignment"),
                      time_limit_s=30)
    first = tiny.run(tmp_path, only=["coral"], log=lambda line: None)
    second = tiny.run(tmp_path, only=["subspace_alignment"], log=lambda line: None)
    saved = json.loads((tmp_path / "speed.json").read_text())
    assert saved == second and first == [r for r in saved if "coral" in r["method"]]
    assert {r["method"] for r in saved} == {
        "coral", "skada:coral", "subspace_alignment", "skada:subspace_alignment"}
