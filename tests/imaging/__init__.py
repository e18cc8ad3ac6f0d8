"""Tests of stylelab.imaging: loading, decoding, example and synthetic images."""
