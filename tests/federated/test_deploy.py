"""The deployed apps' configuration: a site's table from its node config, the run's plan."""

import pytest

from medtransfer.datasets import files_path
from medtransfer.errors import ConfigError
from medtransfer.federated.deploy import protocol_from_run_config, site_from_node_config
from medtransfer.federated.site import Site, two_class

HEART = str(files_path("heart_disease_uci.csv"))


def test_a_site_loads_its_own_rows_from_the_node_config(tmp_path):
    from medtransfer.data import load_domain

    site = site_from_node_config({"data": HEART, "label-col": "num", "site-col": "dataset",
                                  "site": "Hungary", "binary": True, "min-cell": 10,
                                  "audit": str(tmp_path / "hungary.jsonl")})
    expected = Site(two_class(load_domain(HEART, label_col="num", site_col="dataset",
                                          site="Hungary"), True), tmp_path / "other.jsonl")
    assert site.name == "Hungary" and len(site.domain) == len(expected.domain) == 293
    assert site.answer("schema", {}) == expected.answer("schema", {})
    assert (tmp_path / "hungary.jsonl").is_file()  # the reply was logged before it left


def test_bad_node_and_run_configs_are_one_line():
    with pytest.raises(ConfigError, match=r"needs data=\"TABLE.csv\" and label-col"):
        site_from_node_config({"data": HEART})
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['label'\]"):
        site_from_node_config({"data": HEART, "label": "num"})
    with pytest.raises(ConfigError, match="needs target="):
        protocol_from_run_config({"n-sites": 4})
    target, n_sites, config = protocol_from_run_config(
        {"target": "Cleveland", "n-sites": 4, "rounds": 3, "method": "none"})
    assert (target, n_sites) == ("Cleveland", 4)
    assert config == {"method": "none", "rounds": 3, "local_epochs": 5, "learning_rate": 0.5,
                      "proximal_mu": 0.0}
