"""The package's version, in the one module every room may import (``stylelab.__version__``).

pyproject.toml repeats it for the package index; the two must agree (tests/test_package.py).
"""

__version__ = "0.1.0"
