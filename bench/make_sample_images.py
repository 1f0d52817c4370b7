"""Draw the sample corpus's images (`src/sie/samples/images/`): printed text the demo reads with OCR.

Run once from the repository root and commit the files: `python bench/make_sample_images.py`.
`bench/ocr.py` times OCR on the receipt drawn here.
"""

from __future__ import annotations

from pathlib import Path

from printed_text import render_text_image

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLES_DIR = REPO_ROOT / "src" / "sie" / "samples" / "images"

# Receipt-sized: 600 x 800 pixels, eleven lines.
RECEIPT_SIZE = (600, 800)
RECEIPT_LINES = [
    "HARBOUR BAKERY ROTTERDAM",
    "Wilhelminakade 12",
    "Sourdough loaf 4.75",
    "Cinnamon buns 6.20",
    "Rye bread 3.90",
    "Almond croissant 2.85",
    "Coffee beans 11.99",
    "Subtotal 29.69",
    "VAT 2.67",
    "Total 32.36",
    "Thank you, see you soon",
]
SAMPLES: dict[str, tuple[list[str], int, tuple[int, int] | None]] = {
    "harbour-bakery-receipt.png": (RECEIPT_LINES, 26, RECEIPT_SIZE),
    "tallinn-ferry-notice.png": (
        [
            "NOTICE TO PASSENGERS",
            "The morning ferry from Tallinn to Helsinki",
            "is cancelled on Friday because of the storm.",
            "Tickets are refunded at the harbour office.",
            "Captain Maria Lind thanks you for your patience.",
        ],
        30,
        None,
    ),
    "montreal-library-poster.png": (
        [
            "Montreal Public Library",
            "Summer reading club for children",
            "Every Saturday in July at ten o'clock",
            "Free books and a wonderful story hour",
        ],
        34,
        None,
    ),
}


def main() -> None:
    SAMPLES_DIR.mkdir(parents=True, exist_ok=True)
    for name, (lines, font_size, size) in SAMPLES.items():
        width, height = size or (None, None)
        image = render_text_image(lines, font_size=font_size, width=width, height=height)
        path = SAMPLES_DIR / name
        image.save(path, "PNG", optimize=True)
        print(f"{path.relative_to(REPO_ROOT)}  {image.width}x{image.height}  {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
