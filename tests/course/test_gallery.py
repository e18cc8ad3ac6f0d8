"""The gallery script: it refuses untrained networks, and writes small JPEGs with a record of each."""

from __future__ import annotations

import pytest

from PIL import Image

from stylelab.course import gallery


def test_random_weights_are_refused_unless_asked_for(tmp_path, capsys):
    assert gallery.main(["--weights", "random", "--out", str(tmp_path), "--only", "01_filters"]) == 2
    assert "trained network" in capsys.readouterr().err and not list(tmp_path.iterdir())


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_a_picture_and_its_record(tmp_path):
    code = gallery.main(["--weights", "random", "--allow-untrained", "--out", str(tmp_path),
                         "--only", "01_filters", "04_ratios", "--size", "32", "--steps", "2"])
    assert code == 0
    for name in ("01_filters", "04_ratios"):
        with Image.open(tmp_path / f"{name}.jpg") as picture:
            assert picture.format == "JPEG" and picture.width > 300
    readme = (tmp_path / "README.md").read_text()
    assert "untrained VGG-19 (seeded random weights)" in readme
    assert "[`04_ratios.jpg`](04_ratios.jpg)" in readme and "32 px, 2 evaluations" in readme
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically
    # a second run for one picture keeps the other's row
    gallery.main(["--weights", "random", "--allow-untrained", "--out", str(tmp_path), "--only", "01_filters"])
    assert "04_ratios.jpg" in (tmp_path / "README.md").read_text()


@pytest.mark.slow  # three scales of optimisation
def test_the_courses_last_picture_is_in_the_gallery(tmp_path):
    # Lesson 06 ends on it; the gallery shows it at laptop settings (512 px) on the trained network.
    assert gallery.PICTURES["06_high_resolution"].size >= 512
    code = gallery.main(["--weights", "random", "--allow-untrained", "--out", str(tmp_path),
                         "--only", "06_high_resolution", "--size", "128", "--steps", "3"])
    assert code == 0
    with Image.open(tmp_path / "06_high_resolution.jpg") as picture:
        assert picture.format == "JPEG" and picture.width > 500
    assert "128 px, 3 evaluations" in (tmp_path / "README.md").read_text()
