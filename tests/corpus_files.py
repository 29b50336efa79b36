"""Where the tests find real text, and how they read it.

Two sources, both optional:

* the test corpora (Leipzig sentences in ``leipzig/``, UDHR XML in ``udhr/``)
  in the folder ``$QTOK_TEST_CORPORA`` names, by default ``../shared/corpora``
  next to the project; never copied into the project, and the tests skip
  cleanly without it.
* the bundled sample corpus ``corpora/*.txt`` shipped with the package.

Files are listed at import time so tests can be parametrized per file; when
a source is missing, the parameter list is a single skipped entry that says
why, so the skip shows up in the pytest summary instead of silently vanishing.
"""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: The test corpora: $QTOK_TEST_CORPORA, else ../shared/corpora.
SHARED_CORPORA = Path(os.environ.get("QTOK_TEST_CORPORA")
                      or PROJECT_ROOT.parent / "shared" / "corpora")
BUNDLED_CORPORA = PROJECT_ROOT / "corpora"

LEIPZIG_FILES = sorted((SHARED_CORPORA / "leipzig").glob("*.txt"))
UDHR_FILES = sorted((SHARED_CORPORA / "udhr").glob("*.xml"))
BUNDLED_FILES = sorted(BUNDLED_CORPORA.glob("*.txt"))

_UDHR_NS = "{http://efele.net/udhr}"
#: Elements that hold running text in the UDHR XML.
_UDHR_TEXT_ELEMENTS = {f"{_UDHR_NS}{tag}" for tag in ("title", "para", "listitem")}


def file_params(paths: list[Path], missing: str) -> list:
    """pytest parameters, one per file (id = file stem), or one skip."""
    if not paths:
        return [pytest.param(None, id="absent", marks=pytest.mark.skip(reason=missing))]
    return [pytest.param(p, id=p.stem) for p in paths]


def read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def read_lines(path: Path) -> list[str]:
    """Non-empty lines, without their line ends."""
    return [line for line in read_text(path).splitlines() if line]


#: Short phrases in many scripts, for tests that must not depend on the
#: shared corpora being present.
PHRASES = [
    "The quick brown fox jumps over the lazy dog.", "We'll see: it's 3.14, isn't it?",
    "Ich hätte gern ein Stück Käse.", "Où est la bibliothèque ?", "¿Dónde está el baño?",
    "Это проверка токенизатора.", "这是一个分词器的测试。", "これはトークナイザーのテストです。",
    "토크나이저 테스트입니다.", "هذا اختبار للمحلل.", "זהו מבחן.", "यह एक परीक्षण है।",
    "এটি একটি পরীক্ষা।", "นี่คือการทดสอบ", "Đây là một bài kiểm tra.", "Bu bir testtir.",
    "def f(x):\n    return x ** 2\n", "  \t indented\r\n", "1,234,567.89 €", "😀 👍🏽 🇯🇵",
    "<|endoftext|>", "e\u0301 a\u0308", "\u3000全角\u3000スペース", "\n\n\n",
]


def synthetic_texts(count: int, seed: int = 0, max_phrases: int = 20) -> list[str]:
    """``count`` deterministic texts, each a random run of PHRASES joined by spaces or newlines."""
    import random
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        n = rng.randint(1, max_phrases)
        texts.append("".join(rng.choice(PHRASES) + rng.choice([" ", "\n", "", "  "]) for _ in range(n)))
    return texts


def udhr_segments(path: Path) -> list[str]:
    """The running text of one UDHR file: each title / para / listitem.

    A listitem can wrap paras; its own text (not its children's) is taken
    so no text is counted twice.
    """
    root = ET.parse(path).getroot()
    segments = []
    for element in root.iter():
        if element.tag in _UDHR_TEXT_ELEMENTS and element.text and element.text.strip():
            segments.append(element.text.strip())
    return segments
