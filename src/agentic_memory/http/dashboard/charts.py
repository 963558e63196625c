"""Charts drawn on the server as inline SVG: no chart library, no script, works offline and under a
strict Content-Security-Policy. Every bar and point carries a <title> (the browser shows it on hover and
screen readers read it); the pages also show the same numbers in a table."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD = 640, 200, 28
COLOURS = ("#1f5f99", "#c2571a")  # blue and orange: distinguishable with the common colour blindnesses


def _fmt(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else str(int(value))


def _short(label: str) -> str:
    """An ISO day loses its year on the axis (the table and the hover text keep it)."""
    return label[5:] if len(label) == 10 and label[4] == "-" else label


def _frame(title: str, top: float, inner: str, labels: Sequence[str], legend: Sequence[str]) -> Markup:
    step = (WIDTH - 2 * PAD) / max(len(labels), 1)
    ticks = "".join(
        f'<text x="{PAD + i * step + step / 2:.1f}" y="{HEIGHT - 6}" font-size="10" text-anchor="middle" '
        f'fill="#333">{escape(_short(label))}</text>'
        for i, label in enumerate(labels) if i % max(1, len(labels) // 6) == 0)
    keys = "".join(f'<rect x="{PAD + i * 150}" y="4" width="10" height="10" fill="{COLOURS[i]}"/>'
                   f'<text x="{PAD + i * 150 + 14}" y="13" font-size="11" fill="#222">{escape(name)}</text>'
                   for i, name in enumerate(legend))
    axis = (f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#555"/>'
            f'<text x="2" y="{PAD + 4}" font-size="10" fill="#333">{escape(_fmt(top))}</text>'
            f'<text x="2" y="{HEIGHT - PAD}" font-size="10" fill="#333">0</text>')
    # S704: every text that goes into the SVG above went through escape(); the rest are numbers.
    return Markup(f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '  # noqa: S704 - parts escaped above
                  f'class="chart"><title>{escape(title)}</title>{keys}{axis}{inner}{ticks}</svg>')


def stacked_bars(title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]],
                 unit: str = "") -> Markup:
    """One bar per label, the series stacked (e.g. new and returning callers per day)."""
    totals = [sum(values[i] for _, values in series) for i in range(len(labels))]
    top = max(max(totals, default=0), 1)
    step = (WIDTH - 2 * PAD) / max(len(labels), 1)
    scale = (HEIGHT - 2 * PAD - 10) / top
    bars = []
    for i, label in enumerate(labels):
        base: float = HEIGHT - PAD
        for k, (name, values) in enumerate(series):
            height = values[i] * scale
            base -= height
            if values[i]:
                bars.append(f'<rect x="{PAD + i * step + 1:.1f}" y="{base:.1f}" width="{max(step - 2, 1):.1f}" '
                            f'height="{height:.1f}" fill="{COLOURS[k % 2]}"><title>{escape(label)}: '
                            f'{escape(_fmt(values[i]))}{escape(unit)} {escape(name)}</title></rect>')
    return _frame(title, top, "".join(bars), labels, [name for name, _ in series])


def lines(title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]],
          unit: str = "") -> Markup:
    """One polyline per series; gaps (None: no data that day) break the line."""
    top = max((v for _, values in series for v in values if v is not None), default=0.0) or 1.0
    step = (WIDTH - 2 * PAD) / max(len(labels), 1)
    scale = (HEIGHT - 2 * PAD - 10) / top
    parts = []
    for k, (name, values) in enumerate(series):
        run: list[str] = []
        for i, value in enumerate([*values, None]):
            if value is None:
                if len(run) > 1:
                    parts.append(f'<polyline fill="none" stroke="{COLOURS[k % 2]}" stroke-width="2" '
                                 f'points="{" ".join(run)}"/>')
                run = []
                continue
            x, y = PAD + i * step + step / 2, HEIGHT - PAD - value * scale
            run.append(f"{x:.1f},{y:.1f}")
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{COLOURS[k % 2]}"><title>'
                         f'{escape(labels[i])}: {escape(name)} {escape(_fmt(value))}{escape(unit)}</title></circle>')
    return _frame(title, top, "".join(parts), labels, [name for name, _ in series])
