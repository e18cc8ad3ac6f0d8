r"""Presets: the conventions of well-known style-transfer implementations, as data.

"My picture does not look like the tutorial's" usually comes from conventions nobody
mentions: which network and preprocessing, which layers (before or after the ReLU), how the
Gram matrix and the losses are normalised, what the weights multiply, the optimiser and
its constants, the start image, clamping, the image size. Each preset holds one
implementation's conventions, read from its source, with the file and line each value comes
from:

========================  ===================================================================
``"pytorch-tutorial"``    PyTorch's tutorial "Neural Transfer Using PyTorch"
``"tensorflow-tutorial"`` TensorFlow's tutorial "Neural style transfer"
``"d2l"``                 Dive into Deep Learning, chapter "Neural Style Transfer" (PyTorch)
``"neural-style"``        jcjohnson/neural-style (Lua Torch), the defaults of its script
``"gatys"``               leongatys/PytorchNeuralStyleTransfer, the authors' own PyTorch code
``"stylelab"``            stylelab's own defaults
========================  ===================================================================

>>> sl.stylize(photo, painting, preset="gatys")                 # doctest: +SKIP
>>> sl.stylize(photo, painting, preset="gatys", steps=100)      # what is given explicitly wins
>>> sl.presets.table()                                          # doctest: +SKIP
>>> print(sl.presets.explain("d2l"))                            # doctest: +SKIP
>>> sl.presets.effective_balance("pytorch-tutorial", model, photo, painting)  # doctest: +SKIP

A preset sets stylize's keywords (:func:`options`; :func:`settings` makes the checked
:class:`~stylelab.settings.TransferSettings`, the one place ``preset=`` is read for
:func:`~stylelab.stylize`, the command line and the widgets). Where stylelab cannot express
a convention exactly, the preset says so (:attr:`Preset.differs`, shown by :func:`table` and
:func:`explain`); nothing is approximated silently. ``tests/test_presets.py`` re-implements
each implementation's loss from its published formulas and checks that the objective a
preset builds gives the same value, and the same first optimiser iterates.

The weights a preset names are the *implementation's* own ones; stylelab runs them on the
network it is given. The same numbers on another network weigh the two losses differently
(the activations' scale differs by orders of magnitude between networks and
preprocessings): :func:`effective_balance` turns each preset's weights into the one number
that can be compared, the style/content ratio the preset actually applies on a network,
in units of lesson 04's balance point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import torch

from . import validate
from .images import load_image, resize
from .network import use_model
from .objective import StyleObjective
from .prepare import style_side
from .settings import TransferSettings
from .tables import Table
from .vgg import VGGFeatures

__all__ = [
    "Preset",
    "Fact",
    "Difference",
    "PRESETS",
    "TOPICS",
    "GENERAL_DIFFERENCES",
    "names",
    "get",
    "options",
    "settings",
    "table",
    "explain",
    "network_note",
    "effective_balance",
]


@dataclass(frozen=True)
class Fact:
    """One convention of an implementation, in its own terms, and where it comes from.

    ``topic`` is a key of :data:`TOPICS`; ``source`` is ``path:line`` in the preset's
    repository at its commit, or ``owner/repo@commit:path:line`` for another repository.
    """

    topic: str
    value: str
    source: str


@dataclass(frozen=True)
class Difference:
    """Something of an implementation that stylelab does not reproduce exactly.

    ``label``: a few words for :func:`table`; ``sentence``: what differs and how much it
    matters, for :func:`explain`.
    """

    label: str
    sentence: str


@dataclass(frozen=True)
class Preset:
    """One implementation's conventions.

    Attributes:
        name: the preset's name (``preset=`` of :func:`~stylelab.stylize`).
        title: the implementation, in words.
        source: ``owner/repo@commit:path`` of the file read.
        network: the network the implementation uses, in words.
        preprocessing: ``"torchvision"`` or ``"caffe"``: what that network's weights expect.
        options: the :func:`~stylelab.stylize` keywords the preset sets.
        facts: the conventions in the implementation's own terms, one per topic.
        differs: what stylelab cannot reproduce exactly (beside :data:`GENERAL_DIFFERENCES`).
        effect: a few sentences on what the conventions do to a picture.
    """

    name: str
    title: str
    source: str
    network: str
    preprocessing: str
    options: Mapping[str, Any]
    facts: Tuple[Fact, ...]
    differs: Tuple[Difference, ...]
    effect: str

    def fact(self, topic: str) -> Fact:
        """The fact about ``topic`` (a key of :data:`TOPICS`)."""
        return next(f for f in self.facts if f.topic == topic)


#: The rows of :func:`table`: ``{topic: heading}``, in order.
TOPICS: Dict[str, str] = {
    "network": "network",
    "preprocessing": "preprocessing",
    "content_layers": "content layer",
    "style_layers": "style layers",
    "gram": "Gram matrix",
    "layer_weights": "style layer weights",
    "reduction": "loss reduction",
    "weights": "content / style weight",
    "tv": "total variation",
    "optimizer": "optimiser",
    "evaluations": "evaluations",
    "init": "start image",
    "clamp": "clamping",
    "size": "image size",
    "pooling": "pooling",
}

#: What no preset reproduces exactly, because stylelab does it one way for all of them.
GENERAL_DIFFERENCES: Tuple[Difference, ...] = (
    Difference("resampling", "Images are resized with stylelab's antialiased bicubic filter, not the "
               "implementation's own (PIL, tf.image.resize or Torch's image.scale): the input pixels differ slightly."),
    Difference("best image", "stylize returns the evaluated image with the lowest loss; the implementations keep "
               "their last iterate."),
)

_TORCHVISION_VGG_RELU = "pytorch/vision@v0.29.1:torchvision/models/vgg.py:85"
_TORCH_LBFGS = "pytorch/pytorch@v2.14.1:torch/optim/lbfgs.py:211-217"
_KERAS = "keras-team/keras@3422977a5e38fb2f7709aaa9a08e47f0c43d0f60"
_TORCH7_LBFGS = "torch/optim@a5ceed7c21a56d32a36706823e8436741b230d1c:lbfgs.lua"

_PYTORCH = Preset(
    name="pytorch-tutorial",
    title="PyTorch tutorial \"Neural Transfer Using PyTorch\"",
    source="pytorch/tutorials@0a7e68666de5faceafa90276ad2b7874cd32c5e0:advanced_source/neural_style_tutorial.py",
    network="VGG-19, torchvision's ImageNet weights",
    preprocessing="torchvision",
    options=dict(
        content_layers=("conv2_2",), style_layers=("conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1"),
        content_weight=1.0, style_weight=1e6, layer_weighting="channels", tv_weight=0.0,
        optimizer="lbfgs", line_search=False, lr=1.0, steps=320, init="content", clamp=True, image_units="pixels",
        size=512, style_scale=1.0, pooling="max", normalize=False,
    ),
    facts=(
        Fact("network", "torchvision VGG-19, ImageNet weights", "266"),
        Fact("preprocessing", "RGB in [0, 1], (x - mean) / std with ImageNet's mean and std", "276-277, 292"),
        Fact("content_layers", "conv_4, the 4th convolution = conv2_2, before its ReLU (the loss module follows "
             "the convolution; the ReLUs are made out-of-place)", "305, 329-336, 344-351"),
        Fact("style_layers", "conv_1 ... conv_5 = conv1_1, conv1_2, conv2_1, conv2_2, conv3_1, before their ReLUs",
             "306, 329-330, 353-358"),
        Fact("gram", "F F^T / (C H W)", "229"),
        Fact("layer_weights", "equal: the layers' losses are summed", "436-437"),
        Fact("reduction", "mean squared error (F.mse_loss) of features and of Gram matrices", "183, 246"),
        Fact("weights", "content 1, style 1e6", "416, 441-442"),
        Fact("tv", "none", "441-444"),
        Fact("optimizer", "L-BFGS with PyTorch's defaults: lr 1, no line search, history 100, 20 iterations "
             "per step() call", f"397; {_TORCH_LBFGS}"),
        Fact("evaluations", "step() is called while at most 300 evaluations are done: 16 calls of 20, "
             "320 evaluations", "425, 456"),
        Fact("init", "a copy of the content image", "375"),
        Fact("clamp", "to [0, 1] at the start of every evaluation, and at the end", "429, 459"),
        Fact("size", "512 px on a GPU, else 128 px, the shorter side (transforms.Resize(int)); the style "
             "image must have exactly the content's size", "99-102, 116"),
        Fact("pooling", "max (torchvision's VGG-19)", "266"),
    ),
    differs=(
        Difference("size rule", "The tutorial resizes the shorter side to 512 px (128 px without a GPU) and needs the "
                   "style image at exactly the content's size; the preset's size=512 is the longer side, and the "
                   "style image keeps its own aspect ratio (its longer side is the content's)."),
    ),
    effect=("Content and style are matched before the ReLUs and only in the first three blocks: conv2_2 keeps the "
            "photo almost pixel for pixel, and conv1_1 ... conv3_1 carry colours and fine strokes but no larger "
            "shapes (lesson 04, section 1). The picture is the photo under the painting's colours and texture, "
            "with little of its larger structure. Plain L-BFGS without a line search, as here, now and then takes "
            "a much too long step (lesson 05)."),
)

_TENSORFLOW = Preset(
    name="tensorflow-tutorial",
    title="TensorFlow tutorial \"Neural style transfer\"",
    source="tensorflow/docs@7c3650212740204359d4ceae481abc79345541be:site/en/tutorials/generative/style_transfer.ipynb",
    network="VGG-19, Keras's ImageNet weights (Caffe-style input)",
    preprocessing="caffe",
    options=dict(
        content_layers=("relu5_2",), style_layers={n: 0.2 for n in ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")},
        content_weight=1e4, style_weight=1e-2, layer_weighting="paper",
        tv_weight=30.0, tv_power=1, tv_reduction="sum", image_units="pixels", clamp=True,
        optimizer="adam", lr=0.02, adam_betas=(0.99, 0.999), adam_eps=0.1, adam_eps_hat=True, steps=1000,
        init="content", size=512, style_scale=1.0, pooling="max", normalize=False,
    ),
    facts=(
        Fact("network", "tf.keras.applications.VGG19, ImageNet weights, without the classifier", "465"),
        Fact("preprocessing", "[0, 1] pixels times 255, then vgg19.preprocess_input: RGB to BGR and the mean pixel "
             "(103.939, 116.779, 123.68) subtracted, no scaling",
             f"573-574; {_KERAS}:keras/src/applications/imagenet_utils.py:196-202"),
        Fact("content_layers", "block5_conv2 = relu5_2 (Keras's convolutions include their ReLU)",
             f"410; {_KERAS}:keras/src/applications/vgg19.py:130"),
        Fact("style_layers", "block1_conv1 ... block5_conv1 = relu1_1 ... relu5_1", "412-416"),
        Fact("gram", "F F^T / (H W)", "529-533"),
        Fact("layer_weights", "the layers' losses summed, times style_weight / 5", "750-752"),
        Fact("reduction", "mean squared error (tf.reduce_mean) of Gram matrices and of features", "750, 754"),
        Fact("weights", "content 1e4 (divided by the one content layer), style 1e-2", "735-736, 756"),
        Fact("tv", "30 x tf.image.total_variation: the sum of absolute differences of neighbouring pixels, on the "
             "[0, 1] image", "1001, 1026; tensorflow/tensorflow:tensorflow/python/ops/image_ops_impl.py "
             "total_variation()"),
        Fact("optimizer", "Adam, learning rate 0.02, beta1 0.99, epsilon 0.1; Keras adds epsilon to sqrt(v) before "
             "the bias correction", f"1050; {_KERAS}:keras/src/optimizers/adam.py:117, 135"),
        Fact("evaluations", "10 epochs of 100 steps: 1000", "1074-1079"),
        Fact("init", "the content image", "1051"),
        Fact("clamp", "clipped to [0, 1] after every step", "694-695, 1030"),
        Fact("size", "longer side 512 px, both images", "237-248"),
        Fact("pooling", "max", f"{_KERAS}:keras/src/applications/vgg19.py:135"),
    ),
    differs=(
        Difference("Keras weights", "Keras's VGG-19 weights are not torchvision's; stylelab has no copy of them (a "
                   "Caffe-preprocessed VGG-19 file can be given with weights=), so on stylelab's networks the "
                   "tutorial's numbers weigh the losses differently: compare with effective_balance()."),
    ),
    effect=("Content is matched at relu5_2, the deepest layer of all these presets: the photo's layout survives but "
            "its details are free to change. The style weight is tiny in number but not in effect: the Gram "
            "matrices are only divided by H W, and the style layers count equally. The TV term (absolute "
            "differences, summed over the whole image) smooths flat areas but keeps edges, and Adam with beta1 = "
            "0.99 carries a lot of momentum, so the picture changes smoothly from step to step."),
)

_D2L = Preset(
    name="d2l",
    title="Dive into Deep Learning, \"Neural Style Transfer\" (PyTorch)",
    source="d2l-ai/d2l-en@23d7a5aecceee57d1292c56e90cce307f183bb0a:chapter_computer-vision/neural-style.md",
    network="VGG-19, torchvision's ImageNet weights",
    preprocessing="torchvision",
    options=dict(
        content_layers=("relu4_4",), style_layers=("relu1_1", "relu2_1", "relu3_1", "relu4_1", "conv5_1"),
        content_weight=1.0, style_weight=1e4, layer_weighting="channels",
        tv_weight=5.0, tv_power=1, tv_reduction="mean", image_units="network", clamp=False,
        optimizer="adam", lr=0.3, adam_betas=(0.9, 0.999), adam_eps=1e-8, adam_eps_hat=False, steps=500,
        init="content", size=(300, 450), style_scale=1.0, pooling="max", normalize=False,
    ),
    facts=(
        Fact("network", "torchvision VGG-19, ImageNet weights (vgg19(pretrained=True))", "178"),
        Fact("preprocessing", "Resize, ToTensor, Normalize with ImageNet's mean and std", "151-158"),
        Fact("content_layers", "features[25] = conv4_4; the next module, an in-place ReLU, overwrites the kept "
             "tensor, so the loss sees relu4_4", f"194, 224-233; {_TORCHVISION_VGG_RELU}"),
        Fact("style_layers", "features[0, 5, 10, 19, 28] = conv1_1, conv2_1, conv3_1, conv4_1, conv5_1; in-place "
             "ReLUs make the first four relu1_1 ... relu4_1; conv5_1, the last module kept, stays before its ReLU",
             f"194, 212-213, 224-233; {_TORCHVISION_VGG_RELU}"),
        Fact("gram", "X X^T / (C H W)", "335-338"),
        Fact("layer_weights", "equal: every layer times style_weight", "397"),
        Fact("reduction", "mean squared error of features and of Gram matrices", "301, 356"),
        Fact("weights", "content 1, style 1e4", "391"),
        Fact("tv", "10 x 0.5 (mean |dy| + mean |dx|) of the optimised image, which is the normalised input",
             "376-377, 391, 399"),
        Fact("optimizer", "Adam (PyTorch's), learning rate 0.3 on the normalised image, times 0.8 every 50 steps",
             "454, 496, 509, 536"),
        Fact("evaluations", "500 steps", "536"),
        Fact("init", "the normalised content image", "453, 534"),
        Fact("clamp", "none while optimising; clamped to [0, 1] when shown", "163"),
        Fact("size", "300 x 450 (height x width), both images", "156, 532"),
        Fact("pooling", "max (torchvision's VGG-19)", "178"),
    ),
    differs=(
        Difference("learning-rate decay", "d2l multiplies Adam's learning rate by 0.8 every 50 steps; stylelab keeps it "
                   "at 0.3, so from step 51 on its steps are larger (the first 50 are the same)."),
        Difference("style image size", "d2l stretches the style image to 300 x 450 as well; stylelab keeps its aspect "
                   "ratio (longer side 450 px)."),
        Difference("VGG-19 layer", "relu4_4 exists only in VGG-19: on VGG-16 pass content_layers='relu4_3', the last "
                   "convolution of its 4th block (d2l's own rule, line 189)."),
    ),
    effect=("The optimiser changes the normalised image, where one pixel unit is about 4.4 times a [0, 1] unit, "
            "and Adam moves every value by up to about the learning rate per step: 0.3 there is about 0.07 in "
            "[0, 1] pixels, large steps that change the picture quickly and leave some noise, which the TV term "
            "(absolute differences) evens out. Content at relu4_4 keeps the layout rather than the details; "
            "without clamping, colours may leave the displayable range until the end, where they are clipped."),
)

_NEURAL_STYLE = Preset(
    name="neural-style",
    title="jcjohnson/neural-style (Lua Torch)",
    source="jcjohnson/neural-style@07c4b8299f8fbdafec0c514fc820ff1d7ff62e46:neural_style.lua",
    network="VGG-19, the original Caffe weights (VGG_ILSVRC_19_layers)",
    preprocessing="caffe",
    options=dict(
        content_layers=("relu4_2",), style_layers=("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
        content_weight=5.0, style_weight=100.0, layer_weighting="channels",
        tv_weight=5e-4, tv_power=2, tv_reduction="sum", image_units="network", clamp=False,
        optimizer="lbfgs", line_search=False, lr=1.0, steps=1000, init="noise",
        size=512, style_scale=1.0, pooling="max", normalize=False,
    ),
    facts=(
        Fact("network", "Caffe VGG-19 (VGG_ILSVRC_19_layers) loaded by loadcaffe", "42-43, 57"),
        Fact("preprocessing", "RGB to BGR, times 256, mean pixel (103.939, 116.779, 123.68) subtracted", "419-426"),
        Fact("content_layers", "relu4_2", "48"),
        Fact("style_layers", "relu1_1, relu2_1, relu3_1, relu4_1, relu5_1", "49"),
        Fact("gram", "F F^T / (C H W)", "500, 534"),
        Fact("layer_weights", "equal: every layer gets style_weight", "143"),
        Fact("reduction", "mean squared error (nn.MSECriterion) of features and of Gram matrices", "464, 544"),
        Fact("weights", "content 5, style 100", "22-23"),
        Fact("tv", "1e-3; only its gradient is used, that of 1/2 the sum of squared differences over the first H-1 "
             "rows and W-1 columns, in the 0-256 units; it is left out of the printed loss",
             "24, 286-291, 582-596"),
        Fact("optimizer", "L-BFGS (Torch's optim.lbfgs): learning rate 1, no line search, 100 corrections, "
             "tolerances off", f"223-232; {_TORCH7_LBFGS}:41-47"),
        Fact("evaluations", "1000", "25, 225"),
        Fact("init", "random: Gaussian noise times 0.001 in the preprocessed units, i.e. the mean pixel plus almost "
             "nothing", "27, 202-203"),
        Fact("clamp", "none: the preprocessed image is optimised as it is; values are only cut when written",
             "281-298, 259-271"),
        Fact("size", "longer side 512 px; the style's longer side ceil(style_scale x 512)",
             "17, 60, 63, 68; torch/image@5aa18819b6a7b44751f8a858bd232d1c07b67985:init.lua:677-681"),
        Fact("pooling", "max", "41"),
    ),
    differs=(
        Difference("256 vs 255", "neural-style scales pixels by 256, stylelab's Caffe preprocessing by 255: its network "
                   "sees an image 0.4 % brighter and larger."),
        Difference("TV border", "neural-style's TV gradient leaves out the horizontal differences of the last row and "
                   "the vertical ones of the last column, and its printed loss leaves the TV term out; stylelab's TV "
                   "sum has every difference and counts in the loss."),
        Difference("start image", "neural-style starts from its mean pixel plus Gaussian noise of 0.001 units; "
                   "stylelab's random start (init='noise') is uniform noise in [0, 1], much further from a flat image."),
        Difference("Caffe VGG-19", "stylelab has no copy of the Caffe VGG-19; give a converted file with weights=, or "
                   "compare on another network with effective_balance()."),
    ),
    effect=("The picture is built from a random start, not from the photo: everything of the photo in it comes "
            "through relu4_2, so its colours and fine details are the painting's. Content 5 against style 100 in "
            "Gram / (C H W) units on the unnormalised Caffe network leans strongly towards the style; the TV term "
            "smooths the noise of the start. Plain L-BFGS, as here, now and then overshoots."),
)

_GATYS = Preset(
    name="gatys",
    title="leongatys/PytorchNeuralStyleTransfer (the authors' PyTorch code)",
    source="leongatys/PytorchNeuralStyleTransfer@be6c8e2b35568669a5a0ac10b66c912207ad355d:NeuralStyleTransfer.ipynb",
    network="VGG-19, the authors' vgg_conv.pth (Caffe-style input; normalised in the paper)",
    preprocessing="caffe",
    options=dict(
        content_layers=("relu4_2",), style_layers=("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
        content_weight=1.0, style_weight=1e3, layer_weighting="channels", tv_weight=0.0,
        image_units="network", clamp=False, optimizer="lbfgs", line_search=False, lr=1.0, steps=520,
        init="content", size=512, style_scale=1.0, pooling="max", normalize=True,
    ),
    facts=(
        Fact("network", "VGG-19 convolutions with the weights vgg_conv.pth (download_models.sh)", "177-178"),
        Fact("preprocessing", "RGB to BGR, mean (0.4076, 0.4580, 0.4850) subtracted, times 255: the Caffe "
             "convention", "147-152"),
        Fact("content_layers", "r42 = relu4_2", "252"),
        Fact("style_layers", "r11, r21, r31, r41, r51 = relu1_1 ... relu5_1", "251"),
        Fact("gram", "F F^T / (H W)", "128"),
        Fact("layer_weights", "1e3 / N_l^2 with N_l = 64, 128, 256, 512, 512 channels", "259"),
        Fact("reduction", "mean squared error (nn.MSELoss) of Gram matrices and of features", "133, 254"),
        Fact("weights", "content 1; style 1e3 (inside the layer weights)", "259-260"),
        Fact("tv", "none", "315-317"),
        Fact("optimizer", "L-BFGS with PyTorch's defaults: lr 1, no line search, history 100, 20 iterations per "
             "step() call", f"308; {_TORCH_LBFGS}"),
        Fact("evaluations", "step() is called while at most 500 evaluations are done: 26 calls of 20, 520 "
             "evaluations", "306, 311"),
        Fact("init", "the content image (preprocessed)", "205"),
        Fact("clamp", "none while optimising; clipped to [0, 1] when shown", "160-163"),
        Fact("size", "512 px, the shorter side (transforms.Scale(int)), both images", "146-147"),
        Fact("pooling", "max (VGG(pool='max') by default)", "56, 76, 177"),
    ),
    differs=(
        Difference("size rule", "The notebook resizes the shorter side of both images to 512 px; the preset's size=512 "
                   "is the longer side."),
        Difference("normalised network", "The paper (Gatys et al. 2016, sec. 2) uses the normalised VGG-19, which the "
                   "preset asks for (normalize=True); the repository does not say whether vgg_conv.pth is that "
                   "network, and stylelab's normalisation is measured on its own calibration images."),
        Difference("second stage", "The notebook's optional second stage (800 px, started from the 512 px result) is "
                   "not part of the preset; scales=(512, 800) does the same coarse-to-fine step."),
    ),
    effect=("This is the paper's recipe (Gatys et al. 2016) as its authors run it: relu4_2 for content, relu1_1 ... "
            "relu5_1 for style weighted 1e3 / N_l^2 on the normalised network, starting from the photo. The "
            "shallow layers' 1 / N_l^2 makes colour and fine texture count most; from the photo, L-BFGS keeps its "
            "layout and repaints its surfaces. Without clamping, saturated colours may leave the displayable "
            "range during the run and are clipped at the end."),
)


def _number(value: float) -> str:
    """``1e6`` rather than ``1e+06``."""
    return f"{value:g}".replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")


def _tv_text(s: TransferSettings) -> str:
    if s.tv_weight == 0:
        return "none"
    form = "squared" if s.tv_power == 2 else "absolute"
    return f"{_number(s.tv_weight)} x {s.tv_reduction} of {form} differences ({s.image_units} units)"


def _optimizer_text(s: TransferSettings) -> str:
    if s.optimizer == "lbfgs":
        search = "strong-Wolfe line search" if s.line_search else "no line search"
        return f"L-BFGS, lr {s.learning_rate:g}, {search}"
    (beta1, beta2), where = s.adam_betas, " (Keras's form)" if s.adam_eps_hat else ""
    return f"Adam, lr {s.learning_rate:g}, betas {beta1:g}/{beta2:g}, eps {_number(s.adam_eps)}{where}"


def _stylelab() -> Preset:
    """stylelab's own defaults, read from :class:`~stylelab.settings.TransferSettings`."""
    d = TransferSettings()
    facts = (
        Fact("network", "the network stylize is given or builds: $STYLELAB_WEIGHTS, by default torchvision's "
             "ImageNet VGG-19", "stylelab/weights.py"),
        Fact("preprocessing", "what the weights expect: torchvision's mean/std, or Caffe's BGR 0-255 less the mean "
             "pixel; Caffe networks normalised (normalize='auto')", "stylelab/vgg.py"),
        Fact("content_layers", ", ".join(d.content_layers), "stylelab/settings.py"),
        Fact("style_layers", ", ".join(name for name, _ in d.style_layers), "stylelab/settings.py"),
        Fact("gram", "F F^T / (H W)", "stylelab/losses.py"),
        Fact("layer_weights", "1 / N_l^2 (layer_weighting='channels')", "stylelab/objective.py"),
        Fact("reduction", "mean squared error of features and of Gram matrices", "stylelab/losses.py"),
        Fact("weights", f"content {_number(d.content_weight)}, style {_number(d.style_weight)}", "stylelab/settings.py"),
        Fact("tv", _tv_text(d), "stylelab/settings.py"),
        Fact("optimizer", _optimizer_text(d), "stylelab/optimize.py"),
        Fact("evaluations", str(d.steps), "stylelab/settings.py"),
        Fact("init", "the content image", "stylelab/settings.py"),
        Fact("clamp", "projected onto [0, 1] before every evaluation", "stylelab/optimize.py"),
        Fact("size", "as given (the command line: longer side 512 px)", "stylelab/__main__.py"),
        Fact("pooling", d.network.pooling, "stylelab/network.py"),
    )
    return Preset(
        name="stylelab", title="stylelab's defaults", source="stylelab/settings.py (TransferSettings)",
        network="the network stylelab is given", preprocessing="", options={}, facts=facts, differs=(),
        effect=("Gatys et al.'s layers (relu4_2; relu1_1 ... relu5_1) with the PyTorch tutorial's objective "
                "(1 / N_l^2 per layer, style weight 1e6), started from the photo, optimised by L-BFGS with a "
                "line search that keeps every step from overshooting, pixels kept in [0, 1]."),
    )


