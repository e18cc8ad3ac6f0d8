"""Presets: each one's objective against an independent re-implementation of its source.

The re-implementations below use plain torch on the layers of the same network
(``model.layers``, the convolutions, ReLUs and poolings in order): not stylelab's
objective, losses or preprocessing. Each follows its implementation's own formulas (the
file and line are in ``stylelab/engine/presets.py``): Gram matrices, reductions, weights, TV,
preprocessing, the optimiser's update rule. The unit tier runs them on the seeded random
VGG-19 (torchvision preprocessing), the ``trained`` tier on the ImageNet-trained Caffe
VGG-16 (the Caffe preprocessing written out as the implementations write it).
"""

from __future__ import annotations

import math
import re

import pytest
import torch
from torch import nn

import stylelab as sl
from stylelab import ParameterError
from stylelab.engine import presets

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
CAFFE_MEAN_BGR = torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
STYLE = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]


# --------------------------------------------------------------------------- the independent side


def network_input(model, pixels):
    """What the network reads, written out as the implementations write it: Caffe weights
    (neural_style.lua:419-426 with 255, TF's x * 255 + preprocess_input, Gatys' prep) or
    torchvision's mean/std (the PyTorch tutorial's Normalization, d2l's preprocess)."""
    if model.preprocessing == "caffe":
        return pixels[:, [2, 1, 0]] * 255.0 - CAFFE_MEAN_BGR
    return (pixels - IMAGENET_MEAN) / IMAGENET_STD


def pixels_of(model, network_input_):
    if model.preprocessing == "caffe":
        return ((network_input_ + CAFFE_MEAN_BGR) / 255.0)[:, [2, 1, 0]]
    return network_input_ * IMAGENET_STD + IMAGENET_MEAN


def features(model, x, names):
    """``{name: activation}`` of the network's layers run one by one on its input ``x``."""
    out, wanted = {}, set(names)
    for name, module in model.layers.named_children():
        x = module(x) if not isinstance(module, nn.ReLU) else torch.relu(x)
        if name in wanted:
            out[name] = x
        if wanted <= set(out):
            return out
    return out


def mse(a, b):
    return ((a - b) ** 2).mean()


def gram(x, divide_by_channels):
    b, c, h, w = x.shape
    flat = x.reshape(b * c, h * w)
    return flat @ flat.t() / ((b * c if divide_by_channels else b) * h * w)


def tutorial_loss(model, content, style):
    """advanced_source/neural_style_tutorial.py: conv outputs, Gram / (a b c d), mse, 1e6 and 1."""
    layers, content_layer = ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1"], "conv2_2"
    targets = features(model, network_input(model, style), layers)
    grams = {n: gram(targets[n], True) for n in layers}
    p = features(model, network_input(model, content), [content_layer])[content_layer]

    def loss(pixels):
        f = features(model, network_input(model, pixels), layers)
        return 1e6 * sum(mse(gram(f[n], True), grams[n]) for n in layers) + 1 * mse(f[content_layer], p)
    return loss


def tensorflow_loss(model, content, style):
    """style_transfer.ipynb: Gram / (H W); style_weight / 5 of the summed means; 1e4 / 1; 30 x summed |differences|."""
    targets = features(model, network_input(model, style), STYLE)
    grams = {n: gram(targets[n], False) for n in STYLE}
    p = features(model, network_input(model, content), ["relu5_2"])["relu5_2"]

    def loss(pixels):
        f = features(model, network_input(model, pixels), STYLE + ["relu5_2"])
        style_loss = sum(((gram(f[n], False) - grams[n]) ** 2).mean() for n in STYLE) * 1e-2 / 5
        content_loss = ((f["relu5_2"] - p) ** 2).mean() * 1e4 / 1
        tv = (pixels[:, :, 1:, :] - pixels[:, :, :-1, :]).abs().sum() + (pixels[:, :, :, 1:] - pixels[:, :, :, :-1]).abs().sum()
        return style_loss + content_loss + 30 * tv
    return loss


