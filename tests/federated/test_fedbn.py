"""FedBN without a transport: the aggregation, one site = local fine-tuning, the audit."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch

from medtransfer.errors import ConfigError
from medtransfer.federated.fedbn import (
    check_fedbn_config,
    fedbn_average,
    load_shared,
    local_keys,
    run_fedbn,
    shared_state,
)
from medtransfer.federated.image_site import ImageSite
from medtransfer.finetune.steps import StepTuner
from tests.tiny_images import TINY, two_class_images

PLAN = {"backbone": TINY, "weights": "random", "image_size": 32, "batch_size": 8,
        "lr": 3e-3, "head_lr": 3e-3, "local_steps": 2, "rounds": 2, "test_fraction": 0.5,
        "class_names": ["a", "b"], "device": "cpu", "seed": 3}


def in_process(sites: dict[str, ImageSite]):
    def ask(kind, request, names):
        return {n: sites[n].answer(kind, request) for n in names}

    return ask


def _sites(tmp_path, offsets=(0, 60), n=40):
    domains = [two_class_images(n, seed=i, offset=o, name=f"s{i}")
               for i, o in enumerate(offsets)]
    return {d.name: ImageSite(d, tmp_path / "audit" / f"{d.name}.jsonl",
                              tmp_path / "state" / f"{d.name}.safetensors") for d in domains}


def _trained(domain, steps):
    tuner = StepTuner(check_fedbn_config(PLAN), 2)
    images = tuner.images(domain)
    tuner.steps(images, torch.from_numpy(domain.labels), steps)
    return tuner


def test_average_weights_shared_tensors_by_count_and_leaves_batch_norm_local():
    a = _trained(two_class_images(16, seed=0), 2)
    b = _trained(two_class_images(16, seed=1, offset=80), 2)
    bn = local_keys(a.modules) - local_keys(a.modules, keep_batch_norm_local=False)
    assert any(k.endswith("running_mean") for k in bn) and any(k.endswith("weight") for k in bn)
    sa, sb = shared_state(a.modules), shared_state(b.modules)
    assert not set(sa) & bn and "head.weight" in sa
    assert not any(k.startswith("backbone.model.classifier") for k in sa)
    average = fedbn_average([(sa, 30), (sb, 10)])
    for key in sa:
        assert torch.allclose(average[key], 0.75 * sa[key] + 0.25 * sb[key], atol=1e-6)
    assert not torch.allclose(sa["head.weight"], sb["head.weight"])
    own_bn = {k: v.clone() for k, v in a.backbone.state_dict().items() if f"backbone.{k}" in bn}
    load_shared(a.modules, average)
    state = a.backbone.state_dict()
    for key, value in own_bn.items():
        assert torch.equal(state[key], value), f"{key}: a site's batch norm was overwritten"
    assert torch.equal(a.head.weight.detach(), average["head.weight"])
    other = b.backbone.state_dict()
    assert any(not torch.equal(other[k], v) for k, v in own_bn.items())
    # FedAvg: batch norm travels and is averaged like the rest
    both = fedbn_average([(shared_state(m.modules, False), 1) for m in (a, b)])
    assert bn <= set(both)


def test_one_site_fedbn_is_local_fine_tuning_for_the_same_steps_and_seed(tmp_path):
    sites = _sites(tmp_path, offsets=(0,))
    plan = {**PLAN, "rounds": 3, "local_steps": 2}
    result = run_fedbn(in_process(sites), ["s0"], plan)
    site = sites["s0"]
    federated = site.model(check_fedbn_config(plan))
    train, _ = site.split(check_fedbn_config(plan))
    local = _trained(site.domain.subset(train), 6)
    start = StepTuner(check_fedbn_config(plan), 2)
    for name, module in local.modules.items():
        fed = federated.modules[name].state_dict()
        for key, value in module.state_dict().items():
            assert torch.equal(fed[key], value), f"{name}.{key} differs"
    moved = [k for k, v in local.head.state_dict().items()
             if not torch.equal(v, start.head.state_dict()[k])]
    assert moved == ["weight", "bias"]
    assert len(result["history"]) == 3 and federated.steps_done == 6


def test_fedbn_rounds_log_only_model_tensors_and_aggregates(tmp_path):
    sites = _sites(tmp_path)
    result = run_fedbn(in_process(sites), sorted(sites), PLAN)
    for auroc in result["validation"]["sites"].values():
        assert 0.5 < auroc["auroc"] <= 1.0
    for site in sites.values():
        entries = site.audit.entries()
        assert [e["kind"] for e in entries] == ["fedbn_train"] * 2 + ["fedbn_evaluate"]
        model = site.model(check_fedbn_config(PLAN))
        parameters = {f"{p}.{k}": list(v.shape) for p, m in model.modules.items()
                      for k, v in m.state_dict().items()}
        local = local_keys(model.modules)
        ids = {str(i) for i in site.domain.ids}
        n_images = {len(site.domain), *map(len, site.split(check_fedbn_config(PLAN)))}
        for entry in entries:
            payload = entry["payload"]
            text = json.dumps(payload)
            assert not any(f'"{i}"' in text for i in ids), "an identifier left the site"
            assert all(payload.get(k, 10) >= 10 for k in ("n", "n_positive", "n_negative"))
            if entry["kind"] == "fedbn_evaluate":
                assert set(payload) == {"site", "n_positive", "n_negative", "auroc", "variance"}
                continue
            assert set(payload) == {"site", "n", "train_ce", "tensors"}
            sent = payload["tensors"]
            body = (site.audit.path.parent / sent["file"]).read_bytes()
            assert hashlib.sha256(body).hexdigest() == sent["sha256"]
            assert sent["shapes"] and not set(sent["shapes"]) & local
            for key, (shape, _) in sent["shapes"].items():
                assert shape == parameters[key], f"{key} is not a model tensor"
                assert not shape or shape[0] not in n_images, f"{key}: a per-image tensor"


@pytest.mark.parametrize(("change", "message"), [
    ({"momentum": 0.9}, "does not know the setting"),
    ({"batch_size": 1}, "batch_size must be an integer of at least 2"),
    ({"test_fraction": 1.0}, "test_fraction must lie strictly between 0 and 1"),
    ({"class_names": ["a", "b", "c"]}, "two-class head"),
])
def test_bad_fedbn_settings_are_refused_in_one_line(change, message):
    with pytest.raises(ConfigError, match=message):
        check_fedbn_config({**PLAN, **change})


def test_tensors_of_another_model_are_refused():
    tuner = StepTuner(check_fedbn_config(PLAN), 2)
    tensors = shared_state(tuner.modules)
    tensors.pop("head.bias")
    with pytest.raises(ConfigError, match="1 missing"):
        load_shared(tuner.modules, tensors)
    with pytest.raises(ConfigError, match="the same tensors from every site"):
        fedbn_average([(tensors, 1), (shared_state(tuner.modules), 1)])


def test_a_new_federation_starts_afresh_whatever_state_a_site_kept(tmp_path):
    sites = _sites(tmp_path, offsets=(0,))
    first = run_fedbn(in_process(sites), ["s0"], PLAN)
    again = run_fedbn(in_process(sites), ["s0"], PLAN)
    assert again["history"] == first["history"]
    assert sites["s0"].model(check_fedbn_config(PLAN)).steps_done == 2 * PLAN["local_steps"]
