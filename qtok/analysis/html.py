"""``qtok report --format html``: the report as one self-contained page.

The page holds everything it shows, so it opens offline and can be mailed
or attached as one file: the corpus and the tokenizers described at the
top, the exact command that made it, charts drawn by Plotly (its JavaScript
inlined once, about 5 MB), a table of every metric that sorts on a click,
and the definition of each field.  Colours follow the reader's light or
dark setting (``prefers-color-scheme``), the charts included.

Charts, each grouped by tokenizer: bytes per token per language; the
premium (tokens / English tokens) on a parallel corpus; the share of byte
fragments; the proportion of continued words; vocabulary use per script.

The page records any script error in ``<html data-qtok-errors>`` and the
number of drawn charts in ``data-qtok-charts``, which the browser test
reads from the rendered DOM.
"""
from __future__ import annotations

import datetime
import html
import json
from typing import Sequence

from ..errors import MissingDependency
from .formats import METRICS, column_formatter, column_header

__all__ = ["render_html"]

# Colour-blind-safe qualitative palette (Okabe & Ito), as the PNG charts.
_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")


def _plotly():
    try:
        import plotly.graph_objects as go
        import plotly.offline
    except ImportError:
        raise MissingDependency("--format html draws its charts with Plotly: "
                                "pip install 'qtok[html]'") from None
    return go, plotly.offline


def _by_language_chart(go, rows, tokenizers, codes, names, field, title, yaxis, *,
                       percent=False, reference=None):
    """Bars per language, one trace per tokenizer; None when no row has the field."""
    value = {(r["tokenizer"], r["code"]): r[field] for r in rows if r[field] is not None}
    if not value:
        return None
    shown = [c for c in codes if any((t, c) in value for t in tokenizers)]
    fig = go.Figure()
    for k, tok in enumerate(tokenizers):
        xs = [c for c in shown if (tok, c) in value]
        ys = [value[(tok, c)] * (100 if percent else 1) for c in xs]
        fig.add_trace(go.Bar(
            name=tok, x=[f"{names[c]} ({c})" for c in xs], y=ys,
            marker_color=_COLOURS[k % len(_COLOURS)],
            hovertemplate=f"<b>{html.escape(tok)}</b><br>%{{x}}<br>{yaxis}: %{{y:.3f}}"
                          + ("%" if percent else "") + "<extra></extra>"))
    if reference is not None:
        fig.add_hline(y=reference, line_dash="dash", line_width=1, line_color="#888888",
                      annotation_text="English = 1", annotation_position="top right",
                      annotation_font_color="#888888")
    fig.update_layout(title=title, barmode="group", yaxis_title=yaxis,
                      xaxis_categoryorder="array", xaxis_categoryarray=[f"{names[c]} ({c})" for c in shown])
    return fig


def _script_chart(go, rows, tokenizers):
    from .languages import find
    value: dict[tuple[str, str], float] = {}
    for r in rows:
        lang = find(r["code"])
        if r["script_vocab_use"] is not None:
            value[(r["tokenizer"], lang.script if lang else r["code"])] = r["script_vocab_use"]
    if not value:
        return None
    scripts = sorted({s for _, s in value}, key=lambda s: -max(v for (t, x), v in value.items()
                                                               if x == s))
    fig = go.Figure()
    for k, tok in enumerate(tokenizers):
        xs = [s for s in scripts if (tok, s) in value]
        fig.add_trace(go.Bar(name=tok, x=xs, y=[100 * value[(tok, s)] for s in xs],
                             marker_color=_COLOURS[k % len(_COLOURS)],
                             hovertemplate=f"<b>{html.escape(tok)}</b><br>%{{x}}: %{{y:.2f}}% "
                                           f"of the vocabulary<extra></extra>"))
    fig.update_layout(title="Vocabulary used by each script's text", barmode="group",
                      yaxis_title="% of |V| used", xaxis_categoryorder="array",
                      xaxis_categoryarray=scripts)
    return fig


