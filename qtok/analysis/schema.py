"""What each field of a report row means, and the JSON Schema of
``qtok report --format json`` built from it (``qtok report --schema``).

One definition per field, used by the schema, the HTML report's glossary
and the tests that every field of ``metrics.FIELDS`` is defined.  The long
form, with the reasoning, is the docstring of ``qtok.analysis.api``.
"""
from __future__ import annotations

import json

__all__ = ["DEFINITIONS", "json_schema", "schema_text"]

#: field -> (JSON type, definition).  "integer?" / "number?" may be null.
DEFINITIONS: dict[str, tuple[str, str]] = {
    "tokenizer": ("string", "Label of the tokenizer: qwen, a --compare name, or LABEL of LABEL=SPEC."),
    "code": ("string", "Language code of corpora/languages.tsv (en, zh, pt-BR ...)."),
    "name": ("string", "English name of the language."),
    "documents": ("integer", "Documents of the language: a line of a .txt file, a UDHR title "
                             "or paragraph, a row of a table."),
    "bytes": ("integer", "UTF-8 bytes of the documents after NFC normalization, the text every "
                         "tokenizer is given."),
    "chars": ("integer", "Unicode code points of the same NFC text."),
    "words": ("integer?", "Whitespace-separated words (str.split); null for languages written "
                          "without spaces between words."),
    "tokens": ("integer", "Tokens of all documents, each document encoded alone, no special or "
                          "BOS/EOS tokens added."),
    "bytes_per_token": ("number?", "bytes / tokens; higher is better compression."),
    "chars_per_token": ("number?", "chars / tokens."),
    "tokens_per_word": ("number?", "Fertility: tokens / words; null where words is."),
    "parity": ("number?", "Premium (Petrov et al. 2023): tokens / English tokens on parallel "
                          "text, from the corpus totals; null unless the corpus is parallel and "
                          "has English."),
    "pair_premium": ("number?", "Per-pair premium (TokSuite): the mean over aligned units of "
                                "tokens(unit) / tokens(the same unit in English); units are UDHR "
                                "articles, table rows with the same id, or lines at the same "
                                "position of parallel .txt files; null where parity is, or when "
                                "nothing aligns the documents."),
    "fragment_share": ("number?", "Share of the tokens that are not whole UTF-8 characters "
                                  "(byte fallback cutting a character); null if the tokenizer "
                                  "cannot list its vocabulary."),
    "qwen_ratio": ("number?", "Qwen's tokens / this tokenizer's tokens on the same text; below "
                              "1 Qwen needs fewer."),
    "continued_words": ("integer?", "Words that take two or more tokens, counted in context: a "
                                    "token belongs to the word its first byte is in; null where "
                                    "words is, or when the tokenizer gives no offsets."),
    "continued_share": ("number?", "Proportion of continued words (Rust et al. 2021): "
                                   "continued_words / words."),
    "byte_premium": ("number?", "bytes / English bytes on parallel text: the script's and "
                                "UTF-8's share of a premium, before any tokenizer."),
    "vocab_size": ("integer?", "|V|: the ids the tokenizer can emit, special and added tokens "
                               "included."),
    "distinct_ids": ("integer?", "Different ids the language's text uses."),
    "vocab_use": ("number?", "distinct_ids / |V|."),
    "script_vocab_use": ("number?", "Share of |V| that the text of all the corpus's languages of "
                                    "this language's script uses together."),
    "renyi_efficiency": ("number?", "Rényi efficiency (Zouhar et al. 2023): H_a(p) / log |V| "
                                    "with p the unigram distribution of the ids and "
                                    "H_a(p) = log(sum p_i^a) / (1 - a); a = 2.5 unless "
                                    "--renyi-alpha says otherwise."),
    "shannon_efficiency": ("number?", "The same at a = 1: -sum p_i log p_i / log |V|."),
    "bits_per_byte": ("number?", "tokens * log2 |V| / bytes: the ids as fixed-width codes, per "
                                 "byte of text."),
    "deflate_bits_per_byte": ("number?", "8 * DEFLATE-compressed bytes / bytes, each document "
                                         "compressed alone (zlib level 9, raw); null unless "
                                         "--deflate."),
}


def _property(kind: str, text: str) -> dict:
    base = kind.rstrip("?")
    prop: dict = {"type": [base, "null"] if kind.endswith("?") else base, "description": text}
    if base in ("integer", "number"):
        prop["minimum"] = 0          # counts and ratios of counts
    return prop


def json_schema() -> dict:
    """JSON Schema (draft 2020-12) of ``qtok report --format json``."""
    from .metrics import FIELDS
    row = {
        "type": "object",
        "properties": {f: _property(*DEFINITIONS[f]) for f in FIELDS},
        "required": list(FIELDS),
        "additionalProperties": False,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "qtok report",
        "description": "Compression per tokenizer and language (qtok report --format json).",
        "type": "object",
        "properties": {
            "corpus": {"type": "string", "description": "Name of the measured corpus."},
            "results": {"type": "array", "items": row,
                        "description": "One row per tokenizer and language."},
        },
        "required": ["corpus", "results"],
        "additionalProperties": False,
    }


def schema_text() -> str:
    return json.dumps(json_schema(), ensure_ascii=False, indent=2) + "\n"
