"""The page of `rnnkit inspect`: one self-contained HTML file from a `rnnkit.lm.inspect.Trace`.

The page holds, with inline CSS and no script, nothing fetched from anywhere:

- the readable cells: per text property, the best cell and its correlation, and runners-up;
- the text coloured by chosen cells' activations (red positive, blue negative, each cell
  scaled by its largest |value| over the text shown);
- per layer, the paper's scatter plot of the sigmoid gates' saturation (each unit: the
  fraction of tokens it is left-saturated, < 0.1, against right-saturated, > 0.9), drawn
  with matplotlib's Agg canvas into an inline base64 PNG.

So that no "http" appears anywhere in the page, the text's own URLs are written with an
character reference (`&#104;ttp`) and the PNG is drawn again, a dot per inch larger, in the unlikely
case its base64 spells the word.
"""

from __future__ import annotations

import base64
import html
import io
import re
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from rnnkit.errors import ConfigError
from rnnkit.lm.inspect import (
    GATE_TITLES,
    HIGH,
    LOW,
    PROPERTIES,
    READABLE_R,
    GateSaturation,
    PropertyMatch,
    Trace,
    correlations,
    gate_saturation,
    readable_cells,
    token_properties,
)

DISPLAY_TOKENS = 2000
"""Tokens of the text shown per coloured cell (the correlations use all that were read)."""
LEVELS = 10
"""Colour steps each side of zero."""
_HTTP = re.compile(r"(?i)h(?=ttp)")
GATE_COLORS = {
    "i": "tab:green",
    "f": "tab:red",
    "o": "tab:blue",
    "r": "tab:purple",
    "z": "tab:orange",
}

CSS = """
body { font-family: sans-serif; margin: 1.5em; color: #222; max-width: 70em; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; }
tr.weak td { color: #888; }
pre.text { font-family: monospace; font-size: 13px; line-height: 1.35; white-space: pre-wrap;
  border: 1px solid #ddd; padding: 0.5em; max-height: 26em; overflow-y: auto; }
p.note { color: #666; font-size: 90%; }
img { max-width: 100%; }
"""


@dataclass
class ShownCell:
    """A cell to colour the text by, with the heading that says why it is shown."""

    layer: int
    cell: int
    heading: str


def no_http(markup: str) -> str:
    """`markup` with the h of every "http" (any case) as a character reference: the text
    reads the same and the page never spells the word."""
    return _HTTP.sub(lambda m: f"&#{ord(m.group())};", markup)


def escaped(text: str) -> str:
    """`text` escaped for HTML, never spelling "http" (`no_http`)."""
    return no_http(html.escape(text, quote=True))


def _colour_classes() -> str:
    """CSS classes p1..p10 (red) and n1..n10 (blue), lighter to stronger."""
    rules = []
    for k in range(1, LEVELS + 1):
        a = 0.85 * k / LEVELS
        rules.append(f".p{k} {{ background: rgba(220, 50, 40, {a:.3f}); }}")
        rules.append(f".n{k} {{ background: rgba(40, 100, 220, {a:.3f}); }}")
    return "\n".join(rules)


def _level_classes(values: np.ndarray) -> list[str]:
    """Each value's colour class ("" for ~0), scaled by the largest |value|.

    Shape:
        values: (T,). Returns T class names.
    """
    top = float(np.abs(values).max()) or 1.0
    steps = np.rint(values / top * LEVELS).astype(int)  # (T,) in [-LEVELS, LEVELS]
    return [f"p{s}" if s > 0 else f"n{-s}" if s < 0 else "" for s in steps.tolist()]


def coloured_text(t: Trace, values: np.ndarray, limit: int = DISPLAY_TOKENS) -> str:
    """The text of the first `limit` tokens, each token a span coloured by its value; text
    between tokens (spaces the word pattern drops) plain.

    Shape:
        values: (T,) one per token.
    """
    n = min(limit, len(t.tokens))
    classes = _level_classes(values[:n])
    pieces: list[str] = []
    at = 0
    for (start, end), cls in zip(t.spans[:n], classes, strict=True):
        if start > at:
            pieces.append(escaped(t.text[at:start]))
        token = escaped(t.text[start:end])
        pieces.append(f"<span class={cls}>{token}</span>" if cls else token)
        at = end
    return no_http("".join(pieces))  # plain characters in a row may spell it