def _charts(rows) -> list[tuple[str, object]]:
    go, _ = _plotly()
    tokenizers = list(dict.fromkeys(r["tokenizer"] for r in rows))
    names = {r["code"]: r["name"] for r in rows}
    lead = "qwen" if "qwen" in tokenizers else tokenizers[0]
    bpt = {r["code"]: r["bytes_per_token"] or 0.0 for r in rows if r["tokenizer"] == lead}
    codes = sorted(names, key=lambda c: -bpt.get(c, 0.0))
    charts = [
        ("bytes-per-token", _by_language_chart(
            go, rows, tokenizers, codes, names, "bytes_per_token",
            f"UTF-8 bytes per token (higher is better), sorted by {lead}", "bytes per token")),
        ("premium", _by_language_chart(
            go, rows, tokenizers, codes, names, "parity",
            "Premium: tokens / English tokens on the same content (lower is better)",
            "premium", reference=1.0)),
        ("fragments", _by_language_chart(
            go, rows, tokenizers, codes, names, "fragment_share",
            "Tokens that are byte fragments of a character", "% of tokens", percent=True)),
        ("continued-words", _by_language_chart(
            go, rows, tokenizers, codes, names, "continued_share",
            "Proportion of continued words (two or more tokens)", "% of words", percent=True)),
        ("script-vocabulary", _script_chart(go, rows, tokenizers)),
    ]
    return [(key, fig) for key, fig in charts if fig is not None]


def _json_for_script(value) -> str:
    # Inside <script>, "</" would end the element: escape it (still valid JSON).
    return json.dumps(value, ensure_ascii=False).replace("</", "<\\/")