#: Every preset by name, in the order of :func:`names`.
PRESETS: Dict[str, Preset] = {p.name: p for p in (_PYTORCH, _TENSORFLOW, _D2L, _NEURAL_STYLE, _GATYS, _stylelab())}


# --------------------------------------------------------------------------- reading the presets


def names() -> List[str]:
    """The presets' names: ``['pytorch-tutorial', 'tensorflow-tutorial', 'd2l', 'neural-style', 'gatys', 'stylelab']``."""
    return list(PRESETS)


def get(name: str) -> Preset:
    """The :class:`Preset` called ``name``; :class:`~stylelab.ParameterError` (one sentence
    listing the names) for any other value."""
    return PRESETS[validate.choice("preset", name, tuple(PRESETS))]


def options(name: str) -> Dict[str, Any]:
    """The :func:`~stylelab.stylize` keywords preset ``name`` sets (a copy)."""
    return dict(get(name).options)


def settings(preset: Optional[str] = None, **explicit: Any) -> TransferSettings:
    """The checked :class:`~stylelab.settings.TransferSettings` of ``preset`` with ``explicit``
    keywords on top: anything given explicitly wins, every other setting is the preset's, or
    stylelab's default where the preset says nothing (``preset=None``: the defaults alone).

    This is how :func:`~stylelab.stylize`, the command line and the widgets read ``preset=``.

    Raises:
        ParameterError: ``preset`` is not one of :func:`names`, or a value is wrong.
    """
    values = {} if preset is None else options(preset)
    return TransferSettings.from_options(**{**values, **explicit})


