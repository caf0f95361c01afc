"""The warfarin suite's design set: its choices made on non-East-Asian target sites.

The suite (``medtransfer bench --suite warfarin``) reports the East-Asian sites 3, 4, 8 and
18; choosing anything on them (a transform, protection, a method) would tune to its test
patients. This script runs the same suite with the East-Asian sites excluded from both
domains and other sites as the target: site 6 (a low-dose site, median 22.75 mg/week),
site 11 (all Black patients, median 41.6) and site 21 (mixed). It prints, per method and k,
the mean PW15/PW20/PW25 and MAE over design sites and seeds, for each dose scale.

Run: ``python benchmarks/warfarin_design.py --seeds 3 --out design.json``
(about 5 minutes on one core). ``auto`` is left out: at about 400 s a unit it would take
hours here.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from medtransfer.bench.core import Unit, run_unit
from medtransfer.bench.warfarin import EXCLUDED_SITES, TARGET_SITES, UNPROTECTED, WarfarinSuite

DESIGN_SITES = (6, 11, 21)
METHODS = ("iwpc_pharmacogenetic", "source_only", "pooled", "target_only", "transfer_ridge",
           *UNPROTECTED, *(f"{name}_unprotected" for name in UNPROTECTED))


def design_records(seeds: int, ks: tuple[int, ...], transforms: tuple[str, ...]) -> list[dict]:
    """Records of every design unit (site x transform x k x seed) for :data:`METHODS`."""
    records = []
    for site in DESIGN_SITES:
        for transform in transforms:
            suite = WarfarinSuite((site,), TARGET_SITES + EXCLUDED_SITES, transform)
            for k in ks:
                for seed in range(seeds):
                    unit = Unit(*suite.pairs()[0], k, seed)
                    records += [{**r, "site": site, "transform": transform}
                                for r in run_unit(suite, unit, only=METHODS)]
    return records


def summary(records: list[dict]) -> pd.DataFrame:
    """Mean of each metric per transform, method and k, over design sites and seeds."""
    frame = pd.DataFrame(records)
    return frame.pivot_table(index=["transform", "method", "k"], columns="metric",
                             values="value", aggfunc="mean").round(3)


def main() -> None:
    """Run the design units, print the summary, write the records as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--k", type=int, nargs="+", default=[0, 20, 100])
    parser.add_argument("--transforms", nargs="+", default=["sqrt", "log"])
    parser.add_argument("--out", type=Path, default=Path("warfarin_design.json"))
    args = parser.parse_args()
    records = design_records(args.seeds, tuple(args.k), tuple(args.transforms))
    args.out.write_text(json.dumps(records, indent=1))
    print(summary(records).to_string())


if __name__ == "__main__":
    main()