def d2l_extract(model, x):
    """d2l's extract_features on torchvision's layout: in-place ReLUs, modules 0 ... 28."""
    net = nn.Sequential(*[nn.ReLU(inplace=True) if isinstance(m, nn.ReLU) else m for m in model.layers][:29])
    contents, styles = [], []
    for i in range(len(net)):
        x = net[i](x)
        if i in (0, 5, 10, 19, 28):
            styles.append(x)
        if i in (25,):
            contents.append(x)
    return contents, styles


def d2l_loss_of_input(model, content, style):
    """neural-style.md: the loss of the *normalised* image X (the optimised variable)."""
    contents_y, _ = d2l_extract(model, network_input(model, content))
    _, styles_y = d2l_extract(model, network_input(model, style))
    grams = [gram(y, True) for y in styles_y]

    def loss(x):
        contents_hat, styles_hat = d2l_extract(model, x)
        c = sum(((a - b) ** 2).mean() * 1 for a, b in zip(contents_hat, contents_y))
        s = sum(((gram(a, True) - g) ** 2).mean() * 1e4 for a, g in zip(styles_hat, grams))
        tv = 0.5 * ((x[:, :, 1:, :] - x[:, :, :-1, :]).abs().mean() + (x[:, :, :, 1:] - x[:, :, :, :-1]).abs().mean())
        return s + c + 10 * tv
    return loss


def neural_style_printed_loss(model, content, style):
    """neural_style.lua: 5 x mse at relu4_2 + 100 x mse of Gram / (C H W) (the TV term is not in the printed loss)."""
    targets = features(model, network_input(model, style), STYLE)
    grams = {n: gram(targets[n], True) for n in STYLE}
    p = features(model, network_input(model, content), ["relu4_2"])["relu4_2"]

    def loss(x):
        f = features(model, x, STYLE + ["relu4_2"])
        return 5 * mse(f["relu4_2"], p) + sum(100 * mse(gram(f[n], True), grams[n]) for n in STYLE)
    return loss


def neural_style_tv_gradient(x, strength):
    """TVLoss:updateGradInput (neural_style.lua:582-596), for a (1, C, H, W) tensor."""
    grad = torch.zeros_like(x)
    x_diff = x[:, :, :-1, :-1] - x[:, :, :-1, 1:]
    y_diff = x[:, :, :-1, :-1] - x[:, :, 1:, :-1]
    grad[:, :, :-1, :-1] += x_diff + y_diff
    grad[:, :, :-1, 1:] -= x_diff
    grad[:, :, 1:, :-1] -= y_diff
    return grad * strength


def gatys_loss_of_input(model, content, style):
    """NeuralStyleTransfer.ipynb: Gram / (h w), MSE, 1e3 / n^2 per style layer, 1 for content, on the input x."""
    targets = features(model, network_input(model, style), STYLE)
    grams = [gram(targets[n], False) for n in STYLE]
    p = features(model, network_input(model, content), ["relu4_2"])["relu4_2"]
    weights = [1e3 / n ** 2 for n in (64, 128, 256, 512, 512)] + [1e0]

    def loss(x):
        f = features(model, x, STYLE + ["relu4_2"])
        losses = [mse(gram(f[n], False), g) for n, g in zip(STYLE, grams)] + [mse(f["relu4_2"], p)]
        return sum(w * l for w, l in zip(weights, losses))
    return loss


# --------------------------------------------------------------------------- helpers


@pytest.fixture()
def photo():
    return sl.data.example("chelsea", size=32)


@pytest.fixture()
def painting():
    return sl.data.example("swirls", size=32)


