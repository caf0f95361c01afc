"""The federation on Flower: a ClientApp per site, a ServerApp running the coordinator.

Only this module imports ``flwr`` (``pip install medtransfer[fl]``). Every request is a
Flower ``query`` message whose ConfigRecord carries the request as JSON (model tensors, for
FedBN, in an ArrayRecord beside it); every reply is the site's answer, written to the
site's audit log before it is sent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from medtransfer.data import Domain
from medtransfer.errors import ConfigError
from medtransfer.federated.coordinator import Ask, run_protocol
from medtransfer.federated.fedbn import check_fedbn_config, run_fedbn
from medtransfer.federated.image_site import ImageSite
from medtransfer.federated.site import Site

HOW_TO_DEPLOY = """\
This ran as a local simulation (one Flower SuperNode per site, in one process tree).
Across real sites the same apps run on Flower's deployment engine (Flower 1.42: the
SuperLink serves over HTTP on --host/--port, default 127.0.0.1:8000), each site's table
named by its own node config (keys: medtransfer.federated.deploy):
  coordinator:  flower-superlink --insecure --host 0.0.0.0
  site i:       flower-supernode --insecure --superlink COORDINATOR:8000 \\
                  --node-config 'data="/data/site.csv" label-col="num" binary=true'
  then:         flwr run examples/flower-app CONNECTION \\
                  --run-config 'target="Hungary" n-sites=4 method="coral"'
                (CONNECTION: a [superlink.CONNECTION] entry of Flower's config.toml
                 with address = "COORDINATOR:8000" and insecure = true)
Drop --insecure once the SuperLink has TLS certificates (--ssl-certfile, --ssl-keyfile)."""


def _flwr():
    try:
        import flwr  # noqa: F401
    except ImportError:
        raise ConfigError("federated training needs Flower: pip install 'medtransfer[fl]'"
                          ) from None


def _content(json_key: str, body: dict):
    """A RecordDict with ``body`` as JSON, its ``"tensors"`` (if any) as an ArrayRecord."""
    from flwr.app import ArrayRecord, ConfigRecord, RecordDict

    body = dict(body)
    tensors = body.pop("tensors", None)
    records = {json_key: ConfigRecord({"json": json.dumps(body)})}
    if tensors is not None:
        records["tensors"] = ArrayRecord(torch_state_dict=tensors)
    return RecordDict(records)


def _read(content, json_key: str) -> dict:
    """The inverse of :func:`_content`."""
    body = json.loads(str(content[json_key]["json"]))
    if "tensors" in content:
        body["tensors"] = dict(content["tensors"].to_torch_state_dict())
    return body


def make_client_app(sites: list[Any]):
    """A ClientApp whose node with partition id i plays ``sites[i]`` (a :class:`Site` or
    an :class:`~medtransfer.federated.image_site.ImageSite`)."""
    return client_app_for(lambda context: sites[int(context.node_config["partition-id"])])


def client_app_for(site_of: Callable[[Any], Any]):
    """A ClientApp answering every request as the site ``site_of(context)`` returns."""
    _flwr()
    from flwr.app import Context, Message
    from flwr.clientapp import ClientApp

    app = ClientApp()

    @app.query()
    def answer(msg: Message, context: Context) -> Message:
        site = site_of(context)
        request = _read(msg.content, "request")
        kind = request.pop("kind")
        reply = {"site": site.name} if kind == "hello" else site.answer(kind, request)
        return Message(_content("reply", reply), reply_to=msg)

    return app


Protocol = Callable[[Ask, list[str]], dict]


def make_server_app(protocol: Protocol, n_sites: int, result: dict):
    """A ServerApp that waits for ``n_sites`` sites and runs ``protocol(ask, site_names)``
    over them; the outcome lands in ``result``."""
    _flwr()
    from flwr.app import Context
    from flwr.serverapp import Grid, ServerApp

    app = ServerApp()

    @app.main()
    def main(grid: Grid, context: Context) -> None:
        serve(grid, protocol, n_sites, result)

    return app


def serve(grid: Any, protocol: Protocol, n_sites: int, result: dict) -> None:
    """The coordinator's side on a Flower ``grid``: wait for ``n_sites`` sites, learn their
    names, run ``protocol`` over them; the outcome lands in ``result``."""
    from flwr.app import Message

    deadline = time.time() + 120
    while len(nodes := list(grid.get_node_ids())) < n_sites and time.time() < deadline:
        time.sleep(0.2)

    def send(kind: str, request: dict, node_ids: list[int]) -> list[dict]:
        messages = [Message(_content("request", {"kind": kind, **request}),
                            message_type="query", dst_node_id=n) for n in node_ids]
        replies = list(grid.send_and_receive(messages))
        if any(r.has_error() for r in replies):
            errors = [str(r.error.reason) for r in replies if r.has_error()]
            raise RuntimeError(f"a site failed: {errors[0]}")
        return [_read(r.content, "reply") for r in replies]

    by_name = {}
    for node in nodes:
        by_name[send("hello", {}, [node])[0]["site"]] = node

    def ask(kind: str, request: dict, names: list[str]) -> dict[str, dict]:
        replies = send(kind, request, [by_name[n] for n in names])
        return {r["site"]: r for r in replies}

    result.update(protocol(ask, sorted(by_name)))


def _run(sites: list[Any], protocol: Protocol) -> dict:
    """Run ``protocol`` locally: one Flower SuperNode per site, in one process tree."""
    from flwr.simulation import run_simulation

    result: dict = {}
    run_simulation(
        server_app=make_server_app(protocol, len(sites), result),
        client_app=make_client_app(sites), num_supernodes=len(sites),
        backend_config={"client_resources": {"num_cpus": 1, "num_gpus": 0.0}},
        verbose_logging=False,
    )
    if not result:
        raise RuntimeError("the Flower simulation ended without a result; see its log above")
    return result


def simulate(
    domains: list[Domain], target: str, audit_dir: Path, config: dict[str, Any],
    min_cell: int = 10,
) -> dict:
    """Train the head on every site but ``target`` over Flower (local simulation), then
    validate on all (:func:`~medtransfer.federated.coordinator.run_protocol`)."""
    _flwr()
    names = [d.name for d in domains]
    if target not in names:
        raise ConfigError(f"target site {target!r} is not among the sites {names}")
    sites = [Site(d, Path(audit_dir) / f"{d.name}.jsonl", min_cell) for d in domains]
    return _run(sites, lambda ask, names: run_protocol(ask, names, target, config))


def simulate_fedbn(
    domains: list[Domain], out: Path, config: dict[str, Any], min_cell: int = 10,
) -> dict:
    """FedBN fine-tuning of a backbone over Flower (local simulation): every site trains
    (:func:`~medtransfer.federated.fedbn.run_fedbn`). Audit logs go to ``out/audit/``, each
    site's final model (shared weights, own batch norm) to ``out/state/SITE.safetensors``."""
    _flwr()
    plan = check_fedbn_config(config)
    sites = [ImageSite(d, Path(out) / "audit" / f"{d.name}.jsonl",
                       Path(out) / "state" / f"{d.name}.safetensors", min_cell)
             for d in domains]
    return _run(sites, lambda ask, names: run_fedbn(ask, names, plan))
