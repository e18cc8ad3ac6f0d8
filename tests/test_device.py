"""The device and CPU threads stylelab chooses (``stylelab.device``)."""

from __future__ import annotations

import pytest
import torch

from stylelab import device
from stylelab.errors import ParameterError


@pytest.mark.parametrize("environ, threads", [
    ({}, None),                                            # PyTorch's default: one per core
    ({"JUPYTERHUB_USER": "amy"}, 1),                       # a kernel on a hub: one thread
    ({"JUPYTERHUB_USER": "amy", "STYLELAB_THREADS": "3"}, 3),
    ({"JUPYTERHUB_USER": "amy", "STYLELAB_THREADS": "0"}, None),
    ({"STYLELAB_THREADS": " 2 "}, 2),
])
def test_cpu_threads_are_one_per_kernel_on_a_hub_unless_the_variable_says_otherwise(environ, threads):
    assert device.cpu_threads(environ) == threads


@pytest.mark.parametrize("raw", ["two", "-1", "1.5"])
def test_a_bad_thread_count_is_one_clear_sentence(raw):
    with pytest.raises(ParameterError, match=f"STYLELAB_THREADS must be a whole number .* not '{raw}'"):
        device.cpu_threads({"STYLELAB_THREADS": raw})


def test_use_cpu_threads_sets_pytorchs_threads_and_leaves_the_default_alone():
    before = torch.get_num_threads()
    try:
        assert device.use_cpu_threads({"JUPYTERHUB_USER": "amy"}) == 1 == torch.get_num_threads()
        torch.set_num_threads(before)
        assert device.use_cpu_threads({}) == before == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