def stylelab_run(model, photo, painting, name, start, steps, **explicit):
    """stylize with preset ``name`` from ``start``: the images and losses of its first evaluations."""
    seen = []
    result = sl.stylize(photo, painting, model=model, preset=name, init=start, steps=steps, size=None, progress=False,
                        callback=lambda n, image, losses: seen.append(image.clone()), **explicit)
    return result, seen


def first_value(model, photo, painting, name, image, **explicit):
    """The objective stylize builds with the preset, at ``image`` (its first evaluation)."""
    result, _ = stylelab_run(model, photo, painting, name, image, 1, **explicit)
    return result.history


def relative(a, b):
    return abs(a - b) / abs(b)


def reference_lbfgs(loss, start, to_pixels, *, clamp=False, **options):
    """One ``step()`` of ``torch.optim.LBFGS`` (its defaults unless ``options``) from ``start``,
    as the implementations call it: ``(images in [0, 1], losses)`` of each evaluation.
    ``clamp``: clamp the variable to [0, 1] at the start of every evaluation (the PyTorch tutorial)."""
    x = start.clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([x], **options)
    images, losses = [], []

    def closure():
        if clamp:
            with torch.no_grad():
                x.clamp_(0, 1)
        optimizer.zero_grad()
        value = loss(x)
        value.backward()
        images.append(to_pixels(x.detach()).clamp(0, 1))
        losses.append(value.item())
        return value

    optimizer.step(closure)
    return images, losses


def same_path(result, ours, theirs, losses, count):
    """The first ``count`` evaluations of a stylize run and of a reference agree (images and losses)."""
    assert len(ours) == count and len(losses) >= count
    for k in range(count):
        assert torch.allclose(ours[k], theirs[k], atol=1e-5), k
        assert relative(result.history["total"][k], losses[k]) < 1e-5, k
    assert losses[count - 1] < losses[0]  # the run moved


# --------------------------------------------------------------------------- the data


def test_names_and_every_preset_makes_valid_settings():
    assert presets.names() == ["pytorch-tutorial", "tensorflow-tutorial", "d2l", "neural-style", "gatys", "stylelab"]
    for name in presets.names():
        presets.settings(name)  # checked like any settings
    assert presets.settings("stylelab") == sl.settings.TransferSettings()


def test_every_preset_states_every_convention_with_a_source():
    for name in presets.names():
        preset = presets.get(name)
        assert [f.topic for f in preset.facts] == list(presets.TOPICS), name
        for fact in preset.facts:
            assert fact.value and fact.source, (name, fact.topic)
            if name != "stylelab":  # a line of the file read, or a file of another repository at a commit
                assert re.match(r"^\d+", fact.source) or "@" in fact.source, (name, fact)
        if name != "stylelab":
            assert re.search(r"@[0-9a-f]{40}:", preset.source), preset.source


def test_the_implementation_specific_conventions_are_set_by_each_preset():
    for name in presets.names()[:-1]:
        chosen = presets.options(name)
        required = {"content_layers", "style_layers", "content_weight", "style_weight", "layer_weighting", "tv_weight",
                    "optimizer", "lr", "steps", "init", "clamp", "image_units", "size", "pooling", "normalize"}
        if chosen["tv_weight"] > 0:
            required |= {"tv_power", "tv_reduction"}
        required |= {"line_search"} if chosen["optimizer"] == "lbfgs" else {"adam_betas", "adam_eps", "adam_eps_hat"}
        assert required <= set(chosen), (name, required - set(chosen))


def test_an_unknown_preset_gets_one_sentence_listing_the_names(content, style, model):
    with pytest.raises(ParameterError, match=r"^preset must be 'pytorch-tutorial', .* or 'stylelab'; got 'gatsy'\.$"):
        sl.stylize(content, style, model=model, preset="gatsy")
    with pytest.raises(ParameterError, match="presets.settings"):
        sl.settings.TransferSettings.from_options(preset="gatys")


