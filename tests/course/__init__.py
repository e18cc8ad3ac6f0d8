"""Tests of stylelab.course: analysis, figures, cache, widgets, exercises, classroom and hub."""
