"""Decoding throughput: ids of each corpus file back to text.

MB/s here counts the UTF-8 bytes of text produced, so it is comparable with
the encoding figures.  The ids are tiktoken's, the same for every encoder.
"""
from __future__ import annotations

import pytest

from encoders import SIDE_BY_SIDE
import references as ref


@pytest.mark.parametrize("key", SIDE_BY_SIDE)
def test_decode(measure, load_encoder, key, files, expected_files):
    enc = load_encoder(key)
    out_bytes = ref.utf8_len(files)
    texts = measure(lambda: [enc.decode(ids) for ids in expected_files], out_bytes,
                    group="decode", encoder=key)
    assert texts == files
