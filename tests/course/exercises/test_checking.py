"""The checking machinery, seen through the checkers: verdicts never raise, stubs are not attempted, time limits hold."""

from __future__ import annotations

import sys

import pytest
import torch

from stylelab.course import exercises

from .helpers import verdict


def raises_value_error(*args):
    raise ValueError("boom")


def calls_exit(*args):
    sys.exit(3)


@pytest.mark.parametrize("name", list(exercises.EXERCISES))
@pytest.mark.parametrize("answer", [42, "text", raises_value_error, calls_exit, lambda *a: "nonsense", lambda *a: None])
def test_checkers_never_raise_into_the_notebook(name, answer, capsys):
    result = exercises.check(name, answer)
    assert result.status == "failed" and result.message
    assert capsys.readouterr().out.startswith("\u274c")


# Lesson 04's layer lists and lesson 07's prediction are values, not functions: a stub function is a wrong answer there.
@pytest.mark.parametrize("name", [n for n, e in exercises.EXERCISES.items() if not e.value])
def test_a_stub_is_not_attempted(name):
    def stub(*args):
        raise NotImplementedError

    result = exercises.check(name, stub, quiet=True)
    assert result.status == "not attempted" and not result.passed and result.mistake is None
    assert "NotImplementedError" in result.message


@pytest.mark.parametrize("stub", [None, ...])
def test_an_unfilled_answer_is_not_attempted(stub):
    assert exercises.check("fine_texture_layers", stub, quiet=True).status == "not attempted"


def test_raised_errors_are_reported_with_the_inputs():
    def content_loss(generated, target):
        return generated.matmul(target)  # (1,3,4,5) @ (1,3,4,5) cannot be multiplied

    result = verdict(exercises.check_content_loss, content_loss, "raised_error", "RuntimeError", "shape (1, 3, 4, 5)")
    assert result.status == "failed"


E = exercises


def test_an_answer_that_loops_forever_gets_a_verdict_not_a_hung_kernel(monkeypatch):
    # Before issue 12 this check never returned.
    monkeypatch.setattr(E, "TIME_LIMIT", 0.5)

    def content_loss(generated, target):
        while True:
            pass

    result = E.check_content_loss(content_loss, quiet=True)
    assert result.status == "failed" and result.mistake == "too_slow"
    assert "did not return within 0.5 s" in result.message and "loop that never ends" in result.message


def test_an_answer_that_swallows_exceptions_is_still_stopped(monkeypatch):
    monkeypatch.setattr(E, "TIME_LIMIT", 0.5)

    def tv_loss(image):
        while True:
            try:
                sum(range(1000))
            except Exception:  # noqa: BLE001 - what a learner might write
                pass

    assert E.check_tv_loss(tv_loss, quiet=True).mistake == "too_slow"


def test_the_time_limit_works_outside_the_main_thread(monkeypatch):
    import threading

    monkeypatch.setattr(E, "TIME_LIMIT", 0.5)
    results = []

    def gram_matrix(features):
        while True:
            pass

    worker = threading.Thread(target=lambda: results.append(E.check_gram_matrix(gram_matrix, quiet=True)))
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive() and results[0].mistake == "too_slow"


def test_an_endless_generator_is_read_only_as_far_as_needed():
    # Issue 20: endless generators ended as "checker error: a bug in stylelab" (memory ran out reading them).
    import itertools

    result = E.check_output_shape(lambda layer, h, w: itertools.count(), quiet=True)
    assert result.mistake == "not_three_numbers" and "count(0)" in result.message


class _NeverEnds:
    def __iter__(self):
        while True:
            pass


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_a_return_value_that_never_ends_when_read_is_named(monkeypatch):
    monkeypatch.setattr(E, "TIME_LIMIT", 0.5)
    result = E.check_output_shape(lambda layer, h, w: _NeverEnds(), quiet=True)
    assert result.status == "failed" and result.mistake == "too_slow" and "endless generator" in result.message


def test_infinities_are_the_learners_mistake_not_a_stylelab_bug():
    # Before issue 12: "the checker itself failed (OverflowError ...); this is a bug in stylelab".
    result = E.check_output_shape(lambda layer, h, w: (float("inf"), 1, 1), quiet=True)
    assert result.status == "failed" and result.mistake == "not_finite" and "bug in stylelab" not in result.message
    assert E.check_content_loss(lambda a, b: torch.tensor(float("inf")), quiet=True).status == "failed"


def test_endless_recursion_is_named():
    def style_loss(a, b):
        return style_loss(a, b)

    result = E.check_style_loss(style_loss, quiet=True)
    assert result.mistake == "endless_recursion"


def test_an_outer_alarm_survives_a_check():
    import signal

    if not hasattr(signal, "setitimer"):
        pytest.skip("no SIGALRM here")
    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *a: fired.append(1))
    try:
        signal.setitimer(signal.ITIMER_REAL, 100)
        E.check_content_loss(lambda a, b: ((a - b) ** 2).mean(), quiet=True)
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 0 < remaining <= 100 and not fired
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