# --------------------------------------------------------------------------- showing them


def table(kind: str = "conventions", presets: Optional[Sequence[str]] = None) -> Table:
    """The presets side by side, one column each (Jupyter shows HTML, ``print`` Markdown).

    Args:
        kind: ``"conventions"``: each value in the implementation's own terms, a last row
            listing what stylelab cannot reproduce; ``"sources"``: where each value comes
            from (``path:line`` at the commit in the first row); ``"settings"``: the
            stylelab settings each preset runs with.
        presets: which presets, in this order (default: all of :func:`names`).
    """
    validate.choice("kind", kind, ("conventions", "sources", "settings"))
    chosen = [get(name) for name in (presets if presets is not None else names())]
    if kind == "settings":
        rows = _settings_rows(chosen)
    else:
        attribute = "value" if kind == "conventions" else "source"
        rows = [{"": heading, **{p.name: getattr(p.fact(topic), attribute) for p in chosen}}
                for topic, heading in TOPICS.items()]
        if kind == "conventions":
            rows.append({"": "not reproduced", **{p.name: "; ".join(d.label for d in p.differs) or "-" for p in chosen}})
        else:
            rows.insert(0, {"": "file", **{p.name: p.source for p in chosen}})
    captions = {
        "conventions": "Conventions of each implementation, in its own terms (sl.presets.explain(name) says more)",
        "sources": "Where each value comes from: lines of the file in the first row",
        "settings": "The stylelab settings each preset runs with",
    }
    return Table(rows, ["", *(p.name for p in chosen)], caption=captions[kind])


