"""The federation on Flower: a ClientApp per site, a ServerApp running the coordinator.

Only this module imports ``flwr`` (``pip install medtransfer[fl]``). Every request is a
Flower ``query`` message whose ConfigRecord carries the request as JSON; every reply is the
site's JSON answer, written to the site's audit log before it is sent.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from medtransfer.data import Domain
from medtransfer.errors import ConfigError
from medtransfer.federated.coordinator import run_protocol
from medtransfer.federated.site import Site

HOW_TO_DEPLOY = """\
This ran as a local simulation (one Flower SuperNode per site, in one process tree).
Across real sites the same ServerApp/ClientApp run on Flower's deployment engine:
  coordinator:  flower-superlink --insecure
  each site:    flower-supernode --insecure --superlink COORDINATOR:9092
  then:         flwr run <Flower app folder>
Not shipped yet: a ClientApp that loads its site's table from the SuperNode's node config
(make_client_app takes the sites' rows in-process, which only a simulation can do)."""


def _flwr():
    try:
        import flwr  # noqa: F401
    except ImportError:
        raise ConfigError("federated training needs Flower: pip install 'medtransfer[fl]'"
                          ) from None


def make_client_app(sites: list[Site]):
    """A ClientApp whose node with partition id i plays ``sites[i]``."""
    _flwr()
    from flwr.app import ConfigRecord, Context, Message, RecordDict
    from flwr.clientapp import ClientApp

    app = ClientApp()

    @app.query()
    def answer(msg: Message, context: Context) -> Message:
        site = sites[int(context.node_config["partition-id"])]
        request = json.loads(str(msg.content["request"]["json"]))
        kind = request.pop("kind")
        reply = {"site": site.name} if kind == "hello" else site.answer(kind, request)
        return Message(RecordDict({"reply": ConfigRecord({"json": json.dumps(reply)})}),
                       reply_to=msg)

    return app


def make_server_app(target: str, config: dict[str, Any], n_sites: int, result: dict):
    """A ServerApp running :func:`run_protocol`; the outcome lands in ``result``."""
    _flwr()
    from flwr.app import ConfigRecord, Context, Message, RecordDict
    from flwr.serverapp import Grid, ServerApp

    app = ServerApp()

    @app.main()
    def main(grid: Grid, context: Context) -> None:
        deadline = time.time() + 120
        while len(nodes := list(grid.get_node_ids())) < n_sites and time.time() < deadline:
            time.sleep(0.2)

        def send(kind: str, request: dict, node_ids: list[int]) -> list[dict]:
            body = json.dumps({"kind": kind, **request})
            messages = [Message(RecordDict({"request": ConfigRecord({"json": body})}),
                                message_type="query", dst_node_id=n) for n in node_ids]
            replies = list(grid.send_and_receive(messages))
            if any(r.has_error() for r in replies):
                errors = [str(r.error.reason) for r in replies if r.has_error()]
                raise RuntimeError(f"a site failed: {errors[0]}")
            return [json.loads(str(r.content["reply"]["json"])) for r in replies]

        by_name = {}
        for node in nodes:
            by_name[send("hello", {}, [node])[0]["site"]] = node

        def ask(kind: str, request: dict, names: list[str]) -> dict[str, dict]:
            replies = send(kind, request, [by_name[n] for n in names])
            return {r["site"]: r for r in replies}

        result.update(run_protocol(ask, sorted(by_name), target, config))

    return app


def simulate(
    domains: list[Domain], target: str, audit_dir: Path, config: dict[str, Any],
    min_cell: int = 10,
) -> dict:
    """Run the federation locally: one Flower SuperNode per site, in one process tree."""
    _flwr()
    from flwr.simulation import run_simulation

    names = [d.name for d in domains]
    if target not in names:
        raise ConfigError(f"target site {target!r} is not among the sites {names}")
    sites = [Site(d, Path(audit_dir) / f"{d.name}.jsonl", min_cell) for d in domains]
    result: dict = {}
    run_simulation(
        server_app=make_server_app(target, config, len(sites), result),
        client_app=make_client_app(sites), num_supernodes=len(sites),
        backend_config={"client_resources": {"num_cpus": 1, "num_gpus": 0.0}},
        verbose_logging=False,
    )
    if not result:
        raise RuntimeError("the Flower simulation ended without a result; see its log above")
    return result
