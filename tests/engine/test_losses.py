"""Known answers and gradients for every loss, and the paper's identities."""

from __future__ import annotations

import pytest
import torch

import stylelab as sl


def test_gram_matrix_by_hand():
    # 2 channels on a 1 x 3 image: F = [[1, 2, 3], [0, 1, -1]]
    features = torch.tensor([[1.0, 2.0, 3.0], [0.0, 1.0, -1.0]]).reshape(1, 2, 1, 3)
    expected = torch.tensor([[14.0, -1.0], [-1.0, 2.0]]) / 3  # F F^T / (H W)
    assert torch.allclose(sl.gram_matrix(features), expected[None])


def test_gram_matrix_shape_symmetry_and_bad_shape():
    g = sl.gram_matrix(torch.randn(2, 5, 4, 3))
    assert g.shape == (2, 5, 5)
    assert torch.allclose(g, g.transpose(1, 2))
    with pytest.raises(ValueError, match="unsqueeze"):
        sl.gram_matrix(torch.randn(5, 4, 3))


def test_style_loss_is_four_times_gatys_E_l():
    torch.manual_seed(0)
    gen, sty = torch.randn(1, 8, 6, 5), torch.randn(1, 8, 7, 4)
    n, m_gen, m_sty = 8, 30, 28
    f_gen, f_sty = gen.reshape(n, m_gen), sty.reshape(n, m_sty)
    # Gatys et al. 2016, eq. 3-4, with raw Gram matrices scaled to the same M
    g_raw = f_gen @ f_gen.T
    a_raw = (f_sty @ f_sty.T) * (m_gen / m_sty)
    e_l = ((g_raw - a_raw) ** 2).sum() / (4 * n**2 * m_gen**2)
    assert torch.allclose(sl.style_loss(gen, sl.gram_matrix(sty)), 4 * e_l, rtol=1e-5)


def test_content_loss_known_values_and_paper_relation():
    a = torch.zeros(1, 2, 2, 2)
    assert sl.content_loss(a, a) == 0
    b = torch.full((1, 2, 2, 2), 3.0)
    assert sl.content_loss(b, a) == pytest.approx(9.0)
    paper = 0.5 * ((b - a) ** 2).sum()
    assert sl.content_loss(b, a) * b.numel() / 2 == pytest.approx(float(paper))
    with pytest.raises(ValueError, match="same shape"):
        sl.content_loss(torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 3, 2))


def test_tv_loss_constant_and_ramp():
    assert sl.tv_loss(torch.full((1, 3, 5, 7), 0.4)) == 0
    ramp = (torch.arange(6.0) * 0.1).expand(1, 3, 4, 6)  # rises by 0.1 per pixel
    assert sl.tv_loss(ramp) == pytest.approx(0.01)
    noisy = torch.rand(1, 3, 8, 8)
    assert sl.tv_loss(noisy) > sl.tv_loss(torch.nn.functional.avg_pool2d(noisy, 3, 1, 1))
    with pytest.raises(ValueError, match="H, W >= 2"):
        sl.tv_loss(torch.zeros(1, 3, 1, 5))


def test_tv_loss_absolute_and_summed_forms():
    ramp = (torch.arange(6.0) * 0.1).expand(1, 3, 4, 6)  # 3 * 4 * 5 horizontal steps of 0.1, no vertical ones
    assert sl.tv_loss(ramp, power=1) == pytest.approx(0.1)
    assert sl.tv_loss(ramp, reduction="sum") == pytest.approx(60 * 0.01)
    assert sl.tv_loss(ramp, power=1, reduction="sum") == pytest.approx(60 * 0.1)
    step = torch.zeros(1, 1, 2, 4)
    step[..., 2:] = 1.0  # one jump of 1 per row: squaring and absolute value agree on it
    assert sl.tv_loss(step, power=1) == sl.tv_loss(step) == pytest.approx(2 / 6)
    with pytest.raises(ValueError, match="power 2 or 1"):
        sl.tv_loss(ramp, power=3)


def test_style_loss_zero_for_same_statistics_and_shape_check():
    f = torch.randn(1, 4, 5, 5)
    shuffled = f.reshape(1, 4, 25)[:, :, torch.randperm(25)].reshape(1, 4, 5, 5)
    assert sl.style_loss(shuffled, sl.gram_matrix(f)) < 1e-10  # the Gram ignores positions
    with pytest.raises(ValueError, match="same layer"):
        sl.style_loss(f, torch.zeros(1, 3, 3))


def test_gradients_with_gradcheck():
    torch.manual_seed(1)
    x = torch.randn(1, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    target = torch.randn(1, 3, 4, 5, dtype=torch.float64)
    gram = sl.gram_matrix(torch.randn(1, 3, 6, 2, dtype=torch.float64))
    assert torch.autograd.gradcheck(sl.gram_matrix, (x,))
    assert torch.autograd.gradcheck(lambda f: sl.content_loss(f, target), (x,))
    assert torch.autograd.gradcheck(lambda f: sl.style_loss(f, gram), (x,))
    assert torch.autograd.gradcheck(sl.tv_loss, (x,))


def test_gram_matrix_is_the_same_for_channels_last_memory():
    torch.manual_seed(2)
    features = torch.randn(2, 6, 5, 7, dtype=torch.float64)
    last = features.contiguous(memory_format=torch.channels_last).requires_grad_(True)
    assert torch.allclose(sl.gram_matrix(last), sl.gram_matrix(features))
    sl.gram_matrix(last).sum().backward()
    assert last.grad.is_contiguous(memory_format=torch.channels_last)
    assert torch.autograd.gradcheck(sl.gram_matrix, (last,))
