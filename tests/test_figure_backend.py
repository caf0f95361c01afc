"""Drawing a figure never touches matplotlib's global state (a notebook keeps its backend)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

DRAW = textwrap.dedent("""
    import sys
    import matplotlib
    import numpy as np
    from medtransfer.select.ranking import plot_ranking
    from medtransfer.shift.embedding import plot_domains

    out = sys.argv[1]
    ranking = [{"name": n, "score": s, "rank": r, "score_name": "logme"}
               for n, s, r in (("a", 0.3, 1), ("b", 0.1, 2))]
    plot_ranking(ranking, out + "/rank.png")
    rng = np.random.default_rng(0)
    plot_domains(rng.normal(size=(20, 2)), np.arange(20) < 10, out + "/shift.png",
                 classes=rng.integers(-1, 2, 20))
    print(matplotlib.get_backend(), "matplotlib.pyplot" in sys.modules)
""")


def test_drawing_keeps_the_backend_and_never_imports_pyplot(tmp_path):
    env = {**os.environ, "MPLBACKEND": "svg"}  # what a user chose; Agg would hide a reset
    done = subprocess.run([sys.executable, "-c", DRAW, str(tmp_path)], env=env, check=True,
                          capture_output=True, text=True)
    assert done.stdout.split() == ["svg", "False"]
    assert (tmp_path / "rank.png").stat().st_size > 0
    assert (tmp_path / "shift.png").stat().st_size > 0