_SETTINGS_SHOWN = (
    ("content layers", lambda s: ", ".join(s.content_layers)),
    ("style layers", lambda s: ", ".join(n if w == 1 else f"{n} x{_number(w)}" for n, w in s.style_layers)),
    ("layer weighting", lambda s: s.layer_weighting),
    ("content / style weight", lambda s: f"{_number(s.content_weight)} / {_number(s.style_weight)}"),
    ("total variation", lambda s: _tv_text(s)),
    ("optimiser", lambda s: _optimizer_text(s)),
    ("evaluations", lambda s: str(s.steps)),
    ("start image", lambda s: s.start_rule(has_content=True)),
    ("image units", lambda s: s.image_units),
    ("clamp", lambda s: "yes" if s.clamp else "no"),
    ("size", lambda s: "as given" if s.size is None else str(s.size)),
    ("network", lambda s: f"normalize={s.network.normalize}, pooling={s.network.pooling}"),
)


def _settings_rows(chosen: Sequence[Preset]) -> List[Dict[str, str]]:
    made = {p.name: settings(p.name) for p in chosen}
    return [{"": heading, **{name: show(s) for name, s in made.items()}} for heading, show in _SETTINGS_SHOWN]


def explain(name: str, model: Optional[VGGFeatures] = None) -> str:
    """A few sentences on preset ``name``: what it does to a picture, the settings in which it
    differs from stylelab's defaults, and what stylelab cannot reproduce exactly.

    With ``model``, also whether that network is the one the implementation uses.
    """
    preset = get(name)
    lines = [f"{preset.title}. {preset.effect}"]
    changed = _changed_settings(name)
    if changed:
        lines.append("It differs from stylelab's defaults in " + "; ".join(changed) + ".")
    else:
        lines.append("These are stylelab's defaults.")
    if model is not None:
        lines.append(network_note(name, model))
    notes = [d.sentence for d in preset.differs]
    if preset.options:
        notes += [d.sentence for d in GENERAL_DIFFERENCES]
    if notes:
        lines.append("Not reproduced exactly: " + " ".join(notes))
    return "\n\n".join(lines)


