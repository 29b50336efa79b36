"""tools/sanitize.py's own logic: which arguments name tests, and which of a
sanitizer's reports count as qtok's (the runs themselves are .ci/run's)."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import sanitize  # noqa: E402


@pytest.mark.parametrize("args, named", [
    ([], False),
    (["-q"], False),
    (["-x", "-k", "not polars"], False),
    (["-k", "tests"], False),                      # a -k expression, not a folder
    (["tests/test_threads.py", "-q"], True),
    (["-q", "tests/test_api.py::test_multiprocessing_pool"], True),
    (["tests"], True),
    (["no/such/file.py"], False),
])
def test_which_arguments_name_tests(args, named):
    assert sanitize.names_tests(args) is named


TSAN_LOG = """==================
WARNING: ThreadSanitizer: data race (pid=1)
  Write of size 4 at 0x7ffe3faf9728 by main thread:
    #0 __pyx_f_4qtok_4_bpe_7CoreBPE__batch_texts qtok/_bpe.c:68784 (_bpe.so+0x47075)

  Previous read of size 4 at 0x7ffe3faf9728 by thread T17:
    #0 __pyx_f_4qtok_4_bpe_encode_one qtok/_bpe.c:39086 (_bpe.so+0x424c2)

SUMMARY: ThreadSanitizer: data race qtok/_bpe.c:68784 in __pyx_f_4qtok_4_bpe_7CoreBPE__batch_texts
==================
==================
WARNING: ThreadSanitizer: data race (pid=1)
  Write of size 8 at 0x7f50a82c0000 by thread T30:
    #0 memcpy sanitizer_common_interceptors.inc:827 (libtsan.so+0x5dda6)
    #1 mi_theap_realloc_zero_aligned_at <null> (libarrow.so.2600+0x132ba8d)

SUMMARY: ThreadSanitizer: data race (libarrow.so.2600+0x132ba8d) in mi_theap_realloc_zero_aligned_at
==================
"""

ASAN_LOG = """=================================================================
==7==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x6030001a8437
READ of size 8 at 0x6030001a8437 thread T0
    #0 0x7f4c74aa8595 in __pyx_f_4qtok_4_bpe_merge_small qtok/_bpe.c:1234
    #1 0x7f4c74aa8595 in __pyx_f_4qtok_4_bpe_encode_utf8 qtok/_bpe.c:5678
SUMMARY: AddressSanitizer: heap-buffer-overflow qtok/_bpe.c:1234 in __pyx_f_4qtok_4_bpe_merge_small
"""


def test_reports_are_split_into_qtoks_and_others(tmp_path):
    (tmp_path / "tsan.1").write_text(TSAN_LOG)
    (tmp_path / "asan.7").write_text(ASAN_LOG)
    (tmp_path / "tsan.2").write_text("")           # a process that reported nothing
    (tmp_path / "tsan.3").write_text(TSAN_FATAL)
    (tmp_path / "tsan.4").write_text(TSAN_LOG + "ThreadSanitizer: reported 2 warnings\n")
    ours, others, rest = sanitize.reports(tmp_path)
    assert len(ours) == 3 and len(others) == 2           # tsan.4 repeats tsan.1's reports
    assert any("__batch_texts" in r for r in ours) and any("merge_small" in r for r in ours)
    assert "libarrow" in others[0] and "qtok" not in others[0]
    # What ended a process is no report, and is shown, not dropped.
    assert len(rest) == 1 and "FATAL: ThreadSanitizer" in rest[0]


# A runtime's fatal error: it ends the process at once, with the exit status
# the tool gives it (0), before pytest's session can end.
TSAN_FATAL = """FATAL: ThreadSanitizer CHECK failed: tsan_rtl.cpp:100 "((x)) != (0)" (0x0, 0x0)
    #0 __tsan::CheckUnwind() <null> (libtsan.so.2+0x9b2b5)
"""

JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest"
 errors="{errors}" failures="{failures}" skipped="0" tests="3" time="1.0"></testsuite></testsuites>
"""


@pytest.mark.parametrize("failures, errors", [(0, 0), (1, 0), (0, 2)])
def test_the_session_outcome_comes_from_pytests_report(tmp_path, failures, errors):
    junit = tmp_path / "pytest.xml"
    assert sanitize.session_outcome(junit) is None          # no report: the session never ended
    junit.write_text(JUNIT.format(failures=failures, errors=errors))
    assert sanitize.session_outcome(junit) == (failures, errors)
