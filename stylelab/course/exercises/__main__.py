"""Run ``python -m stylelab.course.exercises``: see :func:`stylelab.course.exercises.cli.main`."""

import sys

from .cli import main

sys.exit(main())