def readable_table(matches: list[PropertyMatch]) -> str:
    """The readable cells as an HTML table: one row per property."""
    rows = ["<tr><th>property</th><th>best cell</th><th>r</th><th>runners-up</th></tr>"]
    for m in matches:
        if not m.cells:
            best, r, rest = "not in the text", "", ""
        else:
            top = m.cells[0]
            best, r = f"layer {top.layer}, cell {top.cell}", f"{top.r:+.2f}"
            rest = ", ".join(f"L{c.layer} #{c.cell} ({c.r:+.2f})" for c in m.cells[1:])
            if not m.tracked:
                best += f" (no cell tracks it: |r| &lt; {READABLE_R})"
        weak = "" if m.tracked else " class=weak"
        rows.append(
            f"<tr{weak}><td>{escaped(m.description)}</td><td>{best}</td><td>{r}</td>"
            f"<td>{rest}</td></tr>"
        )
    return "<table>\n" + "\n".join(rows) + "\n</table>"


def saturation_figure(t: Trace, sats: list[GateSaturation]) -> Figure:
    """Per layer, a scatter of each gate unit's left- against right-saturated fraction."""
    layers = len(t.layers)
    fig = Figure(figsize=(3.6 * layers + 0.4, 3.8))
    axes = fig.subplots(1, layers, squeeze=False)[0]
    for k, ax in enumerate(axes):
        for sat in (s for s in sats if s.layer == k):
            ax.scatter(
                sat.left,
                sat.right,
                s=9,
                alpha=0.6,
                color=GATE_COLORS.get(sat.gate),
                label=f"{sat.gate}: {GATE_TITLES[sat.gate]}",
            )
        ax.plot([0, 1], [1, 0], color="0.7", linestyle="--", linewidth=0.8)
        ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), title=f"layer {k}")
        ax.set_xlabel(f"fraction left-saturated (< {LOW})")
        ax.set_ylabel(f"fraction right-saturated (> {HIGH})")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig


def png_data(fig: Figure, dpi: int = 90) -> str:
    """The figure as base64 PNG text, without the PNG's software tag; drawn again a dot
    per inch larger while the text happens to hold "http" (see the module's note)."""
    for extra in range(20):
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi + extra, metadata={"Software": None})
        data = base64.b64encode(buffer.getvalue()).decode("ascii")
        if "http" not in data.lower():
            return data
    raise RuntimeError("every PNG drawn spelled http")  # 20 unlucky draws: never seen


def saturation_section(t: Trace, sats: list[GateSaturation]) -> str:
    """The gate-saturation section: the inline plot, or why there is none."""
    if not sats:
        return "<p>A plain RNN has no gates: this model has states only.</p>"
    image = png_data(saturation_figure(t, sats))
    return (
        f'<img alt="gate saturation per layer" src="data:image/png;base64,{image}">'
        "<p class=note>Each dot is one unit of a gate; a unit near the right-hand end is "
        "mostly closed, one near the top mostly open, one near the origin rarely saturated "
        "(a gate that varies with the input).</p>"
    )


def cell_sections(t: Trace, shown: list[ShownCell]) -> str:
    """One coloured copy of the text per shown cell."""
    sections = []
    what = "the cell state c" if t.signal == "c" else "the hidden state h"
    for s in shown:
        values = t.layers[s.layer].cells[:, s.cell]  # (T,)
        sections.append(
            f"<h3>{escaped(s.heading)}</h3>\n<pre class=text>{coloured_text(t, values)}</pre>"
        )
    more = len(t.tokens) > DISPLAY_TOKENS
    note = f" The first {DISPLAY_TOKENS:,} of {len(t.tokens):,} tokens are shown." if more else ""
    return (
        f"<p class=note>Coloured by {what} of each cell shown: red positive, blue negative, "
        f"each cell scaled by its largest |value|.{note}</p>\n" + "\n".join(sections)
    )