def test_explicit_settings_win_over_the_preset():
    chosen = presets.settings("gatys", steps=7, style_weight=5.0, normalize=None)
    assert chosen.steps == 7 and chosen.style_weight == 5.0 and chosen.network.normalize is None
    assert chosen.content_layers == ("relu4_2",) and not chosen.clamp and chosen.image_units == "network"
    assert presets.settings(None, steps=7) == sl.settings.TransferSettings(steps=7)


def test_table_shows_every_preset_side_by_side():
    conventions = presets.table()
    assert conventions.columns == ["", *presets.names()] and len(conventions) == len(presets.TOPICS) + 1
    text = str(conventions)
    assert "F F^T / (C H W)" in text and "Keras weights" in text and "<table" in conventions._repr_html_()
    sources = presets.table("sources", ["gatys"])
    assert sources.rows[0]["gatys"].startswith("leongatys/PytorchNeuralStyleTransfer@")
    shown = presets.table("settings")
    assert shown.rows[0]["pytorch-tutorial"] == "conv2_2" and shown.rows[0]["stylelab"] == "relu4_2"


def test_explain_names_what_differs_from_the_defaults(model):
    text = presets.explain("pytorch-tutorial", model)
    assert "content_layers conv2_2 (stylelab: relu4_2)" in text and "line_search False (stylelab: True)" in text
    assert "untrained" in text and "shorter side" in text
    assert "These are stylelab's defaults" in presets.explain("stylelab")


# --------------------------------------------------------------------------- verified, not approximated


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_pytorch_tutorial_objective_and_first_iterates(model, photo, painting):
    loss = tutorial_loss(model, photo, painting)
    image = torch.rand_like(photo)
    assert relative(first_value(model, photo, painting, "pytorch-tutorial", image)["total"][0], loss(image).item()) < 1e-5
    # The tutorial's loop: L-BFGS with its defaults, the pixels clamped at the start of each evaluation.
    theirs, losses = reference_lbfgs(loss, photo, lambda x: x, clamp=True)
    result, ours = stylelab_run(model, photo, painting, "pytorch-tutorial", photo, 6)
    same_path(result, ours, theirs, losses, 6)


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_tensorflow_tutorial_objective_and_first_iterates(model, photo, painting):
    loss = tensorflow_loss(model, photo, painting)
    image = torch.rand_like(photo)
    history = first_value(model, photo, painting, "tensorflow-tutorial", image)
    assert relative(history["total"][0], loss(image).item()) < 1e-5
    # train_step: the gradient, Keras's Adam (lr 0.02, beta1 0.99, epsilon 0.1 before the bias correction), clip.
    x, m, v, theirs, losses = photo.clone(), 0.0, 0.0, [], []
    for t in range(1, 5):
        theirs.append(x.clone())
        x.requires_grad_(True)
        value = loss(x)
        losses.append(value.item())
        (g,) = torch.autograd.grad(value, x)
        m, v = 0.99 * m + 0.01 * g, 0.999 * v + 0.001 * g ** 2
        x = (x.detach() - 0.02 * math.sqrt(1 - 0.999 ** t) / (1 - 0.99 ** t) * m / (v.sqrt() + 0.1)).clamp(0, 1)
    result, ours = stylelab_run(model, photo, painting, "tensorflow-tutorial", photo, 4)
    same_path(result, ours, theirs, losses, 4)


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_d2l_objective_with_its_in_place_relus_and_first_iterates(model, photo, painting):
    loss = d2l_loss_of_input(model, photo, painting)
    image = torch.rand_like(photo)
    history = first_value(model, photo, painting, "d2l", image)
    assert relative(history["total"][0], loss(network_input(model, image)).item()) < 1e-5
    # get_inits + train: PyTorch's Adam (lr 0.3) on the normalised content image, no clamping; the learning
    # rate decays only after 50 steps, so the first ones are d2l's exactly.
    x = network_input(model, photo).clone().requires_grad_(True)
    trainer = torch.optim.Adam([x], lr=0.3)
    theirs, losses = [], []
    for _ in range(4):
        theirs.append(pixels_of(model, x.detach()).clamp(0, 1))
        trainer.zero_grad()
        value = loss(x)
        losses.append(value.item())
        value.backward()
        trainer.step()
    result, ours = stylelab_run(model, photo, painting, "d2l", photo, 4)
    same_path(result, ours, theirs, losses, 4)


