"""The device stylelab chooses: every device a user names is checked the same way, whatever its kind
(issue 20); and the CPU threads (one per kernel on a hub, issue 19)."""

from __future__ import annotations

import pytest
import torch

import stylelab as sl
from stylelab.vgg import device
from stylelab.errors import ParameterError


@pytest.mark.parametrize("name", ["mps", "meta", "xpu", "hpu", "vulkan", "anything", "cuda:7", "xpu:0", "mtia"])
def test_a_device_this_machine_cannot_compute_on_is_one_sentence(name, monkeypatch):
    # Before issue 20 only cuda was checked: mps and vulkan gave RuntimeError, xpu an AssertionError, hpu a
    # ModuleNotFoundError, and meta built a network that failed later.
    if name.split(":")[0] in sl.device.available_devices() and name != "cuda:7":
        pytest.skip(f"this machine has {name}")
    with pytest.raises(sl.ParameterError) as info:
        sl.pick_device(name)
    text = str(info.value)
    assert "\n" not in text and "'cpu'" in text and (f"Device {name!r}" in text or f"Unknown device {name!r}" in text)
    monkeypatch.setenv("STYLELAB_DEVICE", name)
    with pytest.raises(sl.ParameterError):
        sl.pick_device()


def test_the_device_is_checked_before_the_weights_are_read(tmp_path):
    with pytest.raises(sl.ParameterError, match="Device 'meta' holds no data"):
        sl.VGGFeatures(weights=tmp_path / "never-read.pth", device="meta")


def test_the_command_line_refuses_it_in_one_line(tmp_path, capsys):
    from stylelab.__main__ import main

    code = main([str(sl.data.example_path("chelsea")), str(sl.data.example_path("swirls")), "-o",
                 str(tmp_path / "out.png"), "--weights", "random", "--device", "xpu", "--steps", "1", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("error: Device 'xpu' was requested but Intel XPU is not available")


def test_what_is_available_is_accepted():
    for name in sl.device.available_devices():
        assert sl.pick_device(name) == torch.device(name)
    assert device.device_count("cpu") == 1 and device.device_count("no-such-kind") == 0
    if torch.cuda.is_available():  # the GPU tier: an index beyond the devices is one sentence too
        count = torch.cuda.device_count()
        with pytest.raises(sl.ParameterError, match=f"this machine has {count} CUDA device"):
            sl.pick_device(f"cuda:{count}")


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
