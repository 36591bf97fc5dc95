"""Screenshots for reviewers: `shot(page, name)` writes `NAME.png` into the folder named by SUBSIDY_SCREENSHOTS (for
example `SUBSIDY_SCREENSHOTS=docs/screenshots`, the folder the README names); without it, nothing is written."""

from __future__ import annotations

import os
from pathlib import Path


def shot(page, name: str, *, full_page: bool = False) -> Path | None:
    folder = os.environ.get("SUBSIDY_SCREENSHOTS")
    if not folder:
        return None
    path = Path(folder) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=full_page)
    return path