def test_d2l_keeps_relu_outputs_where_its_text_says_convolutions(model, photo):
    # The in-place ReLU after modules 0, 5, 10, 19 and 25 overwrites the tensor kept; module 28 is the last one.
    contents, styles = d2l_extract(model, network_input(model, photo))
    ours = features(model, network_input(model, photo), ["relu4_4", "relu1_1", "relu2_1", "relu3_1", "relu4_1", "conv5_1"])
    assert torch.equal(contents[0], ours["relu4_4"])
    assert all(torch.equal(a, ours[n]) for a, n in zip(styles, ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "conv5_1"]))
    assert (styles[-1] < 0).any()  # conv5_1 is not rectified
    assert presets.options("d2l")["content_layers"] == ("relu4_4",)


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_neural_style_objective_tv_gradient_and_first_iterates(model, photo, painting):
    printed = neural_style_printed_loss(model, photo, painting)
    image = torch.rand_like(photo)
    history = first_value(model, photo, painting, "neural-style", image)
    x = network_input(model, image)
    assert relative(history["content"][0] + history["style"][0], printed(x).item()) < 1e-5
    # Its TV term exists only as a gradient: the same as stylelab's TV sum except on the last row and column.
    y = x.clone().requires_grad_(True)
    (ours,) = torch.autograd.grad(5e-4 * sl.tv_loss(y, power=2, reduction="sum"), y)
    theirs = neural_style_tv_gradient(x, 1e-3)
    assert torch.allclose(ours[..., :-1, :-1], theirs[..., :-1, :-1], rtol=1e-5, atol=1e-6)
    assert not torch.allclose(ours[..., -1, :], theirs[..., -1, :], atol=1e-3)  # the border it leaves out
    assert history["tv"][0] == pytest.approx(5e-4 * sl.tv_loss(x, reduction="sum").item(), rel=1e-5)
    # Torch's optim.lbfgs, learning rate 1, no line search, on the preprocessed image, nothing clamped (without
    # its TV term, whose border differs as shown above).
    start = torch.rand(photo.shape, generator=torch.Generator().manual_seed(0))
    theirs, losses = reference_lbfgs(printed, network_input(model, start), lambda v: pixels_of(model, v), max_iter=10,
                                     tolerance_grad=-1, tolerance_change=-1)
    result, ours = stylelab_run(model, photo, painting, "neural-style", start, 5, tv_weight=0.0)
    same_path(result, ours, theirs, losses, 5)


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_gatys_objective_and_first_iterates(model, photo, painting):
    # The paper's network is normalised: here the random network's normalised copy.
    net = sl.VGGFeatures(weights="random", device="cpu", normalize=True)
    loss = gatys_loss_of_input(net, photo, painting)
    image = torch.rand_like(photo)
    history = first_value(net, photo, painting, "gatys", image)
    assert relative(history["total"][0], loss(network_input(net, image)).item()) < 1e-5
    # The notebook: optim.LBFGS with its defaults on the preprocessed content image, nothing clamped.
    theirs, losses = reference_lbfgs(loss, network_input(net, photo), lambda x: pixels_of(net, x))
    result, ours = stylelab_run(net, photo, painting, "gatys", photo, 6)
    same_path(result, ours, theirs, losses, 6)


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_the_gatys_preset_needs_a_normalised_network(model, photo, painting):
    with pytest.raises(ParameterError, match="normalize=True"):
        sl.stylize(photo, painting, model=model, preset="gatys", steps=1, progress=False)


