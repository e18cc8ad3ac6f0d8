"""Room 1, imaging: any image source to a ``(1, 3, H, W)`` float tensor in [0, 1], and back.

* :mod:`.images` - load, resize, save and convert images (the one entry for every source);
* :mod:`.decoding` - the untrusting decoder of image files (size and pixel limits);
* :mod:`.data` - the example images shipped in ``images/``;
* :mod:`.patterns` - synthetic test images (edges, stripes, colour blobs);
* :mod:`.download` - one verified download into the cache.

Imports only the top-level primitives (:mod:`stylelab.errors`, :mod:`stylelab.files`,
:mod:`stylelab.validate`, :mod:`stylelab.version`) and other modules of this room.
"""
