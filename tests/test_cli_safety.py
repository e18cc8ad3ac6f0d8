"""Nothing a user made is lost (issue 12): inputs are never overwritten, outputs are checked
before any work and written atomically, SIGTERM keeps the best image, failures are not successes."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest
import torch
from PIL import Image

import stylelab as sl
from stylelab.engine import transfer
from stylelab.__main__ import main

CONTENT = str(sl.data.example_path("chelsea"))
STYLE = str(sl.data.example_path("swirls"))
ENV = {**os.environ, "STYLELAB_WEIGHTS": "random"}


def _digest(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture()
def photo(tmp_path):
    path = tmp_path / "photo.jpg"
    shutil.copy(CONTENT, path)
    return path


def _main(argv, capsys):
    code = main([str(a) for a in argv] + ["--quiet", "--weights", "random"])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("spelling", ["same", "dotted", "link"])
def test_an_input_is_never_the_output(photo, tmp_path, capsys, spelling):
    # Before issue 12 the photo was overwritten by the result (exit 0).
    before = _digest(photo)
    out = {"same": photo, "dotted": tmp_path / "." / "photo.jpg", "link": tmp_path / "link.jpg"}[spelling]
    if spelling == "link":
        os.symlink(photo, out)
    code, err = _main([photo, STYLE, "-o", out, "--size", "32", "--steps", "1"], capsys)
    assert code == 2 and "is one of the input images" in err.strip().splitlines()[-1]
    assert _digest(photo) == before
    code, err = _main([STYLE, "--style", photo, "-o", photo, "--size", "32", "--steps", "1"], capsys)
    assert code == 2 and _digest(photo) == before


@pytest.mark.parametrize(
    "output, message",
    [
        ("out.xyz", "end the file name with one of"),
        ("photo.jpg/out.png", "is a file, not a folder"),
        ("folder", "is a folder; give a file name inside it"),
    ],
)
def test_output_problems_are_found_before_any_work(photo, tmp_path, capsys, output, message):
    # Before issue 12 these were found only after the whole optimisation; the result was lost.
    (tmp_path / "folder.png").mkdir()
    target = tmp_path / (output if output != "folder" else "folder.png")
    code, err = _main([photo, STYLE, "-o", target, "--size", "32", "--steps", "1"], capsys)
    assert code == 2 and message in err.strip().splitlines()[-1]
    assert "stylelab: network" not in err  # refused before even the network was built


def test_an_unwritable_folder_is_found_before_any_work(photo, tmp_path, capsys, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    # Root may write anywhere, so the permission itself is simulated.
    monkeypatch.setattr(sl.validate.os, "access", lambda p, mode: False if str(p) == str(locked) else real_access(p, mode))
    code, err = _main([photo, STYLE, "-o", locked / "out.png", "--size", "32", "--steps", "1"], capsys)
    assert code == 2 and "Cannot write in the folder" in err and "stylelab: network" not in err


def test_a_failed_final_write_saves_the_result_elsewhere(photo, tmp_path, capsys, monkeypatch):
    real_save = sl.images.save_image
    wanted = tmp_path / "out.png"

    def full_disk(image, path, **kwargs):
        if str(path) == str(wanted):
            raise OSError(28, "No space left on device")
        return real_save(image, path, **kwargs)

    monkeypatch.setattr(sl.images, "save_image", full_disk)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "safe"))
    (tmp_path / "safe").mkdir()
    code, err = _main([photo, STYLE, "-o", wanted, "--size", "32", "--steps", "2"], capsys)
    saved = list((tmp_path / "safe").glob("stylelab-*.png"))
    assert code == 1 and len(saved) == 1 and not wanted.exists()
    assert f"the result was saved to {str(saved[0])!r} instead" in err and "No space left" in err
    assert sl.load_image(saved[0]).shape == (1, 3, 21, 32)


def test_save_image_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "keep.png"
    sl.save_image(torch.zeros(1, 3, 4, 4), path)
    before = _digest(path)

    def broken_save(self, fp, format=None, **params):
        fp.write(b"\x89PNG half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="No space left"):
        sl.save_image(torch.ones(1, 3, 4, 4), path)
    assert _digest(path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["keep.png"]


_TERMINATE_AT_EVALUATION_3 = textwrap.dedent(
    """
    import os, signal, sys
    import stylelab.engine.optimize as optimize
    calls = {"n": 0}
    real = optimize.zero_blocked_gradient

    def send_sigterm_on_the_third(image, *bounds):
        calls["n"] += 1
        if calls["n"] == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(image, *bounds)

    optimize.zero_blocked_gradient = send_sigterm_on_the_third
    from stylelab.__main__ import main
    sys.exit(main(sys.argv[1:]))
    """
)


@pytest.mark.slow  # more than half a second on a 2-core CPU
@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or sys.platform.startswith("win"), reason="POSIX signals")
def test_sigterm_writes_the_best_image_and_exits_143(photo, tmp_path):
    # Before issue 12 SIGTERM ended the process at once: no image, exit -15.
    out = tmp_path / "out.png"
    proc = subprocess.run(
        [sys.executable, "-c", _TERMINATE_AT_EVALUATION_3, str(photo), STYLE, "-o", str(out), "--size", "32",
         "--steps", "50", "--quiet"],
        capture_output=True, text=True, env=ENV, timeout=300,
    )
    assert proc.returncode == 143, proc.stderr
    assert "Interrupted after 2 of 50 evaluations" in proc.stderr  # during the third and "Wrote" in proc.stderr
    assert sl.load_image(out).shape == (1, 3, 21, 32)


def test_a_run_that_never_improved_is_not_a_success(photo, tmp_path, capsys):
    # Adam with a huge step jumps every pixel to 0 or 1: no evaluation beats the start image.
    out = tmp_path / "out.png"
    code, err = _main([photo, STYLE, "-o", out, "--size", "32", "--steps", "4", "--optimizer", "adam", "--lr", "50"],
                      capsys)
    assert code == 1 and "None of the 4 evaluations improved on the start image" in err
    assert "error: the run failed (no_progress)" in err and out.exists()


def test_a_diverged_run_is_not_a_success(photo, tmp_path, capsys, monkeypatch):
    def diverged(*args, **kwargs):
        return transfer.StyleTransferResult(image=torch.zeros(1, 3, 21, 32), history={"total": [float("nan")]},
                                            status="diverged", message="The style loss became NaN.")

    monkeypatch.setattr(transfer, "run", diverged)
    code, err = _main([photo, STYLE, "-o", tmp_path / "out.png", "--size", "32", "--steps", "2"], capsys)
    assert code == 1 and "the run failed (diverged)" in err


def test_no_progress_in_the_api(content, style, model):
    result = sl.stylize(content, style, model=model, steps=4, optimizer="adam", lr=50, progress=False)
    assert result.status == "no_progress" and not result.succeeded and not result.interrupted
    assert torch.equal(result.image, content)
    assert sl.stylize(content, style, model=model, steps=3, progress=False).succeeded


def test_max_memory_option(photo, tmp_path, capsys):
    code, err = _main([photo, STYLE, "-o", tmp_path / "o.png", "--size", "32", "--steps", "1", "--max-memory", "1MiB"],
                      capsys)
    assert code == 2 and "above the limit of 1 MiB" in err
    code, err = _main([photo, STYLE, "-o", tmp_path / "o.png", "--max-memory", "plenty"], capsys)
    assert code == 2 and "is not a memory size" in err
    assert "STYLELAB_MEMORY_LIMIT" not in os.environ or os.environ["STYLELAB_MEMORY_LIMIT"] != "plenty"


@pytest.mark.slow  # more than half a second on a 2-core CPU
@pytest.mark.parametrize("stages, expected", [(("completed", "no_progress"), "completed"),
                                              (("no_progress", "completed"), "completed"),
                                              (("no_progress", "no_progress"), "no_progress")])
def test_coarse_to_fine_fails_only_when_no_scale_improved(content, style, model, monkeypatch, stages, expected):
    real = transfer.optimize
    statuses = iter(stages)

    def optimize(*args, **kwargs):
        result = real(*args, **kwargs)
        result.status = next(statuses)
        return result

    monkeypatch.setattr(transfer, "optimize", optimize)
    result = sl.stylize(content, style, model=model, scales=(32, 48), steps=2, progress=False)
    assert result.status == expected and len(result.config["stages"]) == 2
