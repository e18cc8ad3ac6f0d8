"""Coarse-to-fine as a wrapper around any single-scale run (no network needed)."""

from __future__ import annotations

import torch

from stylelab.engine.pyramid import run_pyramid, stage_sizes
from stylelab.engine.result import StyleTransferResult


def _fake_level(log, statuses=None):
    """A single-scale run that records its calls and 'improves' its start by a constant."""
    statuses = iter(statuses or [])

    def run_level(shape, steps, start, callback):
        log.append((tuple(shape), steps, tuple(start.shape[-2:])))
        image = (start + 0.1).clamp(0, 1)
        for step in range(1, steps + 1):
            if callback is not None:
                callback(step, image, {"total": 1.0 / step})
        history = {"total": [1.0 / s for s in range(1, steps + 1)], "time": [0.5 * s for s in range(1, steps + 1)]}
        return StyleTransferResult(image=image, history=history, best_step=steps, steps=steps,
                                   evaluations=steps, seconds=0.5 * steps, status=next(statuses, "completed"),
                                   message="done.")

    return run_level


def test_each_level_starts_from_the_previous_result_at_its_size():
    log, seen = [], []
    levels = [((16, 12), 2), ((32, 24), 3)]
    upsampled = []

    def next_start(image, shape):
        upsampled.append((tuple(image.shape[-2:]), tuple(shape)))
        return torch.nn.functional.interpolate(image, size=shape)

    result = run_pyramid(levels, torch.zeros(1, 3, 16, 12), _fake_level(log), next_start,
                         callback=lambda step, image, losses: seen.append(step))
    assert log == [((16, 12), 2, (16, 12)), ((32, 24), 3, (32, 24))]
    assert upsampled == [((16, 12), (32, 24))]
    assert seen == [1, 2, 3, 4, 5]  # the callback counts on across the levels
    assert result.evaluations == 5 and result.image.shape[-2:] == (32, 24)
    assert result.history["scale"] == [16.0, 16.0, 32.0, 32.0, 32.0]
    assert result.history["time"] == [0.5, 1.0, 1.5, 2.0, 2.5]  # the second level's clock starts where the first ended
    assert [stage["size"] for stage in result.config["stages"]] == [[16, 12], [32, 24]]
    assert result.best_step == 5 and result.status == "completed"


def test_a_level_that_ends_early_ends_the_pyramid_with_the_image_at_the_final_size():
    log = []
    levels = [((8, 8), 2), ((16, 16), 2), ((32, 32), 2)]
    result = run_pyramid(levels, torch.zeros(1, 3, 8, 8), _fake_level(log, ["completed", "interrupted"]),
                         lambda image, shape: torch.nn.functional.interpolate(image, size=shape))
    assert len(log) == 2 and result.status == "interrupted"
    assert result.image.shape[-2:] == (32, 32) and "upsampled to 32x32 from the 16 px scale" in result.message


def test_a_pyramid_improved_somewhere_is_a_success_even_if_its_last_level_was_not():
    result = run_pyramid([((8, 8), 2), ((16, 16), 2)], torch.zeros(1, 3, 8, 8),
                         _fake_level([], ["completed", "no_progress"]),
                         lambda image, shape: torch.nn.functional.interpolate(image, size=shape))
    assert result.status == "completed" and "did not improve on the upsampled image" in result.message


def test_one_level_is_the_single_scale_run_itself():
    result = run_pyramid([((8, 8), 3)], torch.zeros(1, 3, 8, 8), _fake_level([]), lambda image, shape: image)
    assert "scale" not in result.history and result.evaluations == 3


def test_stage_sizes_keep_the_aspect_ratio_and_end_at_the_output():
    assert stage_sizes((300, 400), (100, 200, 400)) == [(75, 100), (150, 200), (300, 400)]
