"""Draw Assist's icon (a speech bubble with a pulse line) as a PNG: ``python packaging/make_icon.py OUT.png [SIZE]``.
Drawn with Pillow so no binary icon file lives in the repository."""

import sys

from PIL import Image, ImageDraw


def draw(size: int = 256) -> Image.Image:
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(image)
    s = size / 256
    d.rounded_rectangle([16 * s, 28 * s, 240 * s, 196 * s], radius=36 * s, fill=(33, 103, 178, 255))
    d.polygon([(64 * s, 190 * s), (64 * s, 240 * s), (118 * s, 192 * s)], fill=(33, 103, 178, 255))
    pulse = [(40, 112), (88, 112), (108, 70), (132, 156), (152, 96), (168, 112), (216, 112)]
    d.line([(x * s, y * s) for x, y in pulse], fill=(255, 255, 255, 255), width=max(2, int(14 * s)), joint="curve")
    return image


if __name__ == "__main__":
    draw(int(sys.argv[2]) if len(sys.argv) > 2 else 256).save(sys.argv[1])
