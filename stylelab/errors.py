"""Exception types raised by stylelab.

Every error stylelab raises on bad input is one sentence that names the problem and the
fix. Each type also derives from the built-in exception a Python user would expect
(``ValueError``, ``FileNotFoundError``, ...), so ``except ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = [
    "StyleLabError",
    "ImageLoadError",
    "ImageNotFoundError",
    "ImageTooSmallError",
    "LayerNameError",
    "WeightsError",
    "WeightsFileError",
    "WeightsUnavailableError",
    "DownloadError",
    "ParameterError",
    "MemoryLimitError",
    "OutputPathError",
    "SolutionsUnavailableError",
    "GradingError",
    "FileWriteError",
    "FileReadError",
]


class StyleLabError(Exception):
    """Base class of every error stylelab raises on purpose."""


class ImageLoadError(StyleLabError, ValueError):
    """The source could not be turned into an image tensor."""


class ImageNotFoundError(StyleLabError, FileNotFoundError):
    """An image path does not exist."""


class ImageTooSmallError(StyleLabError, ValueError):
    """An image is too small for the requested network layers."""


class LayerNameError(StyleLabError, KeyError, ValueError):
    """A layer name is not one of VGG-19's layers."""

    def __str__(self) -> str:  # KeyError would otherwise print the message in quotes
        return str(self.args[0]) if self.args else ""


class WeightsError(StyleLabError, ValueError):
    """Network weights could not be used."""


class WeightsFileError(WeightsError):
    """A weights file is missing, corrupt or is not a VGG-19 state dict."""


class WeightsUnavailableError(WeightsError):
    """The ImageNet weights are neither cached nor downloadable."""


class DownloadError(StyleLabError, OSError):
    """A download failed or delivered the wrong bytes."""


class ParameterError(StyleLabError, ValueError, TypeError):
    """A setting (of :func:`~stylelab.stylize`, the command line, a widget) has a wrong type or value.

    It is both a ``ValueError`` and a ``TypeError``, so either ``except`` clause catches it.
    """


class MemoryLimitError(StyleLabError, MemoryError):
    """A run would need more memory than the limit (``STYLELAB_MEMORY_LIMIT``) allows; nothing was allocated."""


class OutputPathError(StyleLabError, ValueError):
    """An output path cannot be written (unknown extension, an input file, a folder that is a file, no permission)."""


class SolutionsUnavailableError(StyleLabError, FileNotFoundError):
    """The exercises' reference solutions are not here: a student's environment, or a graded check.

    In a notebook it shows as its one sentence, without a traceback (IPython's ``_render_traceback_``).
    """

    def _render_traceback_(self) -> list:
        return [f"{type(self).__name__}: {self}"]


class GradingError(StyleLabError, RuntimeError):
    """The grading process (outside the student's kernel) could not start: an installation problem, never a
    student's doing, so no submission is scored while it lasts."""


class FileWriteError(OutputPathError, OSError):
    """A file could not be written: the disk is full, the target is a folder, a folder on its path
    is a file, a name is too long, or there is no permission. The target is unchanged and no
    temporary file is left behind (see :mod:`stylelab.files`). Also an ``OSError``, with its ``errno``."""

    def __str__(self) -> str:  # OSError would otherwise print "[Errno 28] None: ..."
        return str(self.args[0]) if self.args else ""


class FileReadError(StyleLabError, OSError):
    """A file stylelab wrote earlier (a cache entry) cannot be read safely: it is a folder, a named
    pipe, a device or a broken link, it is larger than such a file can be, or it cannot be opened."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""
