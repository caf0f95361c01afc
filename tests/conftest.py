"""Suite-wide settings: a private feature cache and one torch thread."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _private_cache_one_thread(tmp_path_factory):
    # One intra-op thread: on 2 shared cores, spinning OpenMP threads make tiny models crawl.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEDTRANSFER_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield
    torch.set_num_threads(threads)
