"""The exercise checkers: each passes the reference solution and names each common mistake.

Every mistaken implementation below is written the way a learner would write it; the
test asserts that the checker recognises it by name and says something specific.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch

import stylelab as sl
from stylelab import exercises

SOLUTIONS = Path(__file__).resolve().parent.parent / "notebooks" / "solutions"


def load_solution(filename: str) -> dict:
    """Run a solution file in a fresh namespace, as %load + running the cell would."""
    namespace: dict = {}
    exec(compile((SOLUTIONS / filename).read_text(), filename, "exec"), namespace)
    return namespace


def verdict(check, answer, mistake: str, *phrases: str):
    result = check(answer, quiet=True)
    assert result.status == "failed", f"expected a failure, got {result!r}: {result.message}"
    assert result.mistake == mistake, f"expected {mistake!r}, got {result.mistake!r}: {result.message}"
    for phrase in phrases:
        assert phrase in result.message, f"{phrase!r} not in: {result.message}"
    return result


# --------------------------------------------------------------------------- reference solutions


def test_every_exercise_has_a_solution_file_that_passes_its_checker(capsys):
    files = {exercise.solution_file for exercise in exercises.EXERCISES.values()}
    assert files == {path.name for path in SOLUTIONS.glob("*.py")}
    for name, exercise in exercises.EXERCISES.items():
        answer = load_solution(exercise.solution_file)[name]
        result = exercises.check(name, answer)
        assert result.passed, f"{name}: {result.message}"
        printed = capsys.readouterr().out
        assert printed.startswith("\u2705") and name in printed and "correct!" in printed


def test_solution_prints_the_reference_and_explains_unknown_names(capsys):
    code = exercises.solution("gram_matrix")
    assert "def gram_matrix(features):" in code and code in capsys.readouterr().out
    assert exercises.solution("large_structure_layers", show=False) == (SOLUTIONS / "style_layers.py").read_text()
    with pytest.raises(ValueError, match="no exercise called 'gram'.*gram_matrix"):
        exercises.solution("gram")


def test_solution_reports_a_missing_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("STYLELAB_SOLUTIONS", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="STYLELAB_SOLUTIONS"):
        exercises.solution("tv_loss")


# --------------------------------------------------------------------------- never raises


def raises_value_error(*args):
    raise ValueError("boom")


def calls_exit(*args):
    sys.exit(3)


@pytest.mark.parametrize("name", list(exercises.EXERCISES))
@pytest.mark.parametrize("answer", [42, "text", raises_value_error, calls_exit, lambda *a: "nonsense", lambda *a: None])
def test_checkers_never_raise_into_the_notebook(name, answer, capsys):
    result = exercises.check(name, answer)
    assert result.status == "failed" and result.message
    assert capsys.readouterr().out.startswith("\u274c")


@pytest.mark.parametrize("name", [n for n, e in exercises.EXERCISES.items() if e.lesson != "04"])
def test_a_stub_is_not_attempted(name):
    def stub(*args):
        raise NotImplementedError

    result = exercises.check(name, stub, quiet=True)
    assert result.status == "not attempted" and not result.passed and result.mistake is None
    assert "NotImplementedError" in result.message


@pytest.mark.parametrize("stub", [None, ...])
def test_an_unfilled_answer_is_not_attempted(stub):
    assert exercises.check("fine_texture_layers", stub, quiet=True).status == "not attempted"


def test_raised_errors_are_reported_with_the_inputs():
    def content_loss(generated, target):
        return generated.matmul(target)  # (1,3,4,5) @ (1,3,4,5) cannot be multiplied

    result = verdict(exercises.check_content_loss, content_loss, "raised_error", "RuntimeError", "shape (1, 3, 4, 5)")
    assert result.status == "failed"


def test_unknown_exercise_is_a_verdict_not_an_exception():
    result = exercises.check("content_los", lambda g, t: 0, quiet=True)
    assert result.status == "checker error" and "content_loss" in result.message


# --------------------------------------------------------------------------- 01 output_shape

CHANNELS = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}


def _block_and_pools(layer):
    block = int(layer[4]) if layer.startswith("pool") else int(layer.split("_")[0][-1])
    return block, block if layer.startswith("pool") else block - 1


def shape_no_pooling(layer, height, width):
    block, _ = _block_and_pools(layer)
    return CHANNELS[block], height, width


def shape_counted_own_block(layer, height, width):
    block, _ = _block_and_pools(layer)
    return CHANNELS[block], height // 2 ** block, width // 2 ** block


def shape_channels_last(layer, height, width):
    block, pools = _block_and_pools(layer)
    return height // 2 ** pools, width // 2 ** pools, CHANNELS[block]


def shape_rounded_up(layer, height, width):
    block, pools = _block_and_pools(layer)
    for _ in range(pools):
        height, width = math.ceil(height / 2), math.ceil(width / 2)
    return CHANNELS[block], height, width


def shape_input_channels(layer, height, width):
    block, pools = _block_and_pools(layer)
    channels = CHANNELS[block]
    if layer.startswith("conv") and layer.endswith("_1"):
        channels = {1: 3, 2: 64, 3: 128, 4: 256, 5: 512}[block]
    return channels, height // 2 ** pools, width // 2 ** pools


def shape_swapped(layer, height, width):
    block, pools = _block_and_pools(layer)
    return CHANNELS[block], width // 2 ** pools, height // 2 ** pools


def shape_two_numbers(layer, height, width):
    _, pools = _block_and_pools(layer)
    return height // 2 ** pools, width // 2 ** pools


@pytest.mark.parametrize("answer, mistake, phrase", [
    (shape_no_pooling, "no_pooling", "never shrink"),
    (shape_counted_own_block, "counted_own_block", "once too often"),
    (shape_channels_last, "channels_last", "channels first"),
    (shape_rounded_up, "rounded_up", "floor(size / 2)"),
    (shape_input_channels, "input_channels", "as many channels as it has filters"),
    (shape_swapped, "height_width_swapped", "swapped"),
    (shape_two_numbers, "not_three_numbers", "three whole numbers"),
])
def test_output_shape_mistakes(answer, mistake, phrase):
    verdict(exercises.check_output_shape, answer, mistake, phrase)


def test_output_shape_unknown_mistake_names_the_failing_case():
    def output_shape(layer, height, width):
        return (64, 1, 1)

    verdict(exercises.check_output_shape, output_shape, "wrong_value", "'conv1_1' on a 224x224 image", "(64, 224, 224)")


# --------------------------------------------------------------------------- 02 content_loss


@pytest.mark.parametrize("answer, mistake, phrase", [
    (lambda g, t: ((g - t) ** 2).sum(), "sum_instead_of_mean", "60 times too big"),
    (lambda g, t: 0.5 * ((g - t) ** 2).sum(), "half_sum", "paper's 1/2"),
    (lambda g, t: (g - t).mean(), "not_squared", "cancel out"),
    (lambda g, t: (g - t).abs().mean(), "absolute_error", "L1"),
    (lambda g, t: ((g - t) ** 2).mean().sqrt(), "square_root", "RMSE"),
    (lambda g, t: (g - t).mean() ** 2, "squared_the_mean", "square first, then take the mean"),
    (lambda g, t: (g - t) ** 2, "not_reduced", "shape (1, 3, 4, 5)"),
    (lambda g, t: ((g - t) ** 2).mean(dim=(2, 3)), "not_reduced", "shape (1, 3)"),
    (lambda g, t: ((g - t) ** 2).mean().item(), "not_a_tensor", ".item()"),
    (lambda g, t: torch.tensor(((g - t) ** 2).mean().item()), "no_gradient", "no gradient can flow"),
])
def test_content_loss_mistakes(answer, mistake, phrase):
    verdict(exercises.check_content_loss, answer, mistake, phrase)


def test_content_loss_in_place_modification_is_named():
    def content_loss(generated, target):
        generated -= target  # changes the caller's tensor
        return (generated ** 2).mean()

    verdict(exercises.check_content_loss, content_loss, "modifies_input", "in-place")


def test_content_loss_forgotten_return():
    def content_loss(generated, target):
        ((generated - target) ** 2).mean()

    verdict(exercises.check_content_loss, content_loss, "returned_nothing", "return statement")


def test_content_loss_wrong_value_shows_the_expected_number():
    result = verdict(exercises.check_content_loss, lambda g, t: ((g - t) ** 2).mean() + 1, "wrong_value")
    generated, target = exercises._content_case()
    assert f"{float(sl.content_loss(generated, target)):.6g}" in result.message


# --------------------------------------------------------------------------- 03 gram_matrix


def gram_batch_dropped(features):
    b, c, h, w = features.shape
    flat = features.view(c, h * w)
    return flat @ flat.T / (h * w)


def gram_transposed(features):
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)
    return flat.transpose(1, 2) @ flat / (h * w)


def gram_not_normalised(features):
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2)


def gram_chw(features):
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def gram_channels_last(features):
    b, c, h, w = features.shape
    flat = features.reshape(b, h * w, c)
    return flat.transpose(1, 2) @ flat / (h * w)


def gram_first_image_only(features):
    b, c, h, w = features.shape
    flat = features[0].reshape(c, h * w)
    return (flat @ flat.T / (h * w)).unsqueeze(0)


def gram_in_place(features):
    b, c, h, w = features.shape
    features /= math.sqrt(h * w)
    flat = features.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2)


def gram_numpy(features):
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w).numpy()
    return torch.from_numpy(flat @ flat.transpose(0, 2, 1) / (h * w))


def gram_wrong_shape(features):
    b, c, h, w = features.shape
    return features.reshape(b, c, h * w) / (h * w)


@pytest.mark.parametrize("answer, mistake, phrase", [
    (gram_batch_dropped, "batch_dropped", "batch dimension was dropped"),
    (gram_transposed, "transposed_product", "F^T F"),
    (gram_not_normalised, "not_normalised", "not divided by H*W (here 15)"),
    (gram_chw, "normalised_by_chw", "divided by C*H*W"),
    (gram_channels_last, "channels_last_reshape", "as if channels were last"),
    (gram_first_image_only, "batch_of_one_only", "batch of two"),
    (gram_in_place, "modifies_input", "in-place"),
    (gram_numpy, "no_gradient", "no gradient can flow"),
    (gram_wrong_shape, "wrong_shape", "should have shape (1, 4, 4)"),
])
def test_gram_matrix_mistakes(answer, mistake, phrase):
    verdict(exercises.check_gram_matrix, answer, mistake, phrase)


# --------------------------------------------------------------------------- 03 style_loss


def _gram(features):
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2) / (h * w)


def style_raw_gram(generated_features, target_gram):
    b, c, h, w = generated_features.shape
    flat = generated_features.reshape(b, c, h * w)
    return ((flat @ flat.transpose(1, 2) - target_gram) ** 2).mean()


def style_in_place(generated_features, target_gram):
    target_gram -= _gram(generated_features)
    return (target_gram ** 2).mean()


def style_calls_stub(generated_features, target_gram):
    return ((gram_matrix(generated_features) - target_gram) ** 2).mean()


def gram_matrix(features):  # the learner's unfinished stub, called by style_calls_stub
    raise NotImplementedError


@pytest.mark.parametrize("answer, mistake, phrase", [
    (lambda f, a: ((_gram(f) - a) ** 2).sum(), "sum_instead_of_mean", "4x4 Gram entries"),
    (lambda f, a: ((_gram(f) - a) ** 2).mean() / 4, "paper_quarter", "factor 1/4"),
    (lambda f, a: (_gram(f) - a).mean(), "not_squared", "Square them first"),
    (lambda f, a: (_gram(f) - a).abs().mean(), "absolute_error", "absolute differences"),
    (lambda f, a: ((_gram(f) - a) ** 2).mean().sqrt(), "square_root", "square root"),
    (style_raw_gram, "gram_not_normalised", "check_gram_matrix"),
    (lambda f, a: (_gram(f) - a) ** 2, "not_reduced", "shape (1, 4, 4)"),
    (style_in_place, "modifies_input", "in-place"),
    (style_calls_stub, "unfinished_dependency", "calls gram_matrix"),
    (lambda f, a: float(((_gram(f) - a) ** 2).mean()), "not_a_tensor", "float"),
])
def test_style_loss_mistakes(answer, mistake, phrase):
    verdict(exercises.check_style_loss, answer, mistake, phrase)


# --------------------------------------------------------------------------- 04 style layers


@pytest.mark.parametrize("answer, look, mistake, phrase", [
    ("relu1_1", "fine texture", "string_not_list", "['relu1_1']"),
    ([], "fine texture", "empty_choice", "no layer"),
    (["relu1_1", "relu6_1"], "fine texture", "unknown_layer", "'relu6_1' is not a VGG-19 layer"),
    ({"relu1_1": 1.0, "relu2_1": -0.5}, "fine texture", "negative_weight", "'relu2_1' is -0.5"),
    (["relu1_1", "relu2_1", "relu3_1"], "fine texture", "too_coarse", "relu3_1 (24 px)"),
    (["relu1_1", "relu2_1", "relu3_1"], "large structures", "too_fine", "largest receptive field is 24 px"),
    (["relu1_1"], "cubism", "unknown_look", "'fine texture'"),
])
def test_style_layer_choice_mistakes(answer, look, mistake, phrase):
    result = exercises.check_style_layers(answer, look, quiet=True)
    assert result.status == "failed" and result.mistake == mistake, result.message
    assert phrase in result.message, result.message


def test_style_layer_choice_is_judged_by_receptive_fields():
    fields = {row["name"]: row["receptive_field"] for row in sl.layer_table()}
    small = [name for name, field in fields.items() if field <= 16]
    assert exercises.check_style_layers(small, "fine texture", quiet=True).passed
    assert exercises.check_style_layers(["relu4_1"], "large structures", quiet=True).passed
    # a deep layer switched off by a zero weight does not count
    assert exercises.check_style_layers({"relu1_1": 1, "relu5_1": 0}, "fine texture", quiet=True).passed
    result = exercises.check_style_layers({"relu1_1": 1, "relu5_1": 0}, "large structures", quiet=True)
    assert result.mistake == "too_fine"
    assert exercises.check_style_layers(["relu1_1"], "large structures", quiet=True).exercise == "large_structure_layers"


# --------------------------------------------------------------------------- 05 tv_loss


def _d(image):
    return image[..., :, 1:] - image[..., :, :-1], image[..., 1:, :] - image[..., :-1, :]


def tv_channels_last_indexing(image):
    dx = image[:, 1:, :] - image[:, :-1, :]      # meant width, slices channels
    dy = image[:, :, 1:] - image[:, :, :-1]      # meant height, slices height
    return (dx ** 2).mean() + (dy ** 2).mean()


def tv_in_place(image):
    image[..., :, 1:] -= image[..., :, :-1].clone()
    dy = image[..., 1:, :] - image[..., :-1, :]
    return (image[..., :, 1:] ** 2).mean() + (dy ** 2).mean()


def tv_detached(image):
    dx, dy = _d(image.detach())
    return (dx ** 2).mean() + (dy ** 2).mean()


@pytest.mark.parametrize("answer, mistake, phrase", [
    (lambda im: sum((d ** 2).sum() for d in _d(im)), "sum_instead_of_mean", "grows with the image size"),
    (lambda im: (_d(im)[0] ** 2).mean(), "one_direction", "only compared horizontal"),
    (lambda im: (_d(im)[1] ** 2).mean(), "one_direction", "only compared vertical"),
    (lambda im: sum(d.abs().mean() for d in _d(im)), "absolute_differences", "L1"),
    (lambda im: sum((d ** 2).mean() for d in _d(im)) / 2, "averaged_directions", "divided by 2"),
    (lambda im: torch.cat([(d ** 2).flatten() for d in _d(im)]).mean(), "averaged_directions", "one mean over all"),
    (tv_channels_last_indexing, "wrong_dimension", "colour channels (dimension 1)"),
    (lambda im: (_d(im)[0] ** 2).mean(dim=(2, 3)) + (_d(im)[1] ** 2).mean(dim=(2, 3)), "not_reduced", "(1, 3)"),
    (tv_in_place, "modifies_input", "in-place"),
    (tv_detached, "no_gradient", "no gradient can flow"),
])
def test_tv_loss_mistakes(answer, mistake, phrase):
    verdict(exercises.check_tv_loss, answer, mistake, phrase)


def test_tv_loss_must_be_zero_for_a_flat_image():
    def tv_loss(image):  # right value on the random case only by adding a constant that is 0 there
        dx, dy = _d(image)
        offset = 0.0 if image.std() > 0 else 1.0
        return (dx ** 2).mean() + (dy ** 2).mean() + offset

    verdict(exercises.check_tv_loss, tv_loss, "wrong_value", "constant image")


# --------------------------------------------------------------------------- 05 optimization_step


def step_no_zero_grad(image, optimizer, loss_fn):
    loss = loss_fn(image)
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        image.clamp_(0, 1)
    return loss.item()


def step_no_backward(image, optimizer, loss_fn):
    optimizer.zero_grad()
    loss = loss_fn(image)
    optimizer.step()
    return loss.item()


def step_no_step(image, optimizer, loss_fn):
    optimizer.zero_grad()
    loss = loss_fn(image)
    loss.backward()
    with torch.no_grad():
        image.clamp_(0, 1)
    return loss.item()


def step_new_tensor(image, optimizer, loss_fn):
    optimizer.zero_grad()
    loss = loss_fn(image)
    loss.backward()
    image = (image - 0.4 * image.grad).clamp(0, 1)  # a new tensor: the caller's image never moves
    return loss.item()


def step_no_clamp(image, optimizer, loss_fn):
    optimizer.zero_grad()
    loss = loss_fn(image)
    loss.backward()
    optimizer.step()
    return loss.item()


def step_clamp_with_grad(image, optimizer, loss_fn):
    optimizer.zero_grad()
    loss = loss_fn(image)
    loss.backward()
    optimizer.step()
    image.clamp_(0, 1)
    return loss.item()


def step_returns_tensor(image, optimizer, loss_fn):
    optimizer.zero_grad()
    loss = loss_fn(image)
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        image.clamp_(0, 1)
    return loss


def step_returns_nothing(image, optimizer, loss_fn):
    step_returns_tensor(image, optimizer, loss_fn)


def step_returns_loss_after(image, optimizer, loss_fn):
    step_returns_tensor(image, optimizer, loss_fn)
    return loss_fn(image).item()


@pytest.mark.parametrize("answer, mistake, phrase", [
    (step_no_zero_grad, "forgot_zero_grad", "optimizer.zero_grad()"),
    (step_no_backward, "no_backward", "loss.backward()"),
    (step_no_step, "no_step", "optimizer.step()"),
    (step_new_tensor, "no_step", "new tensor"),
    (step_no_clamp, "no_clamp", "left [0, 1]"),
    (step_clamp_with_grad, "clamp_without_no_grad", "torch.no_grad()"),
    (step_returns_tensor, "returned_tensor", "loss.item()"),
    (step_returns_nothing, "returned_nothing", "returns None"),
    (step_returns_loss_after, "wrong_loss", "before the update"),
])
def test_optimization_step_mistakes(answer, mistake, phrase):
    verdict(exercises.check_optimization_step, answer, mistake, phrase)


def test_optimization_step_works_with_adam_in_a_loop():
    namespace = load_solution("optimization_step.py")
    step = namespace["optimization_step"]
    image = torch.full((1, 3, 8, 8), 0.5, requires_grad=True)
    optimizer = torch.optim.Adam([image], lr=0.05)
    target = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    losses = [step(image, optimizer, lambda x: ((x - target) ** 2).mean()) for _ in range(30)]
    assert all(isinstance(v, float) for v in losses) and losses[-1] < 0.2 * losses[0]


# --------------------------------------------------------------------------- 06 luminance

LUMA = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)


def luminance_first_image_only(image):
    red, green, blue = image[0, 0], image[0, 1], image[0, 2]  # image[0] loses every other image of a batch
    return (0.299 * red + 0.587 * green + 0.114 * blue)[None, None]


def luminance_in_place(image):
    image *= LUMA  # changes the caller's image
    return image.sum(dim=1, keepdim=True)


@pytest.mark.parametrize("answer, mistake, phrase", [
    (lambda im: im.mean(dim=1, keepdim=True), "plain_average", "plain average of R, G and B"),
    (lambda im: (im * LUMA.flip(1)).sum(dim=1, keepdim=True), "weights_reversed", "not BGR"),
    (lambda im: (im * LUMA).sum(dim=1), "channel_dropped", "keepdim=True"),
    (lambda im: (im * LUMA).sum(dim=1)[0], "channel_dropped", "(1, 1, 5, 7)"),
    (lambda im: (im * LUMA).sum(dim=1, keepdim=True).expand(-1, 3, -1, -1), "grey_rgb", "gray_to_rgb"),
    (lambda im: im * LUMA, "three_channels", "you returned three channels"),
    (lambda im: (im * LUMA).sum(dim=(1, 2), keepdim=True), "wrong_shape", "should have shape (1, 1, 5, 7)"),
    (luminance_first_image_only, "batch_of_one_only", "batch of two"),
    (luminance_in_place, "modifies_input", "in-place"),
    (lambda im: (im * LUMA).sum(dim=1, keepdim=True).numpy(), "not_a_tensor", "not a torch tensor"),
])
def test_luminance_mistakes(answer, mistake, phrase):
    verdict(exercises.check_luminance, answer, mistake, phrase)


def test_luminance_wrong_value_names_the_formula():
    verdict(exercises.check_luminance, lambda im: 0.5 * sl.color.luminance(im), "wrong_value", "0.299 R + 0.587 G")


def test_luminance_accepts_stylelabs_own_function():
    assert exercises.check_luminance(sl.color.luminance, quiet=True).passed


# --------------------------------------------------------------------------- 06 guided_gram


def _masked(features, mask):
    b, c = features.shape[:2]
    return (features * mask).reshape(b, c, -1)


def guided_transposed(features, mask):
    flat = _masked(features, mask)
    return flat.transpose(1, 2) @ flat / (mask ** 2).sum()


def guided_in_place(features, mask):
    features *= mask  # changes the caller's features
    flat = features.flatten(2)
    return flat @ flat.transpose(1, 2) / (mask ** 2).sum()


def guided_detached(features, mask):
    flat = _masked(features.detach(), mask)
    return flat @ flat.transpose(1, 2) / (mask ** 2).sum()


@pytest.mark.parametrize("answer, mistake, phrase", [
    (lambda f, t: _masked(f, t) @ _masked(f, t).transpose(1, 2) / (f.shape[2] * f.shape[3]),
     "normalised_by_positions", "divided by h*w (here 30)"),
    (lambda f, t: _masked(f, t) @ _masked(f, t).transpose(1, 2) / t.sum(), "normalised_by_mask_sum", "squared mask"),
    (lambda f, t: _masked(f, t) @ _masked(f, t).transpose(1, 2), "not_normalised", "not normalised"),
    (lambda f, t: _masked(f, t) @ f.flatten(2).transpose(1, 2) / (t ** 2).sum(), "mask_on_one_factor", "masks both"),
    (lambda f, t: _masked(f, t) @ f.flatten(2).transpose(1, 2) / t.sum(), "mask_on_one_factor", "masks both"),
    (lambda f, t: sl.gram_matrix(f), "mask_ignored", "plain Gram matrix"),
    (lambda f, t: sl.masks.guided_gram_matrix(f, t)[0], "batch_dropped", "batch dimension was dropped"),
    (guided_transposed, "transposed_product", "(F*T)^T (F*T)"),
    (lambda f, t: _masked(f, t) / (t ** 2).sum(), "wrong_shape", "should have shape (1, 4, 4)"),
    (guided_in_place, "modifies_input", "in-place"),
    (guided_detached, "no_gradient", "no gradient can flow"),
    (lambda f, t: sl.masks.guided_gram_matrix(f, t).tolist(), "not_a_tensor", ".tolist()"),
])
def test_guided_gram_mistakes(answer, mistake, phrase):
    verdict(exercises.check_guided_gram, answer, mistake, phrase)


def test_guided_gram_wrong_value_names_the_equation():
    verdict(exercises.check_guided_gram, lambda f, t: 2 * sl.masks.guided_gram_matrix(f, t), "wrong_value",
            "(F*T)(F*T)^T / sum(T^2)")


def test_guided_gram_accepts_stylelabs_own_function():
    assert exercises.check_guided_gram(sl.masks.guided_gram_matrix, quiet=True).passed


# --------------------------------------------------------------------------- the checkers' own cases


def test_the_known_mistakes_give_distinct_answers_on_the_checkers_cases():
    # If two mistakes gave the same number, the checker could name the wrong one.
    generated, target = exercises._content_case()
    diff = generated - target
    values = [diff.pow(2).mean(), diff.pow(2).sum(), 0.5 * diff.pow(2).sum(), diff.mean(), diff.abs().mean(),
              diff.pow(2).mean().sqrt(), diff.mean().pow(2)]
    assert len({round(float(v), 6) for v in values}) == len(values)
    variants = [exercises._shape_variants(*case) for case in exercises._SHAPE_CASES]
    answers = {name: [v[name] for v in variants] for name in variants[0]}
    answers["right"] = [exercises._shape_reference(*case) for case in exercises._SHAPE_CASES]
    assert len({tuple(a) for a in answers.values()}) == len(answers)
    image = exercises._luminance_case()
    lumas = [exercises._luma(image), exercises._luma(image, exercises._LUMA[::-1]), image.mean(dim=1, keepdim=True)]
    assert all(not torch.allclose(a.double(), b.double(), rtol=1e-3) for i, a in enumerate(lumas) for b in lumas[i + 1:])
    features, mask = exercises._guided_case()
    flat, plain = (features * mask).flatten(2), features.flatten(2)
    raw, once = flat @ flat.transpose(1, 2), flat @ plain.transpose(1, 2)
    grams = [exercises._guided(features, mask), raw / 30, raw / mask.sum(), raw, once / mask.pow(2).sum(),
             once / mask.sum(), sl.gram_matrix(features)]
    assert all(not torch.allclose(a, b, rtol=1e-3) for i, a in enumerate(grams) for b in grams[i + 1:])


# --------------------------------------------------------------------------- grading a class (nbgrader now)


def test_grade_command_points_to_nbgrader(capsys):
    # Class grading is nbgrader's job (stylelab.classroom, tests/test_classroom.py); the old
    # command, with its old options, says where it went instead of grading anything.
    assert exercises.main(["grade", "alice.ipynb", "--csv", "class.csv", "--messages"]) == 2
    err = capsys.readouterr().err
    assert "python -m stylelab.classroom build-course" in err and "nbgrader" in err
    assert not hasattr(exercises, "grade_notebook")


def test_list_and_solution_commands(capsys):
    assert exercises.main(["list"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in exercises.EXERCISES)
    assert exercises.main(["solution", "tv_loss"]) == 0
    assert "def tv_loss(image):" in capsys.readouterr().out


# --------------------------------------------------------------------------- time limit (issue 12)

E = exercises


def test_an_answer_that_loops_forever_gets_a_verdict_not_a_hung_kernel(monkeypatch):
    # Before issue 12 this check never returned.
    monkeypatch.setattr(E, "TIME_LIMIT", 0.5)

    def content_loss(generated, target):
        while True:
            pass

    result = E.check_content_loss(content_loss, quiet=True)
    assert result.status == "failed" and result.mistake == "too_slow"
    assert "did not return within 0.5 s" in result.message and "loop that never ends" in result.message


def test_an_answer_that_swallows_exceptions_is_still_stopped(monkeypatch):
    monkeypatch.setattr(E, "TIME_LIMIT", 0.5)

    def tv_loss(image):
        while True:
            try:
                sum(range(1000))
            except Exception:  # noqa: BLE001 - what a learner might write
                pass

    assert E.check_tv_loss(tv_loss, quiet=True).mistake == "too_slow"


def test_the_time_limit_works_outside_the_main_thread(monkeypatch):
    import threading

    monkeypatch.setattr(E, "TIME_LIMIT", 0.5)
    results = []

    def gram_matrix(features):
        while True:
            pass

    worker = threading.Thread(target=lambda: results.append(E.check_gram_matrix(gram_matrix, quiet=True)))
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive() and results[0].mistake == "too_slow"


def test_an_endless_return_value_is_named(monkeypatch):
    import itertools

    monkeypatch.setattr(E, "TIME_LIMIT", 0.5)
    result = E.check_output_shape(lambda layer, h, w: itertools.count(), quiet=True)
    assert result.status == "failed" and result.mistake == "too_slow" and "endless generator" in result.message


def test_infinities_are_the_learners_mistake_not_a_stylelab_bug():
    # Before issue 12: "the checker itself failed (OverflowError ...); this is a bug in stylelab".
    result = E.check_output_shape(lambda layer, h, w: (float("inf"), 1, 1), quiet=True)
    assert result.status == "failed" and result.mistake == "not_finite" and "bug in stylelab" not in result.message
    assert E.check_content_loss(lambda a, b: torch.tensor(float("inf")), quiet=True).status == "failed"


def test_endless_recursion_is_named():
    def style_loss(a, b):
        return style_loss(a, b)

    result = E.check_style_loss(style_loss, quiet=True)
    assert result.mistake == "endless_recursion"


def test_an_outer_alarm_survives_a_check():
    import signal

    if not hasattr(signal, "setitimer"):
        pytest.skip("no SIGALRM here")
    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *a: fired.append(1))
    try:
        signal.setitimer(signal.ITIMER_REAL, 100)
        E.check_content_loss(lambda a, b: ((a - b) ** 2).mean(), quiet=True)
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 0 < remaining <= 100 and not fired
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
