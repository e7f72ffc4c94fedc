"""MusicXML -> engraved sheet music as one SVG file, with verovio (the engraving library behind
the Music Encoding Initiative's viewers), so a score opens in any browser."""

from __future__ import annotations

import re
from pathlib import Path

SVG_OPTIONS = {
    "pageWidth": 2100,
    "pageHeight": 60000,
    "adjustPageHeight": True,
    "scale": 40,
    "breaks": "auto",
    "footer": "none",
    "header": "auto",
    "svgViewBox": True,
}
"""A wide page that grows to fit, so most pieces engrave on one page."""

_VIEWBOX_RE = re.compile(r'<svg[^>]*?\sviewBox="0 0 (\d+(?:\.\d+)?) (\d+(?:\.\d+)?)"')


def _stack_pages(pages: list[str]) -> str:
    """Several verovio pages as one SVG: each page placed below the previous one."""
    sizes = []
    for page in pages:
        match = _VIEWBOX_RE.search(page)
        if match is None:
            raise RuntimeError("verovio wrote an SVG page without a viewBox")
        sizes.append((float(match.group(1)), float(match.group(2))))
    width, top, body = max(w for w, _ in sizes), 0.0, []
    for page, (w, h) in zip(pages, sizes, strict=True):
        inner = page[page.index("<svg") + len("<svg") :]
        body.append(f'<svg x="0" y="{top:g}" width="{w:g}" height="{h:g}"{inner}')
        top += h
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'viewBox="0 0 {width:g} {top:g}">{"".join(body)}</svg>\n'
    )


def musicxml_to_svg(musicxml: str | Path, path: str | Path) -> Path:
    """Engrave a MusicXML file (chord symbols, grand staves and all) into ``path``."""
    import verovio

    verovio.enableLog(False)  # layout notes ("insufficient space to draw mixed beam") are not errors
    toolkit = verovio.toolkit()
    # a toolkit made outside the main thread looks for its fonts in the wheel's build folder
    toolkit.setResourcePath(str(Path(verovio.__file__).parent / "data"))
    toolkit.setOptions(SVG_OPTIONS)
    if not toolkit.loadFile(str(musicxml)):
        raise ValueError(f"{musicxml}: verovio cannot read this MusicXML")
    pages = [toolkit.renderToSVG(n) for n in range(1, toolkit.getPageCount() + 1)]
    svg = pages[0] if len(pages) == 1 else _stack_pages(pages)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(svg, encoding="utf-8")
    return path