def _changed_settings(name: str) -> List[str]:
    """``"field VALUE (stylelab: DEFAULT)"`` for every setting the preset changes, defaults resolved."""
    ours, theirs = _resolved(TransferSettings()), _resolved(settings(name))
    return [f"{field} {_plain(theirs[field])} (stylelab: {_plain(ours[field])})"
            for field in options(name) if theirs[field] != ours[field]]


def _resolved(s: TransferSettings) -> Dict[str, Any]:
    """The settings' values with ``lr``, ``init`` and ``normalize`` as a run resolves them."""
    values = {f: getattr(s, f) for f in s.record() if f != "network"}
    values.update(lr=s.learning_rate, init=s.start_rule(has_content=True), pooling=s.network.pooling,
                  normalize="auto" if s.network.normalize is None else s.network.normalize)
    return values


def _plain(value: Any) -> str:
    if isinstance(value, tuple) and value and all(isinstance(v, tuple) for v in value):
        return ", ".join(n if w == 1 else f"{n} x{_number(w)}" for n, w in value)  # style layers
    if isinstance(value, tuple) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    if isinstance(value, tuple):
        return "(" + ", ".join(_plain(v) for v in value) + ")"
    return _number(value) if isinstance(value, float) else str(value)



def network_note(name: str, model: VGGFeatures) -> str:
    """One sentence: is ``model`` the kind of network preset ``name``'s implementation uses
    (trained, VGG-19, the same preprocessing)? If not, what differs."""
    preset = get(name)
    if not preset.preprocessing:  # stylelab's own defaults take any network
        return f"stylelab's defaults run on any network; this one is {model.weights_label}."
    mismatch = [] if model.trained else ["its weights are untrained"]
    if model.architecture.name != "vgg19":
        mismatch.append(f"it is {model.architecture.title}, not VGG-19")
    if preset.preprocessing and model.preprocessing != preset.preprocessing:
        mismatch.append(f"its weights expect {model.preprocessing} preprocessing, not {preset.preprocessing}")
    if not mismatch:
        return f"The network in use ({model.weights_label}) is of the kind the implementation uses."
    return (f"The network in use ({model.weights_label}) differs from the implementation's ({preset.network}): "
            + " and ".join(mismatch) + "; the same weights weigh the losses differently there (effective_balance).")


