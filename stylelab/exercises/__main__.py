"""Run ``python -m stylelab.exercises``: see :func:`stylelab.exercises.cli.main`."""

import sys

from .cli import main

sys.exit(main())