def render_page(
    t: Trace,
    matches: list[PropertyMatch],
    sats: list[GateSaturation],
    shown: list[ShownCell],
    title: str,
) -> str:
    """The whole page as one HTML string (inline CSS and image, no script, no link)."""
    unknown = f", {t.unknown:,} read as &lt;unk&gt;" if t.unknown else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>rnnkit inspect: {escaped(title)}</title>
<style>{CSS}
{_colour_classes()}
</style>
</head>
<body>
<h1>Inside {escaped(title)}</h1>
<p>{t.kind.upper()}, {len(t.layers)} layer(s) of {t.layers[0].h.shape[1]} units, {t.level}
level; {len(t.tokens):,} tokens read from the zero state{unknown}.</p>
<h2>Readable cells</h2>
<p class=note>Pearson correlation of each cell's activation with a property of the text,
computed from the characters alone; the best cell by |r| over all layers.</p>
{readable_table(matches)}
<h2>The text, coloured by cells</h2>
{cell_sections(t, shown)}
<h2>Gate saturation</h2>
{saturation_section(t, sats)}
</body>
</html>
"""


def _closest(t: Trace, layer: int, cell: int) -> str:
    """`: PROPERTY (r = ...)` for the property the cell follows best, "" if none varies."""
    values = t.layers[layer].cells[:, cell : cell + 1]  # (T, 1)
    rs = {name: float(correlations(values, p)[0]) for name, p in token_properties(t).items()}
    if not rs or all(r == 0.0 for r in rs.values()):
        return ""
    name = max(rs, key=lambda n: abs(rs[n]))
    return f": closest to {PROPERTIES[name]} (r = {rs[name]:+.2f})"


def cells_to_show(
    t: Trace, matches: list[PropertyMatch], layer: int | None = None, cell: int | None = None
) -> list[ShownCell]:
    """The cell `layer`, `cell` when given (both or neither), else each property's best
    cell (a cell best for several properties once)."""
    if (layer is None) != (cell is None):
        raise ConfigError("give both layer and cell, or neither (the best cell per property)")
    if layer is not None and cell is not None:
        layers, units = len(t.layers), t.layers[0].h.shape[1]
        if not 0 <= layer < layers:
            raise ConfigError(f"layer must be in [0, {layers - 1}] for this model, got {layer}")
        if not 0 <= cell < units:
            raise ConfigError(f"cell must be in [0, {units - 1}] for this model, got {cell}")
        return [ShownCell(layer, cell, f"layer {layer}, cell {cell}{_closest(t, layer, cell)}")]
    shown: dict[tuple[int, int], ShownCell] = {}
    for m in matches:
        if not m.cells:
            continue
        best = m.cells[0]
        key = (best.layer, best.cell)
        why = f"{m.description} (r = {best.r:+.2f})"
        if key in shown:
            shown[key].heading += f"; {why}"
        else:
            shown[key] = ShownCell(*key, f"layer {best.layer}, cell {best.cell}: {why}")
    return list(shown.values())


def build_page(
    t: Trace,
    title: str,
    layer: int | None = None,
    cell: int | None = None,
    top: int = 4,
) -> tuple[str, list[PropertyMatch]]:
    """The page of a trace (see the module's docstring) and the readable cells on it.

    Args:
        t: the model's trace over a text (`rnnkit.lm.inspect.trace`).
        title: what the page is about (the checkpoint's name).
        layer, cell: colour the text by this cell (0-based), else by each property's best.
        top: cells listed per property.
    """
    matches = readable_cells(t, top)
    shown = cells_to_show(t, matches, layer, cell)
    return render_page(t, matches, gate_saturation(t), shown, title), matches
