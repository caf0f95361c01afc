import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from medtransfer.bench import SUITES
from medtransfer.bench.auto_speed import time_auto
from medtransfer.bench.core import Unit
from medtransfer.bench.fit_cost import measure_fit
from medtransfer.bench.heart import HeartSuite
from medtransfer.bench.ray_speed import measure_ray
from medtransfer.bench.speed import SpeedSuite, _part, speed_tables
from medtransfer.bench.stream_speed import STAGES, measure_streaming
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
                       r"a part of the speed suite; its parts are extraction, ray, auto, "
                       r"streaming, demo, coral"):
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


def test_streamed_stages_are_timed_on_a_store_in_a_fresh_process():
    found = measure_streaming(3000, dim=8, chunk=256)
    assert found["rows"] == 3000 and found["features"] == 8
    assert set(found["seconds"]) == set(STAGES) and all(s > 0 for s in found["seconds"].values())
    assert 0 < found["peak_mib"] < 4096 and found["data_mib"] == 3000 * 8 * 4 / 2**20


def test_new_parts_tables_state_ratios_choices_and_memory():
    def record(metric, method, value, source="s", target="n=8", **extra):
        return {"suite": "speed", "source": source, "target": target, "k": 10, "seed": 0,
                "method": method, "metric": metric, "value": value, **extra}

    ray = [record("extract_images_per_s", m, v, images=8, size=32, seconds=1.0)
           for m, v in (("in-process", 100.0), ("ray x1", 80.0), ("ray x2", 150.0))]
    ray += [record("extract_images_per_s", "ray cluster start", None, seconds=4.0)]
    auto = [record("auto_speedup", "auto (heart)", 3.5, "Cleveland", "Hungary", rows=597,
                   before_s=7.0, after_s=2.0, choice="coral", same_choice=True),
            record("auto_speedup", "auto (wbc)", None, "pbc", "bccd", error="not run: no data")]
    stream = [record("stream_fit_s", f"streamed {s}", 2.0, features=4, data_mib=1)
              for s in STAGES]
    stream += [record("stream_peak_mib", "streamed " + "+".join(STAGES), 900.0, features=4,
                      data_mib=1)]
    table = speed_tables(ray + auto + stream, 120, 5120)
    assert "in-process 100, ray x1 80, ray x2 150; 2 vs 1 Ray workers: 1.88x" in table
    assert "(local cluster start, not included: 4.0 s)" in table
    assert "| Cleveland -> Hungary, k=10 | 597 | 7.0 | 2.0 | 3.50x | coral (yes) |" in table
    assert "| pbc | | | | | not run: no data |" in table
    assert "coral 2.0 s, density ratio 2.0 s, head 2.0 s" in table and "peak 900 MiB" in table
    assert {_part(r) for r in ray + auto + stream} == {"ray", "auto", "streaming"}


@pytest.mark.slow
def test_auto_is_timed_with_and_without_reuse_and_chooses_alike():
    found = time_auto(HeartSuite(auto_repeats=1), Unit("Cleveland", "Hungary", 10, 0))
    assert found["same_choice"] and found["rows"] == 597
    assert found["before_s"] > 0 and found["after_s"] > 0
    assert found["speedup"] == found["before_s"] / found["after_s"]


@pytest.mark.slow
def test_ray_part_times_the_in_process_engine_and_each_pool():
    pytest.importorskip("ray.data", reason="Ray Data is not installed")
    records = measure_ray(16, size=32, workers=(1, 2))
    assert [r["method"] for r in records] == ["in-process", "ray x1", "ray x2",
                                              "ray cluster start"]
    assert all(r["value"] > 0 and r["seconds"] > 0 for r in records[:3])
    assert records[-1]["value"] is None and records[-1]["seconds"] > 0
