"""Choosing the torch device."""

from __future__ import annotations

import pytest
import torch

from medtransfer.errors import ConfigError
from medtransfer.features.device import resolve_device


def test_default_is_cuda_when_available_else_cpu():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device(None).type == expected
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_is_a_config_error():
    with pytest.raises(
        ConfigError, match=r"'cuda' requested but this machine has 0 CUDA.*--device cpu"
    ):
        resolve_device("cuda")


def test_cuda_index_beyond_the_devices_is_a_config_error():
    index = torch.cuda.device_count() if torch.cuda.is_available() else 3
    with pytest.raises(ConfigError, match=rf"'cuda:{index}' requested"):
        resolve_device(f"cuda:{index}")


def test_unknown_device_name_is_a_config_error():
    with pytest.raises(ConfigError, match=r"device 'gpu0' is not a torch device; use 'cpu'"):
        resolve_device("gpu0")


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="needs a machine without MPS")
def test_mps_without_mps_is_a_config_error():
    with pytest.raises(ConfigError, match=r"device 'mps' requested but Apple MPS is not available"):
        resolve_device("mps")
