import numpy as np
import pytest
from typer.testing import CliRunner

from medtransfer.bench.core import Unit, run_unit
from medtransfer.bench.results import END, START, update_readme
from medtransfer.bench.warfarin import WarfarinSuite
from medtransfer.cli import app
from medtransfer.evaluate.dosing import mae, pw20
from medtransfer.models.dosing import IWPCPharmacogenetic


def test_warfarin_unit_scores_formula_and_models_on_the_untouched_patients():
    suite = WarfarinSuite()
    unit = Unit("s", "t", 20, 1)
    split = suite.split(unit)
    assert np.isnan(split.y[split.test]).all()
    labelled = np.flatnonzero((split.sample_domain < 0) & ~np.isnan(split.y))
    assert len(labelled) == 20
    # the model sees sqrt(dose); the metrics see mg/week
    source, target = suite._domains()[:2]
    assert np.allclose(split.y[labelled] ** 2, target.labels[labelled - len(source)])
    records = run_unit(suite, unit, only=["iwpc_pharmacogenetic", "pooled"])
    values = {(r["method"], r["metric"]): r["value"] for r in records}
    formula = IWPCPharmacogenetic().predict(split.context["test_inputs"])
    assert values["iwpc_pharmacogenetic", "mae"] == pytest.approx(mae(split.y_test, formula))
    assert values["iwpc_pharmacogenetic", "pw20"] == pytest.approx(pw20(split.y_test, formula))
    assert 4 < values["pooled", "mae"] < 9 and 0.3 < values["pooled", "pw20"] < 0.6


def test_warfarin_rows_protect_the_patients_biology_and_show_the_unprotected_methods():
    suite = WarfarinSuite()
    unit = Unit(*suite.pairs()[0], 100, 0)
    competitors = suite.competitors(unit, suite.split(unit))
    assert suite.pairs() == [("IWPC sites except 3,4,8,18,13", "IWPC sites 3,4,8,18")]
    assert suite.metrics == ("pw20", "pw15", "pw25", "mae")
    assert {"iwpc_pharmacogenetic", "iwpc_clinical", "auto", "pooled", "transfer_ridge",
            "combat", "coral", "site_standardize", "subspace_alignment", "combat_unprotected",
            "coral_unprotected", "site_standardize_unprotected",
            "subspace_alignment_unprotected"} <= set(competitors)
    protected = list(suite._domains()[4])
    names = [n for n, m in competitors.items() if hasattr(m, "protect")]
    assert {n for n in names if competitors[n].protect == protected} == {
        n for n in names if not n.endswith("_unprotected")}
    assert all(competitors[n].protect == () for n in names if n.endswith("_unprotected"))


def test_cli_runs_a_suite_and_writes_the_readme_section(tmp_path):
    runner = CliRunner()
    out = tmp_path / "out"
    args = ["bench", "--suite", "heart", "--out", str(out), "--seeds", "1", "--k", "10",
            "--only", "source_only", "--only", "pooled"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "| pooled |" in result.output and (out / "heart.json").is_file()

    readme = tmp_path / "README.md"
    readme.write_text("# project\n\ntext\n")
    assert runner.invoke(app, ["bench", "--readme", str(readme), "--out", str(out)]).exit_code == 0
    first = readme.read_text()
    assert first.startswith("# project\n\ntext\n\n## Results") and START in first and END in first
    assert "### heart\n" in first and "##### auroc" in first and "`medtransfer " in first
    update_readme(readme, out)  # replacing the section leaves one copy
    assert readme.read_text() == first


@pytest.mark.parametrize(
    ("args", "needle"),
    [(["--suite", "hart"], "'heart'"), ([], "--suite NAME"),
     (["--suite", "heart", "--seeds", "0"],
      "error: --seeds 0: expected an integer >= 1; seeds 0..N-1 per pair and k, e.g. 10"),
     (["--suite", "speed", "--k", "10"],
      "error: --k [10]: does not apply to the speed suite (it labels no target); leave it out"),
     (["--suite", "speed", "--only", "corral"],
      "error: --only ['corral']: corral: not a part of the speed suite; its parts are")],
)
def test_cli_errors_are_one_line(tmp_path, args, needle):
    result = CliRunner().invoke(app, ["bench", "--out", str(tmp_path), *args])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert needle in result.output


def test_readme_from_an_empty_folder_says_what_to_run(tmp_path):
    result = CliRunner().invoke(app, ["bench", "--readme", str(tmp_path / "R.md"),
                                      "--out", str(tmp_path)])
    assert result.exit_code == 2 and "medtransfer bench --suite" in result.output
