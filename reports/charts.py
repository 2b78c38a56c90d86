"""Charts as inline SVG, drawn here on the server: a report opens in any browser with no
network, no JavaScript and no build step."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["Series", "bar_chart"]

_W, _H = 640, 240          # viewBox; the page scales it to its width
_LEFT, _BOTTOM, _TOP = 40, 36, 24


@dataclass(frozen=True, slots=True, kw_only=True)
class Series:
    name: str
    color: str
    values: Sequence[float | None]      # None: no bar (nothing to count)


def _nice_max(peak: float) -> float:
    """A round axis top at or above ``peak`` (1, 2 or 5 times a power of ten)."""
    if peak <= 0:
        return 1.0
    step = 1.0
    while step * 10 <= peak:
        step *= 10
    while step > peak * 10:
        step /= 10
    for m in (1, 2, 5, 10):
        if m * step >= peak:
            return m * step
    return 10 * step


def bar_chart(*, title: str, labels: Sequence[str], series: Sequence[Series],
              y_max: float | None = None, percent: bool = False) -> str:
    """Grouped bars, one group per label and one bar per series, with a legend."""
    peak = max((v for s in series for v in s.values if v is not None), default=0.0)
    # Four grid steps, each a round number (counts get 1, 2, 5, ... per step).
    top = y_max if y_max is not None else 4 * _nice_max(peak / 4)
    plot_w, plot_h = _W - _LEFT - 8, _H - _TOP - _BOTTOM
    group = plot_w / max(len(labels), 1)
    bar = group * 0.8 / max(len(series), 1)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" role="img" '
           f'aria-label="{escape(title)}" class="chart">',
           f'<title>{escape(title)}</title>',
           f'<text x="{_LEFT}" y="14" class="t">{escape(title)}</text>']
    for i in range(5):
        tick = top * i / 4
        y = _TOP + plot_h - plot_h * i / 4
        text = f"{100 * tick:.0f}%" if percent else f"{tick:g}"
        out.append(f'<line x1="{_LEFT}" x2="{_W - 8}" y1="{y:.1f}" y2="{y:.1f}" class="g"/>'
                   f'<text x="{_LEFT - 4}" y="{y + 4:.1f}" class="a" text-anchor="end">'
                   f'{text}</text>')
    every = max(1, len(labels) // 16)        # at most ~16 axis labels (a quarter has 92 days)
    for i, label in enumerate(labels):
        x0 = _LEFT + i * group + group * 0.1
        for j, s in enumerate(series):
            got = s.values[i] if i < len(s.values) else None
            if got is None:
                continue
            v = got
            h = plot_h * min(v, top) / top
            out.append(f'<rect x="{x0 + j * bar:.1f}" y="{_TOP + plot_h - h:.1f}" '
                       f'width="{max(bar - 1, 1):.1f}" height="{h:.1f}" fill="{s.color}">'
                       f'<title>{escape(label)} {escape(s.name)}: '
                       f'{f"{100 * v:.1f} %" if percent else f"{v:g}"}</title></rect>')
        if i % every == 0:
            out.append(f'<text x="{_LEFT + (i + 0.5) * group:.1f}" y="{_H - _BOTTOM + 14}" '
                       f'class="a" text-anchor="middle">{escape(label)}</text>')
    x = _LEFT
    for s in series:
        out.append(f'<rect x="{x}" y="{_H - 12}" width="10" height="10" fill="{s.color}"/>'
                   f'<text x="{x + 14}" y="{_H - 3}" class="a">{escape(s.name)}</text>')
        x += 24 + 7 * len(s.name)
    out.append("</svg>")
    return "".join(out)
