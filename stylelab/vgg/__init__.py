"""Room 2, vgg: the networks' anatomy, their weights and the feature extractor.

* :mod:`.layers` - VGG-16/VGG-19 layer names, receptive fields and the layer-name checks;
* :mod:`.weights` - where weights come from (torchvision, Caffe, a file, seeded random);
* :mod:`.convert` - the offline conversion of the trained VGG-16 (``python -m stylelab.vgg.convert``);
* :mod:`.normalization` - Gatys et al.'s normalised network (each filter's mean activation 1);
* :mod:`.network` - the network settings and building or reusing a model;
* :mod:`.device` - picking and checking the device;
* :mod:`.features` - :class:`~stylelab.vgg.features.VGGFeatures` and its preprocessing constants.

Imports only the top-level primitives, :mod:`stylelab.imaging` and this room.
"""