# --------------------------------------------------------------------------- the effective balance


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_effective_balance_is_lesson_04s_ratio(model, photo, painting):
    # For stylelab's conventions r = beta / beta*, beta* the balance point lesson 04 measures.
    judge = sl.StyleObjective(model, photo, [painting], content_layers=["relu4_2"],
                              style_layers={n: 1.0 for n in STYLE}, blend=[1.0], content_weight=1.0, style_weight=1.0,
                              tv_weight=0.0)
    with torch.no_grad():
        scores = {k: v.item() for k, v in judge(photo).items()}
        content_of_painting = judge(sl.resize(painting, tuple(photo.shape[-2:])))["content"].item()
    balance = content_of_painting / sum(scores[f"style:{n}"] / model.architecture.spec(n).out_channels ** 2 for n in STYLE)
    r = presets.effective_balance("stylelab", model, photo, painting)
    assert r == pytest.approx(1e6 / balance, rel=1e-5)
    assert presets.effective_balance("stylelab", model, photo, painting, style_weight=2e6) == pytest.approx(2 * r)
    # The tutorial's own terms: its style term at the photo over its content term at the painting.
    layers = ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1"]
    at_photo = features(model, network_input(model, photo), layers)
    at_painting = features(model, network_input(model, painting), layers)
    resized = features(model, network_input(model, sl.resize(painting, tuple(photo.shape[-2:]))), ["conv2_2"])
    style_term = 1e6 * sum(mse(gram(at_photo[n], True), gram(at_painting[n], True)) for n in layers)
    content_term = 1 * mse(resized["conv2_2"], at_photo["conv2_2"])
    ratio = presets.effective_balance("pytorch-tutorial", model, photo, painting)
    assert ratio == pytest.approx((style_term / content_term).item(), rel=1e-5)


def test_on_network_keeps_the_model_where_it_fits_and_names_the_layer_vgg16_lacks(model):
    # The random VGG-19 is not normalised, like every preset's network but Gatys' (and stylelab's "auto").
    for name in ("pytorch-tutorial", "tensorflow-tutorial", "d2l", "neural-style", "stylelab"):
        assert presets.on_network(name, model) == {"model": model}, name
    vgg16 = sl.VGGFeatures(weights="random-vgg16", device="cpu")
    assert presets.on_network("d2l", vgg16) == {"model": vgg16, "content_layers": ("relu4_3",)}
    assert presets.on_network("pytorch-tutorial", vgg16) == {"model": vgg16}


@pytest.mark.slow  # normalises a random VGG-19 (more than half a second on a 2-core CPU)
def test_on_network_gives_gatys_the_same_weights_normalised_and_back(model, photo, painting):
    keywords = presets.on_network("gatys", model)
    twin = keywords["model"]
    assert set(keywords) == {"model"} and twin.normalized and not model.normalized
    assert presets.on_network("gatys", model)["model"] is twin  # built once per model
    assert presets.on_network("pytorch-tutorial", model, normalize=True)["model"] is twin  # explicit settings count
    # normalising rescales each ReLU output channel by a positive factor: the same function, other units
    ours, theirs = model(photo, ["relu3_1"])["relu3_1"], twin(photo, ["relu3_1"])["relu3_1"]
    ratio = ours.flatten(2).sum(2) / theirs.flatten(2).sum(2).clamp_min(1e-30)
    assert (ours - theirs * ratio[..., None, None]).abs().max() < 1e-5 * ours.abs().max()
    back = presets.on_network("pytorch-tutorial", twin)["model"]
    assert not back.normalized and torch.equal(back(photo, ["relu3_1"])["relu3_1"], ours)
    assert presets.effective_balance("gatys", content=photo, style=painting, **keywords) > 0


# --------------------------------------------------------------------------- the trained network


