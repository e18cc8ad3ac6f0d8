"""Paint stylelab's four procedural style images (CC0, made by this project).

Run from the repository root:  python images/make_styles.py
Needs numpy and Pillow only; the output is deterministic (fixed seeds).

Each image exaggerates one kind of "style" that the lessons talk about:

* swirls.jpg  - long curved brush strokes following a flow field (texture with a direction),
* mosaic.jpg  - flat colour cells with dark borders (colour palette and hard edges),
* waves.jpg   - layered wave bands with foam crests (repeated shapes at several scales),
* blocks.jpg  - bold geometric shapes on textured paper (large-scale layout).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZE = 512
HERE = Path(__file__).resolve().parent


def _paper(rng: np.random.Generator, base: tuple, amount: float = 10.0) -> Image.Image:
    noise = rng.normal(0.0, amount, (SIZE, SIZE, 1))
    smooth = np.asarray(Image.fromarray(np.uint8(np.clip(128 + noise[..., 0] * 3, 0, 255))).filter(ImageFilter.GaussianBlur(1.5)), float)
    pixels = np.array(base, float)[None, None, :] + (smooth[..., None] - 128) / 3 + noise
    return Image.fromarray(np.uint8(np.clip(pixels, 0, 255)))


def swirls(seed: int = 1) -> Image.Image:
    """Brush strokes that follow the sum of a few vortices, night-sky palette."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0.1, 0.9, (5, 2)) * SIZE
    spins = rng.choice([-1.0, 1.0], 5) * rng.uniform(0.6, 1.4, 5)

    def field(x: float, y: float) -> tuple:
        vx, vy = 0.35, 0.05  # a gentle wind to the right
        for (cx, cy), s in zip(centres, spins):
            dx, dy = x - cx, y - cy
            r2 = dx * dx + dy * dy + 400.0
            vx += s * -dy / r2 * 60.0
            vy += s * dx / r2 * 60.0
        norm = (vx * vx + vy * vy) ** 0.5 + 1e-9
        return vx / norm, vy / norm

    palette = np.array([(16, 30, 88), (32, 70, 150), (60, 120, 190), (120, 170, 210), (235, 210, 90), (250, 240, 190)], float)
    image = _paper(rng, (20, 35, 90), 6.0)
    draw = ImageDraw.Draw(image)
    moon = np.array([0.78, 0.22]) * SIZE
    for _ in range(5200):
        x, y = rng.uniform(0, SIZE, 2)
        near_moon = np.hypot(x - moon[0], y - moon[1]) < 70
        level = rng.normal(2.0 + 2.5 * near_moon + 1.2 * (y < SIZE * 0.5), 0.8)
        colour = palette[int(np.clip(level, 0, len(palette) - 1))] + rng.normal(0, 12, 3)
        points = [(x, y)]
        for _ in range(int(rng.integers(8, 22))):
            vx, vy = field(x, y)
            x, y = x + 3.0 * vx, y + 3.0 * vy
            points.append((x, y))
        draw.line(points, fill=tuple(int(c) for c in np.clip(colour, 0, 255)), width=int(rng.integers(2, 6)))
    return image.filter(ImageFilter.SMOOTH)


def mosaic(seed: int = 2, cells: int = 180) -> Image.Image:
    """Voronoi cells in saturated colours with dark lead lines, like stained glass."""
    rng = np.random.default_rng(seed)
    seeds = rng.uniform(0, SIZE, (cells, 2))
    palette = np.array([(200, 30, 40), (240, 170, 20), (30, 90, 180), (20, 140, 90), (120, 40, 150), (230, 230, 210)], float)
    colours = palette[rng.integers(0, len(palette), cells)] + rng.normal(0, 18, (cells, 3))
    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    best = np.full((SIZE, SIZE), np.inf, np.float32)
    second = np.full((SIZE, SIZE), np.inf, np.float32)
    owner = np.zeros((SIZE, SIZE), np.int64)
    for index, (sx, sy) in enumerate(seeds):
        distance = np.hypot(xs - sx, ys - sy)
        closer = distance < best
        second = np.where(closer, best, np.minimum(second, distance))
        owner = np.where(closer, index, owner)
        best = np.where(closer, distance, best)
    shade = 1.0 - 0.25 * (best / (best.max() + 1e-6))  # lighter in the middle of each cell
    pixels = colours[owner] * shade[..., None]
    lead = (second - best) < 3.0
    pixels[lead] = (25, 22, 20)
    pixels += rng.normal(0, 6, pixels.shape)
    return Image.fromarray(np.uint8(np.clip(pixels, 0, 255))).filter(ImageFilter.SMOOTH)


def waves(seed: int = 3) -> Image.Image:
    """Stacked wave bands in Prussian blue with white foam along the crests."""
    rng = np.random.default_rng(seed)
    image = _paper(rng, (236, 225, 196), 5.0)
    draw = ImageDraw.Draw(image)
    blues = [(18, 38, 82), (30, 66, 122), (62, 110, 160), (120, 160, 190)]
    xs = np.linspace(-10, SIZE + 10, 260)
    for band in range(14):
        base = SIZE * 0.18 + band * 30 + rng.normal(0, 4)
        amp, freq, phase = rng.uniform(10, 26), rng.uniform(0.012, 0.03), rng.uniform(0, 6.3)
        crest = base + amp * np.sin(freq * xs + phase) + 0.4 * amp * np.sin(2.7 * freq * xs + 2 * phase)
        polygon = list(zip(xs, crest)) + [(SIZE + 10, SIZE + 10), (-10, SIZE + 10)]
        draw.polygon(polygon, fill=blues[band % len(blues)])
        for x, y in zip(xs[::3], crest[::3]):  # foam: small white curls on the crest
            r = rng.uniform(2, 6)
            draw.ellipse((x - r, y - r, x + r, y + r), outline=(248, 246, 236), width=2)
        draw.line(list(zip(xs, crest)), fill=(250, 248, 240), width=3)
    return image.filter(ImageFilter.SMOOTH)


def blocks(seed: int = 4) -> Image.Image:
    """Circles, bars and triangles in primary colours on warm paper."""
    rng = np.random.default_rng(seed)
    image = _paper(rng, (238, 226, 200), 8.0)
    draw = ImageDraw.Draw(image)
    colours = [(210, 40, 35), (245, 190, 30), (30, 60, 150), (25, 25, 25), (40, 130, 90)]
    for _ in range(45):
        colour = colours[int(rng.integers(0, len(colours)))]
        kind = rng.integers(0, 3)
        cx, cy = rng.uniform(0, SIZE, 2)
        r = rng.uniform(15, 80)
        if kind == 0:
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour, outline=(20, 20, 20), width=3)
        elif kind == 1:
            angle = rng.uniform(0, np.pi)
            dx, dy = np.cos(angle) * r * 2.5, np.sin(angle) * r * 2.5
            draw.line((cx - dx, cy - dy, cx + dx, cy + dy), fill=colour, width=int(rng.integers(4, 16)))
        else:
            pts = [(cx + r * np.cos(a), cy + r * np.sin(a)) for a in rng.uniform(0, 2 * np.pi, 3)]
            draw.polygon(pts, fill=colour, outline=(20, 20, 20))
    return image.filter(ImageFilter.SMOOTH)


def main() -> None:
    for name, painter in (("swirls", swirls), ("mosaic", mosaic), ("waves", waves), ("blocks", blocks)):
        path = HERE / f"{name}.jpg"
        painter().save(path, quality=90)
        print("wrote", path)


if __name__ == "__main__":
    main()
