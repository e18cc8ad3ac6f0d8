"""Tests of stylelab.vgg: layers, weights, conversion, normalisation, networks, VGGFeatures."""
