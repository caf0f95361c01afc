"""``medtransfer site-stats`` / ``site-encoder``: the two rounds, and refusals in one line."""

from __future__ import annotations

import json

from medtransfer.cli import app

HEART = ["--label-col", "num", "--site-col", "dataset"]


def test_schema_encoder_statistics_rounds(runner, tmp_path):
    from medtransfer.datasets.bundled import files_path
    from medtransfer.datasets.heart import HEART_FILE

    data = str(files_path(HEART_FILE))
    for site in ("Cleveland", "Hungary"):
        out = tmp_path / f"{site}-schema.json"
        result = runner.invoke(app, ["site-stats", data, *HEART, "--site", site, "-o", str(out)])
        assert result.exit_code == 0, result.output
    schemas = [str(tmp_path / f"{s}-schema.json") for s in ("Cleveland", "Hungary")]
    enc = tmp_path / "encoder.json"
    assert runner.invoke(app, ["site-encoder", *schemas, "-o", str(enc)]).exit_code == 0
    stats = tmp_path / "stats.json"
    args = ["site-stats", data, *HEART, "--site", "Hungary", "--encoder", str(enc)]
    assert runner.invoke(app, [*args, "-o", str(stats)]).exit_code == 0
    released = json.loads(stats.read_text())
    assert released["moments"]["n"] == 293 and released["privacy"]["min_cell"] == 10
    again = runner.invoke(app, [*args, "-o", str(stats)])
    assert again.exit_code == 2 and "already exists" in again.output
    noisy = runner.invoke(app, [*args, "-o", str(tmp_path / "n.json"), "--epsilon", "0.5"])
    assert noisy.exit_code == 2 and "Traceback" not in noisy.output
    assert noisy.output.strip() == (
        "error: --epsilon 0.5: needs --clip-norm B > 0 (every row is clipped to L2 norm B, "
        "which bounds the sensitivity); e.g. --clip-norm 5 on scaled features")
    for flag, value, expected in [
        ("--epsilon", "2", "--epsilon 2.0: expected a number in (0, 1]; the classical"),
        ("--delta", "0", "--delta 0.0: expected a number in (0, 1); e.g. 1e-5"),
        ("--clip-norm", "-1", "--clip-norm -1.0: expected a number > 0; every row is clipped"),
    ]:
        dp = {"--epsilon": "1", "--delta": "1e-5", "--clip-norm": "5", flag: value}
        bad = runner.invoke(app, [*args, "-o", str(tmp_path / "n.json"),
                                  *(part for item in dp.items() for part in item)])
        assert bad.exit_code == 2 and "Traceback" not in bad.output
        assert bad.output.strip().startswith(f"error: {expected}"), bad.output