def _table(rows, metrics: Sequence[str]) -> str:
    fields = ["tokenizer", "code", "name", *metrics]
    head = "".join(
        f'<th scope="col" data-field="{f}"{" class=num" if f in METRICS else ""}>'
        f'<button type="button" title="{html.escape(_definition(f))}">'
        f"{html.escape(column_header(f))}</button></th>" for f in fields)
    body = []
    for r in rows:
        cells = []
        for f in fields:
            v = r[f]
            if f in METRICS:
                raw = "" if v is None else repr(v)
                cells.append(f'<td class="num" data-value="{raw}">'
                             f"{html.escape(column_formatter(f)(v))}</td>")
            else:
                cells.append(f"<td>{html.escape(str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<table id="metrics"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def _definition(field: str) -> str:
    from .schema import DEFINITIONS
    return DEFINITIONS[field][1]


def _about(rows, corpus: str, tokenizers: Sequence[dict]) -> str:
    first = "qwen" if any(r["tokenizer"] == "qwen" for r in rows) else rows[0]["tokenizer"]
    langs = [r for r in rows if r["tokenizer"] == first]
    parallel = any(r["parity"] is not None for r in rows)
    docs = sum(r["documents"] for r in langs)
    size = sum(r["bytes"] for r in langs)
    corpus_line = (f"<b>{html.escape(corpus)}</b>: {len(langs)} languages, {docs:,} documents, "
                   f"{size:,} UTF-8 bytes after NFC; "
                   + ("parallel (every language says what the English says), so premiums are "
                      "defined." if parallel else "not parallel, so premiums are not defined."))
    tok_rows = "".join(
        f"<tr><td>{html.escape(t['label'])}</td><td>{html.escape(t['kind'])}</td>"
        f"<td class=num>{'-' if t['vocab_size'] is None else format(t['vocab_size'], ',')}</td></tr>"
        for t in tokenizers)
    return (f"<p>{corpus_line}</p>"
            f'<table id="tokenizers"><thead><tr><th>tokenizer</th><th>what it is</th>'
            f"<th class=num>|V|</th></tr></thead><tbody>{tok_rows}</tbody></table>")


def render_html(rows: Sequence[dict], *, corpus: str, command: str,
                tokenizers: Sequence[dict] | None = None,
                metrics: Sequence[str] | None = None) -> str:
    """The page of a report.  ``tokenizers``: ``{"label", "kind", "vocab_size"}``
    per tokenizer (from the rows when not given); ``metrics``: the table's
    columns (default: every metric)."""
    from .schema import DEFINITIONS
    if not rows:
        raise ValueError("the report has no rows")
    _, offline = _plotly()
    charts = _charts(rows)
    if tokenizers is None:
        seen: dict[str, dict] = {}
        for r in rows:
            seen.setdefault(r["tokenizer"], {"label": r["tokenizer"], "kind": "",
                                             "vocab_size": r["vocab_size"]})
        tokenizers = list(seen.values())
    figures = {key: json.loads(fig.to_json()) for key, fig in charts}
    chart_divs = "".join(f'<figure class="chart" id="chart-{key}" data-chart="{key}"></figure>'
                         for key, _ in charts)
    glossary = "".join(f"<dt>{html.escape(f)}</dt><dd>{html.escape(DEFINITIONS[f][1])}</dd>"
                       for f in DEFINITIONS)
    made = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    from .. import __version__
    return _PAGE.format(
        title=html.escape(f"qtok report: {corpus}"),
        corpus=html.escape(corpus),
        about=_about(rows, corpus, tokenizers),
        command=html.escape(command),
        made=made, version=html.escape(__version__),
        charts=chart_divs,
        table=_table(rows, list(metrics) if metrics is not None else list(METRICS)),
        glossary=glossary,
        plotly=offline.get_plotlyjs(),
        figures=_json_for_script(figures),
    )


_PAGE = """<!DOCTYPE html>
<html lang="en" data-qtok-errors="[]" data-qtok-charts="0">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="generator" content="qtok {version}">
<title>{title}</title>
<script>
// Every script error and console.error, recorded on <html> for tests and readers.
(function () {{
  var errors = [];
  function record(message) {{
    errors.push(String(message));
    document.documentElement.setAttribute("data-qtok-errors", JSON.stringify(errors));
  }}
  window.addEventListener("error", function (e) {{ record(e.message || e); }});
  window.addEventListener("unhandledrejection", function (e) {{ record(e.reason); }});
  var consoleError = console.error;
  console.error = function () {{
    record(Array.prototype.map.call(arguments, String).join(" "));
    return consoleError.apply(console, arguments);
  }};
}})();
</script>
<style>
:root {{ --fg: #1d1d1f; --muted: #5f6368; --bg: #ffffff; --panel: #f5f6f8; --rule: #d9dce1;
        --accent: #0072B2; --grid: #e3e5e8; }}
@media (prefers-color-scheme: dark) {{
  :root {{ --fg: #e8e8ea; --muted: #a6a9ae; --bg: #15171a; --panel: #1f2226; --rule: #3a3e44;
          --accent: #56B4E9; --grid: #33373c; }}
}}
html {{ background: var(--bg); color: var(--fg); }}
body {{ font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto;
       max-width: 1280px; padding: 1.5rem; }}
h1 {{ font-size: 1.6rem; margin: 0 0 .4rem; }}
h2 {{ font-size: 1.2rem; margin: 2rem 0 .6rem; border-bottom: 1px solid var(--rule); }}
p.meta, figcaption, .muted {{ color: var(--muted); }}
pre {{ background: var(--panel); padding: .7rem 1rem; overflow-x: auto; border-radius: 6px; }}
table {{ border-collapse: collapse; font-variant-numeric: tabular-nums; }}
th, td {{ padding: .25rem .6rem; border-bottom: 1px solid var(--rule); text-align: left;
         white-space: nowrap; }}
.num {{ text-align: right; }}
.table-wrap {{ overflow-x: auto; max-width: 100%; }}
#metrics thead th {{ position: sticky; top: 0; background: var(--panel); }}
#metrics th button {{ all: unset; cursor: pointer; font-weight: 600; }}
#metrics th[aria-sort="ascending"] button::after {{ content: " \\25B2"; color: var(--accent); }}
#metrics th[aria-sort="descending"] button::after {{ content: " \\25BC"; color: var(--accent); }}
#metrics tbody tr:hover {{ background: var(--panel); }}
.chart {{ margin: 0 0 1rem; min-height: 440px; }}
dl {{ display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; }}
dt {{ font-family: ui-monospace, monospace; }}
dd {{ margin: 0; }}
</style>
<script>{plotly}</script>
</head>
<body>
<header>
<h1>Compression report: {corpus}</h1>
<p class="meta">Made by qtok {version} on {made}.</p>
</header>
<section id="about">
<h2>Corpus and tokenizers</h2>
{about}
<p>The command that made this page:</p>
<pre><code id="command">{command}</code></pre>
</section>
<section id="charts">
<h2>Charts</h2>
{charts}
</section>
<section id="table-section">
<h2>Every metric</h2>
<p class="muted">Click a column to sort (or open the page as <code>#sort=field</code>,
<code>#sort=-field</code>); hover a heading for its definition.</p>
<div class="table-wrap">{table}</div>
</section>
<section id="definitions">
<h2>Definitions</h2>
<dl>{glossary}</dl>
</section>
<script type="application/json" id="figures">{figures}</script>
<script>
(function () {{
  var figures = JSON.parse(document.getElementById("figures").textContent);
  var dark = window.matchMedia("(prefers-color-scheme: dark)");
  var palette = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999"];

  function theme() {{
    var css = getComputedStyle(document.documentElement);
    var fg = css.getPropertyValue("--fg").trim(), grid = css.getPropertyValue("--grid").trim();
    return {{"paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
             "font.color": fg, "xaxis.gridcolor": grid, "yaxis.gridcolor": grid,
             "xaxis.linecolor": grid, "yaxis.linecolor": grid, "yaxis.zerolinecolor": grid,
             "legend.font.color": fg, "title.font.color": fg}};
  }}

  function draw() {{
    var done = [];
    document.querySelectorAll("figure.chart").forEach(function (div) {{
      var fig = figures[div.dataset.chart];
      var layout = Object.assign({{}}, fig.layout, {{
        template: null, colorway: palette, margin: {{t: 60, r: 20, b: 120, l: 70}},
        legend: {{orientation: "h", y: 1.02, yanchor: "bottom", x: 0, xanchor: "left",
                  title: {{text: "tokenizer "}}}},
        title: Object.assign({{}}, fig.layout.title, {{x: 0, xanchor: "left", y: 0.98}}),
        xaxis: Object.assign({{}}, fig.layout.xaxis, {{tickangle: -50, automargin: true}}),
        yaxis: Object.assign({{}}, fig.layout.yaxis, {{automargin: true}})
      }});
      done.push(Plotly.newPlot(div, fig.data, layout, {{responsive: true, displaylogo: false}})
        .then(function () {{ return Plotly.relayout(div, theme()); }}));
    }});
    return Promise.all(done);
  }}

  draw().then(function () {{
    var drawn = Array.prototype.filter.call(document.querySelectorAll("figure.chart"),
      function (div) {{ return div.querySelector(".main-svg") !== null; }});
    document.documentElement.setAttribute("data-qtok-charts", String(drawn.length));
  }}, function (e) {{ console.error("drawing the charts failed:", e); }});

  var onScheme = function () {{
    document.querySelectorAll("figure.chart").forEach(function (div) {{ Plotly.relayout(div, theme()); }});
  }};
  if (dark.addEventListener) dark.addEventListener("change", onScheme);

  // Sorting: numbers by their exact value (empty cells last), text alphabetically.
  var table = document.getElementById("metrics");
  function sortBy(th, column, ascending) {{
    table.querySelectorAll("thead th").forEach(function (o) {{ o.removeAttribute("aria-sort"); }});
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var numeric = th.classList.contains("num");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {{
      var x = a.cells[column], y = b.cells[column];
      if (numeric) {{
        var u = x.dataset.value, v = y.dataset.value;
        if (u === "" || v === "") return (u === "") - (v === "");
        return (ascending ? 1 : -1) * (parseFloat(u) - parseFloat(v));
      }}
      return (ascending ? 1 : -1) * x.textContent.localeCompare(y.textContent);
    }});
    rows.forEach(function (r) {{ body.appendChild(r); }});
  }}
  var headings = table.querySelectorAll("thead th");
  headings.forEach(function (th, column) {{
    th.querySelector("button").addEventListener("click", function () {{
      sortBy(th, column, th.getAttribute("aria-sort") !== "ascending");
    }});
  }});
  // A link can open the table sorted: report.html#sort=bytes_per_token (#sort=-field: descending).
  var wanted = /^#sort=(-?)([a-z_]+)$/.exec(window.location.hash);
  if (wanted) {{
    headings.forEach(function (th, column) {{
      if (th.dataset.field === wanted[2]) sortBy(th, column, wanted[1] !== "-");
    }});
  }}
}})();
</script>
</body>
</html>
"""
