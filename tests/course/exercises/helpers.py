"""What the exercise tests share: the reference solutions, and one way to assert a named mistake."""

from __future__ import annotations

from pathlib import Path

SOLUTIONS = Path(__file__).resolve().parents[3] / "notebooks" / "solutions"


def load_solution(filename: str, namespace: dict | None = None) -> dict:
    """Run a solution file in ``namespace`` (default a fresh one), as %load + running the cell would."""
    namespace = {} if namespace is None else namespace
    exec(compile((SOLUTIONS / filename).read_text(), filename, "exec"), namespace)
    return namespace


def verdict(check, answer, mistake: str, *phrases: str):
    """Run ``check`` on ``answer``; assert it fails with ``mistake`` and that its message holds every phrase."""
    result = check(answer, quiet=True)
    assert result.status == "failed", f"expected a failure, got {result!r}: {result.message}"
    assert result.mistake == mistake, f"expected {mistake!r}, got {result.mistake!r}: {result.message}"
    for phrase in phrases:
        assert phrase in result.message, f"{phrase!r} not in: {result.message}"
    return result
