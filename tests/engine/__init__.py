"""Tests of stylelab.engine: settings, plan, losses, objective, optimisation, pyramid, control, presets."""