@pytest.mark.slow
@pytest.mark.trained
@pytest.mark.parametrize("name", ["tensorflow-tutorial", "neural-style", "gatys"])
def test_caffe_presets_on_the_trained_vgg16(caffe_vgg16, name, photo, painting):
    # Caffe preprocessing (BGR, 0-255, mean pixel) written out as these implementations write it.
    net = sl.VGGFeatures(weights=str(caffe_vgg16), device="cpu", normalize=presets.options(name)["normalize"])
    assert net.preprocessing == "caffe"
    image = torch.rand_like(photo)
    history = first_value(net, photo, painting, name, image)
    if name == "tensorflow-tutorial":
        expected, got = tensorflow_loss(net, photo, painting)(image).item(), history["total"][0]
    elif name == "neural-style":
        expected = neural_style_printed_loss(net, photo, painting)(network_input(net, image)).item()
        got = history["content"][0] + history["style"][0]
    else:
        expected, got = gatys_loss_of_input(net, photo, painting)(network_input(net, image)).item(), history["total"][0]
    assert relative(got, expected) < 1e-5


# --------------------------------------------------------------------------- the command line and the playground


def test_the_command_line_takes_a_preset_and_given_options_win():
    from stylelab.__main__ import build_parser, settings_from_args

    def made(*options):
        return settings_from_args(build_parser().parse_args(["a.jpg", "b.jpg", "-o", "c.png", *options]))

    assert made() == presets.settings(None)  # without --preset: the defaults (the API's, size=None too)
    assert made("--preset", "d2l") == presets.settings("d2l")  # the preset's own size, (300, 450)
    chosen = made("--preset", "gatys", "--steps", "40", "--style-weight", "10", "--normalize", "auto")
    assert chosen == presets.settings("gatys", steps=40, style_weight=10.0, normalize="auto")


def test_the_command_line_names_the_presets_for_an_unknown_one(tmp_path, capsys):
    from stylelab.__main__ import main

    code = main([str(sl.data.example_path("chelsea")), str(sl.data.example_path("swirls")), "-o",
                 str(tmp_path / "out.png"), "--preset", "pytorch"])
    assert code == 2 and not (tmp_path / "out.png").exists()
    assert "error: preset must be 'pytorch-tutorial', 'tensorflow-tutorial'" in capsys.readouterr().err


def test_the_playground_puts_a_preset_on_its_settings(model):
    from stylelab.course.widgets.models import ImageChoice, PlaygroundRun

    run = PlaygroundRun(model, ImageChoice(["chelsea"], size=32), ImageChoice(["swirls"], size=32), steps=2)
    before = run.settings()
    for name in ("pytorch-tutorial", "tensorflow-tutorial", "neural-style"):
        run.use_preset(name)
        # The preset's conventions, on the playground's own images (size) and network (normalize).
        assert run.settings() == presets.settings(name, size=None, normalize=None, seed=0), name
    run.ratio, run.steps = 1e-4, 3  # a control changed afterwards wins; the ratio is style / content weight
    assert run.settings().style_weight == pytest.approx(5 * 1e-4) and run.settings().content_weight == 5
    assert run.settings().steps == 3
    run.use_preset(None)
    assert run.preset is None and run.settings().image_units == before.image_units == "pixels"


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_the_playground_view_offers_the_presets(model):
    from stylelab.course.widgets.playground import StylePlayground

    playground = StylePlayground(model, size=32, steps=2)
    assert [value for _, value in playground.preset.options] == [None, *presets.names()]
    playground.preset.value = "tensorflow-tutorial"
    # The controls show the preset's values, even those outside their starting ranges (a ratio of 1e-6).
    assert playground.content_layer.value == "relu5_2" and playground.optimizer.value == "adam"
    assert playground.ratio.value == pytest.approx(1e-6) and playground.steps.value == 1000
    assert playground.tv_weight.value == 30 and playground.settings() == playground.state.settings()
    assert playground.settings().adam_eps_hat and "preset tensorflow-tutorial" in playground.describe(playground.settings())