# --------------------------------------------------------------------------- the effective balance


def effective_balance(name: str, model: VGGFeatures, content: Any, style: Any, **explicit: Any) -> float:
    r"""The style/content ratio preset ``name`` applies on ``model``, in units of the balance point.

    A preset's ``style_weight`` means nothing by itself: its style term's size depends on the
    network (activations of a Caffe network are tens to hundreds of times those of a
    torchvision one), on how the Gram matrix is normalised and on the layers. This number
    takes all of that into account:

    .. math::

        r = \frac{\beta\, S(p)}{\alpha\, C(a)}

    with :math:`p` the photo, :math:`a` the painting resized to the photo's size,
    :math:`\beta S(p)` the preset's weighted style term at the photo itself (the price of
    having no style at all) and :math:`\alpha C(a)` its weighted content term at the
    painting itself (the price of having no content at all), both computed with the
    preset's layers, normalisations and weights on ``model`` (no TV term). :math:`r = 1` is
    lesson 04's balance point: the photo and the painting cost the same. :math:`r = 100`
    leans a hundredfold towards the style, :math:`r = 0.01` towards the photo. For
    stylelab's conventions :math:`r = \beta / \beta^*`, with :math:`\beta^*` the balance
    point lesson 04 measures, so two presets with the same :math:`r` on a network balance
    the two losses alike there, whatever their weights read.

    Args:
        name: a preset (:func:`names`).
        model: the network, whose normalisation must be the preset's (as in
            :func:`~stylelab.stylize`; a :class:`~stylelab.ParameterError` says how to build it).
        content, style: the photo and the painting, anything :func:`~stylelab.load_image`
            reads (e.g. ``(1, 3, H, W)`` tensors in [0, 1]); the photo is used at its size,
            the painting at ``style_scale`` times it as in a run.
        **explicit: settings that replace the preset's, as in :func:`settings` (e.g.
            ``content_layers="relu4_3"`` where a layer is missing from the network).

    Returns:
        :math:`r`, a positive float (``inf`` if the painting has the photo's content features
        exactly).
    """
    checked = settings(name, **explicit)
    model = use_model(model, checked.network)
    photo = load_image(content).to(model.device)
    painting = load_image(style).to(model.device)
    shape = tuple(photo.shape[-2:])
    model.architecture.check_layer_names(list(checked.content_layers) + [n for n, _ in checked.style_layers])
    objective = StyleObjective(
        model, photo, [resize(painting, style_side(shape, checked.style_scale))],
        content_layers=checked.content_layers, style_layers=checked.style_layer_weights, blend=[1.0],
        content_weight=checked.content_weight, style_weight=checked.style_weight, tv_weight=0.0,
        layer_weighting=checked.layer_weighting,
    )
    with torch.no_grad():
        style_cost = objective(photo)["style"].item()
        content_cost = objective(resize(painting, shape))["content"].item()
    return style_cost / content_cost if content_cost > 0 else math.inf
