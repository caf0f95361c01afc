"""The federation across real sites: the apps Flower's deployment engine runs.

Each hospital starts a SuperNode whose node config names its own table (nothing else tells
the app where the data is, and no row leaves the node)::

    flower-supernode --insecure --superlink COORDINATOR:8000 --node-config \\
        'data="/data/hungary.csv" label-col="num" binary=true audit="/audit/hungary.jsonl"'

Node config keys: ``data`` (a CSV or Parquet table), ``label-col``, optionally ``site-col``
and ``site`` (the rows of one site in a shared table), ``name`` (the site's name, default:
``site`` or the file's stem), ``binary`` (first class against the others), ``min-cell``
(default 10) and ``audit`` (the log of every reply, default ``DATA.audit.jsonl``).

The coordinator runs :data:`server_app` with a run config: ``target`` (a site name),
``n-sites``, and optionally ``method`` (default ``coral``), ``rounds`` (20),
``local-epochs`` (5), ``learning-rate`` (0.5), ``proximal-mu`` (0.0) and ``out`` (where
``result.json`` is written, default ``federated-result.json``). Both apps are the ones
:func:`~medtransfer.federated.flower.simulate` runs; only where the sites come from differs.
Flower finds them as ``medtransfer.federated.flower_apps:client_app`` and ``:server_app``
(``examples/flower-app/`` is the app folder ``flwr run`` takes).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from medtransfer.data import load_domain
from medtransfer.errors import ConfigError
from medtransfer.federated.site import Site, two_class

NODE_KEYS = ("data", "label-col", "site-col", "site", "name", "binary", "min-cell", "audit")
RUN_KEYS = ("target", "n-sites", "method", "rounds", "local-epochs", "learning-rate",
            "proximal-mu", "out")


def _known(config: dict[str, Any], keys: tuple[str, ...], what: str) -> dict[str, Any]:
    unknown = sorted(set(config) - set(keys) - {"partition-id", "num-partitions"})
    if unknown:
        raise ConfigError(f"{what} has unknown key(s) {unknown}; expected some of {list(keys)}")
    return config


def site_from_node_config(node_config: dict[str, Any]) -> Site:
    """The table site a SuperNode plays, loaded from the files its node config names."""
    config = _known(dict(node_config), NODE_KEYS, "the SuperNode's node config")
    if "data" not in config or "label-col" not in config:
        raise ConfigError("the SuperNode's node config needs data=\"TABLE.csv\" and "
                          "label-col=\"COLUMN\" (flower-supernode --node-config '...')")
    return _site(*(str(config[k]) if k in config else None
                   for k in ("data", "label-col", "site-col", "site", "name", "audit")),
                 bool(config.get("binary", False)), int(config.get("min-cell", 10)))


@cache  # one site per node process: its table is read once, its audit log kept open
def _site(data: str, label_col: str, site_col: str | None, site: str | None,
          name: str | None, audit: str | None, binary: bool, min_cell: int) -> Site:
    path = Path(data)
    domain = load_domain(path, label_col=label_col, site_col=site_col, site=site,
                         name=name or site or path.stem)
    return Site(two_class(domain, binary), Path(audit) if audit else
                path.with_suffix(".audit.jsonl"), min_cell)


def protocol_from_run_config(run_config: dict[str, Any]) -> tuple[str, int, dict[str, Any]]:
    """The target site, the number of sites and the head-training config of a run."""
    config = _known(dict(run_config), RUN_KEYS, "the run config")
    if "target" not in config or "n-sites" not in config:
        raise ConfigError("the run config needs target=\"SITE\" and n-sites=N "
                          "(flwr run ... --run-config '...')")
    return str(config["target"]), int(config["n-sites"]), {
        "method": str(config.get("method", "coral")), "rounds": int(config.get("rounds", 20)),
        "local_epochs": int(config.get("local-epochs", 5)),
        "learning_rate": float(config.get("learning-rate", 0.5)),
        "proximal_mu": float(config.get("proximal-mu", 0.0)),
    }


def make_deployed_client_app():
    """The ClientApp of a deployed site: its table comes from the node config."""
    from medtransfer.federated.flower import client_app_for

    return client_app_for(lambda context: site_from_node_config(context.node_config))


def make_deployed_server_app():
    """The coordinator's ServerApp: target and training from the run config, the result
    (weights, target and source validation; no row) written to ``out``."""
    from flwr.app import Context
    from flwr.serverapp import Grid, ServerApp

    from medtransfer.federated.coordinator import run_protocol
    from medtransfer.federated.flower import serve

    app = ServerApp()

    @app.main()
    def main(grid: Grid, context: Context) -> None:
        target, n_sites, config = protocol_from_run_config(context.run_config)
        result: dict = {}
        serve(grid, lambda ask, names: run_protocol(ask, names, target, config), n_sites,
              result)
        result.pop("plan", None)
        out = Path(str(context.run_config.get("out", "federated-result.json")))
        out.write_text(json.dumps(result, indent=2))

    return app

