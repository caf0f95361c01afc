"""Suite-wide settings (a private feature cache, one torch thread) and the warfarin split."""

import numpy as np
import pandas as pd
import pytest
import torch
from threadpoolctl import threadpool_limits

from medtransfer.bench.warfarin import EXCLUDED_SITES, TARGET_SITES
from medtransfer.datasets.warfarin import warfarin
from medtransfer.features.tabular import TabularEncoder


@pytest.fixture(autouse=True, scope="session")
def _private_cache_one_thread(tmp_path_factory):
    # One intra-op thread: on 2 shared cores, spinning OpenMP threads make tiny models crawl.
    # BLAS too: under load a 2-thread OpenBLAS made one small logistic-regression CV (auto's
    # tuning in test_auto_is_looked_through_to_the_method_it_chose) take 72 s instead of 8 s.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as patch, threadpool_limits(limits=1, user_api="blas"):
        patch.setenv("MEDTRANSFER_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def dose_split():
    """The warfarin benchmark's split at k = 100: (X, dose, domain, X_test, dose_test).

    IWPC sites except 3, 4, 8, 18 and 13 → sites 3, 4, 8, 18 (patients with age, height and
    weight); 100 target patients labelled, the rest unlabelled and held out. VKORC1 is kept as
    genotyped (``impute_vkorc1=False``): with 17% of the target's genotypes unknown the
    pooled model's sqrt-dose residuals are wide, the case the PW20 decision is tested on.
    """
    data = warfarin(impute_vkorc1=False)
    site = data.metadata["site"].to_numpy()
    source = data.subset(np.flatnonzero(~np.isin(site, [*TARGET_SITES, *EXCLUDED_SITES])))
    target = data.subset(np.flatnonzero(np.isin(site, TARGET_SITES)))
    keep = target.inputs[["age_decades", "height_cm", "weight_kg"]].notna().all(axis=1)
    target = target.subset(np.flatnonzero(keep.to_numpy()))
    domain = np.r_[np.ones(len(source)), -2 * np.ones(len(target))].astype(int)
    encoder = TabularEncoder().fit(pd.concat([source.inputs, target.inputs], ignore_index=True),
                                   sample_domain=domain)
    Xs, Xt = encoder.transform(source.inputs), encoder.transform(target.inputs)
    order = np.random.default_rng(0).permutation(len(target))
    labelled, test = order[:100], order[100:]
    X = np.vstack([Xs, Xt[labelled], Xt[test]])
    dose = np.r_[source.labels, target.labels[labelled], np.full(len(test), np.nan)]
    return X, dose, domain, Xt[test], target.labels[test]


@pytest.fixture
def skops_exploit():
    """Build the exploit of issue 15: a skops file of only builtins./numpy./sklearn. types
    that, once loaded and used, writes ``marker`` (``exec`` of a string numpy made)."""
    import builtins

    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    def build(marker):
        code = f"open({str(marker)!r}, 'w').write('pwned')"
        return Pipeline([
            ("a", FunctionTransformer(np.full_like, kw_args={"fill_value": code, "dtype": str})),
            ("b", FunctionTransformer(builtins.exec)),
        ])

    return build
