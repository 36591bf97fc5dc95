"""Barcodes decode back to exactly the copy code they were made from."""

import io
import re
import xml.etree.ElementTree as ET

import pytest
from PIL import Image, ImageDraw

from subsidy.rules.barcodes import QUIET_ZONE_MODULES, barcode_modules, barcode_png, barcode_svg
from subsidy.rules.numbers import copy_code, slip_number

SVG = "{http://www.w3.org/2000/svg}"
CODES = [
    copy_code(slip_number("TS21A", 123), 1),
    copy_code(slip_number("TS21A", 999_999), 3),
    copy_code(slip_number("DY24Z", 7), 5),
    copy_code(slip_number("A", 0), 2),
]


@pytest.fixture
def decode():
    """pyzbar's decode, or a skip when the zbar shared library is missing."""
    try:
        from pyzbar import pyzbar
    except ImportError:  # pyzbar raises ImportError when it cannot load libzbar
        pytest.skip("zbar is not installed: apt-get install libzbar0")
    return lambda image: [(s.type, s.data.decode("ascii")) for s in pyzbar.decode(image)]


def rasterise(svg: str, scale: int) -> Image.Image:
    """Draw the SVG's rects (not its text) with pillow at ``scale`` pixels per SVG unit."""
    root = ET.fromstring(svg)
    image = Image.new("L", (int(root.get("width")) * scale, int(root.get("height")) * scale), 255)
    draw = ImageDraw.Draw(image)
    for group in root.iter(f"{SVG}g"):
        for rect in group.iter(f"{SVG}rect"):
            x, y, w, h = (int(rect.get(k)) * scale for k in ("x", "y", "width", "height"))
            draw.rectangle([x, y, x + w - 1, y + h - 1], fill=0)
    return image


@pytest.mark.parametrize("text", CODES)
def test_the_png_decodes_back_to_exactly_the_copy_code(text, decode):
    image = Image.open(io.BytesIO(barcode_png(text)))
    assert decode(image) == [("CODE128", text)]


@pytest.mark.parametrize("text", CODES)
def test_the_svg_rasterised_at_scale_2_decodes_back_to_exactly_the_copy_code(text, decode):
    assert decode(rasterise(barcode_svg(text), scale=2)) == [("CODE128", text)]


def test_the_png_says_it_is_300_dpi():
    image = Image.open(io.BytesIO(barcode_png(CODES[0])))
    assert image.format == "PNG"
    assert [round(v) for v in image.info["dpi"]] == [300, 300]


def test_the_png_bars_are_the_modules_at_a_whole_number_of_pixels_with_a_quiet_zone():
    modules = barcode_modules(CODES[0])
    image = Image.open(io.BytesIO(barcode_png(CODES[0], dpi=300))).convert("L")
    middle_of_bars = round(7 * 300 / 25.4)  # 1 mm top margin + half of the 12 mm bars
    row = "".join("1" if image.getpixel((x, middle_of_bars)) < 128 else "0" for x in range(image.width))
    module_px = 4  # 0.3 mm at 300 dpi rounded to whole pixels
    assert row.strip("0") == "".join(bit * module_px for bit in modules).strip("0")
    assert row.index("1") >= QUIET_ZONE_MODULES * module_px
    assert image.width - 1 - row.rindex("1") >= QUIET_ZONE_MODULES * module_px


@pytest.mark.parametrize("text", CODES)
def test_the_svg_bars_are_exactly_the_module_string_of_build(text):
    svg = barcode_svg(text, module_width_px=3, height_px=50)
    root = ET.fromstring(svg)
    modules = barcode_modules(text)
    total = len(modules) + 2 * QUIET_ZONE_MODULES
    drawn = ["0"] * total
    for group in root.iter(f"{SVG}g"):
        for rect in group.iter(f"{SVG}rect"):
            assert int(rect.get("y")) == 0 and int(rect.get("height")) == 50
            x, w = int(rect.get("x")), int(rect.get("width"))
            assert x % 3 == 0 and w % 3 == 0
            for m in range(x // 3, (x + w) // 3):
                assert drawn[m] == "0", "rects overlap"
                drawn[m] = "1"
    assert "".join(drawn) == "0" * QUIET_ZONE_MODULES + modules + "0" * QUIET_ZONE_MODULES


def test_the_svg_merges_adjacent_bar_modules_into_one_rect():
    text = CODES[0]
    bars = len(re.findall(r"1+", barcode_modules(text)))
    root = ET.fromstring(barcode_svg(text))
    assert sum(1 for g in root.iter(f"{SVG}g") for _ in g.iter(f"{SVG}rect")) == bars


def test_the_svg_size_matches_its_viewbox_and_shows_the_text():
    text = CODES[1]
    root = ET.fromstring(barcode_svg(text, module_width_px=2, height_px=60))
    width, height = int(root.get("width")), int(root.get("height"))
    assert width == (len(barcode_modules(text)) + 2 * QUIET_ZONE_MODULES) * 2
    assert height > 60
    assert root.get("viewBox") == f"0 0 {width} {height}"
    assert root.find(f"{SVG}text").text == text


def test_svg_text_is_escaped():
    svg = barcode_svg("A<&>B")
    assert "A&lt;&amp;&gt;B" in svg
    ET.fromstring(svg)  # still well-formed


@pytest.mark.parametrize("text", ["", "销售单", "TAB\there"])
def test_text_that_code_128_cannot_carry_is_refused(text):
    with pytest.raises(ValueError):
        barcode_svg(text)
    with pytest.raises(ValueError):
        barcode_png(text)
