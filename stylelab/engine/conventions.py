"""What five well-known style-transfer implementations do, read from their source.

One :class:`Preset` record each: the :func:`~stylelab.stylize` keywords that reproduce its
conventions, every convention in the implementation's own terms with the file and line it
comes from (:class:`Fact`), and what stylelab cannot reproduce exactly (:class:`Difference`).
:mod:`stylelab.engine.presets` adds stylelab's own defaults and the functions that read them
(``stylize(..., preset=...)``, tables, explanations, the effective balance).

Facts only: the values and where they are, in our own words; nothing here is copied code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Mapping, Tuple

__all__ = ["Fact", "Difference", "Preset", "TOPICS", "GENERAL_DIFFERENCES", "IMPLEMENTATIONS"]


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

_TORCHVISION_VGG_RELU = "torchvision 0.29.1 (as installed):torchvision/models/vgg.py:85"
_TORCH_LBFGS = "torch 2.14.1 (as installed):torch/optim/lbfgs.py:212-218"
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
            "a much too long step (lesson 05). Its style weight was chosen for torchvision's VGG-19: on the "
            "ImageNet-trained VGG-16 with Caffe weights (pixels in 0-255 units, unnormalised) the same 1e6 puts "
            "the style about nine million times above the balance point (presets.effective_balance)."),
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
            "its details are free to change. The style weight is tiny in number but not in effect on a Caffe-style "
            "network like its own: the Gram matrices are only divided by H W and the activations are in 0-255 "
            "units (on the trained Caffe VGG-16, about 10 times the balance point). The TV term (absolute "
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
            "Gram / (C H W) units on the unnormalised Caffe network leans strongly towards the style (on the "
            "trained Caffe VGG-16, about 350 times the balance point); the TV term smooths the noise of the start. "
            "Plain L-BFGS, as here, now and then overshoots."),
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
            "shallow layers' 1 / N_l^2 makes colour and fine texture count most. On stylelab's normalised, trained "
            "VGG-16 these weights sit below the balance point (about 0.3: the photo's side weighs about three "
            "times the painting's), and the run starts from the photo, so its layout stays. Without clamping, "
            "saturated colours may leave the displayable range during the run and are clipped at the end."),
)


#: The five implementations, in the order :func:`stylelab.engine.presets.names` lists them.
IMPLEMENTATIONS: Tuple[Preset, ...] = (_PYTORCH, _TENSORFLOW, _D2L, _NEURAL_STYLE, _GATYS)
