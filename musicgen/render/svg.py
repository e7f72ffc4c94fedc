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

_SIZE_RE = re.compile(r'<svg[^>]*?\swidth="(\d+(?:\.\d+)?)px"\s+height="(\d+(?:\.\d+)?)px"')


def _stack_pages(pages: list[str]) -> str:
    """Several verovio pages as one SVG: each page nested below the previous one."""
    sizes = []
    for page in pages:
        match = _SIZE_RE.search(page)
        if match is None:
            raise RuntimeError("verovio wrote an SVG page without a width and height")
        sizes.append((float(match.group(1)), float(match.group(2))))
    width, top, body = max(w for w, _ in sizes), 0.0, []
    for page, (_, height) in zip(pages, sizes, strict=True):
        inner = page[page.index("<svg") :]
        body.append(f'<g transform="translate(0,{top:g})">{inner}</g>')
        top += height
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:g}px" height="{top:g}px" '
        f'viewBox="0 0 {width:g} {top:g}">{"".join(body)}</svg>\n'
    )


def musicxml_to_svg(musicxml: str | Path, path: str | Path) -> Path:
    """Engrave a MusicXML file (chord symbols, grand staves and all) into ``path``."""
    import verovio

    toolkit = verovio.toolkit()
    toolkit.setOptions(SVG_OPTIONS)
    if not toolkit.loadFile(str(musicxml)):
        raise ValueError(f"{musicxml}: verovio cannot read this MusicXML")
    pages = [toolkit.renderToSVG(n) for n in range(1, toolkit.getPageCount() + 1)]
    svg = pages[0] if len(pages) == 1 else _stack_pages(pages)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(svg, encoding="utf-8")
    return path
