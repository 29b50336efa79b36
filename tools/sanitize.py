"""Run the tests on a build of qtok's extensions instrumented by a sanitizer.

    python tools/sanitize.py address [pytest arguments...]
    python tools/sanitize.py thread  [pytest arguments...]

address  AddressSanitizer and UndefinedBehaviorSanitizer: reads and writes
         out of bounds or after free in qtok's native code (and in the
         CPython objects it fills: Python's allocator is switched to malloc
         so that every object has redzones), and undefined behaviour such
         as shifts past a word's width, misaligned loads or signed overflow.
thread   ThreadSanitizer: data races between the native threads of batches
         and long texts, the calling thread, and Python threads sharing an
         Encoding.

The source tree is copied to a temporary folder, the extensions are built
there by pip (which fetches Cython into its own build environment) with the
sanitizer's flags, and pytest runs in the copy with the sanitizer's runtime
preloaded into the interpreter (CPython itself is not instrumented).  The
reports of AddressSanitizer and ThreadSanitizer are written to files and read
back: a report with a frame in qtok's extensions fails the run; one that lies
wholly in another library the tests load (Arrow's threads, say) is listed in
one line and does not.  UndefinedBehaviorSanitizer stops the process at its
first report, which fails the run.  pytest writes a JUnit XML file when its
session ends; a run without one (a process a runtime ended early: they exit
with status 0 here, so that a report elsewhere does not fail the run) fails,
with whatever else the runtime wrote to its log.

Unless the pytest arguments name tests (files, folders or node ids), a
default selection runs, with the options given (DEFAULT_TESTS below): the
tests that drive the native code, without those whose other programs cannot
run under the sanitizer (Ray's and Polars' own code fails under it on its
own).

Needs GCC's sanitizer runtimes (Debian: libasan8, libubsan1 and libtsan2,
which GCC's own packages install).  When the compiler has none, or the runtime
cannot start on the system, the run is skipped with a message and exit code
0, as the browser tests are.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parent.parent

SANITIZERS = {
    "address": {
        "flags": "-fsanitize=address,undefined",
        "runtimes": ["libasan.so", "libubsan.so"],
        "env": lambda logs: {
            # Leaks: CPython keeps much alive until exit on purpose.
            "ASAN_OPTIONS": f"detect_leaks=0:log_path={logs}/asan",
            # UndefinedBehaviorSanitizer, preloaded beside AddressSanitizer,
            # writes to stderr whatever log_path says: it stops the process
            # instead, so that a report cannot pass unseen in a test that
            # passes, and pytest runs with --capture=sys (below) so that the
            # report reaches the terminal.  Only qtok's code is instrumented,
            # so every such report is in qtok's code.
            "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
        },
    },
    "thread": {
        "flags": "-fsanitize=thread",
        "runtimes": ["libtsan.so"],
        "env": lambda logs: {
            # exitcode=0: pytest's own exit code comes through; the reports
            # are read from the logs.  detect_deadlocks=0: the lock-order
            # detector holds 64 locks a thread, and DuckDB's allocator takes
            # more than that before a fork (the tests' subprocesses), which
            # ends the process in a failed CHECK.  qtok's threads take no
            # locks (atomics only), so the races are all there is to find.
            "TSAN_OPTIONS": f"log_path={logs}/tsan:exitcode=0:report_signal_unsafe=0:"
                            f"detect_deadlocks=0",
        },
    },
}

# Everything but Ray's tests: its workers, which inherit LD_PRELOAD, hit a
# use-after-free in Ray's own setproctitle under AddressSanitizer.  (The
# browser tests start Chromium without it.)
ADDRESS_TESTS = ["tests", "--ignore=tests/test_ray.py"]
# The tests of native threads.  Polars crashes under ThreadSanitizer on its
# own, and a process pool forked from a process that has run threads may hang.
THREAD_TESTS = ["tests/test_threads.py", "tests/test_long_text_threads.py",
                "tests/test_arrow.py", "tests/test_piece_cache.py", "tests/test_api.py",
                "-k", "not polars and not multiprocessing"]
DEFAULT_TESTS = {"address": ADDRESS_TESTS, "thread": THREAD_TESTS}

# What a copy of the tree leaves out: builds, environments, caches, and the C
# that Cython generates (the copy generates its own).
IGNORED = shutil.ignore_patterns(".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__",
                                 ".pytest_cache", ".benchmarks", ".hypothesis", "*.so",
                                 "_bpe.c", "_nfc.c", "build_id.h")

# What the runtimes print when they cannot start at all on a system: the
# address space laid out where their shadow memory must go (a kernel with more
# bits of address randomization than the runtime knows).  That is the system,
# not qtok, and the run is skipped as when there is no runtime.
RUNTIME_CANNOT_START = ("ThreadSanitizer: unexpected memory mapping",
                        "Shadow memory range interleaves with an existing memory mapping")

# A frame in one of qtok's extensions: a Cython function of the qtok package
# (__pyx_f_4qtok_...), or a line of its sources.
QTOK_FRAME = re.compile(r"__pyx_\w*4qtok_|qtok/(?:_bpe|_nfc)\.c:|qtok/include/")


UBSAN_HINT = ("(UndefinedBehaviorSanitizer stops the process at a report: look above for "
              "'runtime error')")

# pytest options whose value is the next argument (which names no test).
VALUE_OPTIONS = {"-k", "-m", "-p", "-o", "-c", "-W", "--deselect", "--ignore", "--ignore-glob",
                 "--rootdir", "--maxfail", "--tb", "--durations", "--basetemp"}


def names_tests(args: list[str]) -> bool:
    """Whether pytest arguments name tests (a file, a folder, a node id)."""
    for before, arg in zip([""] + args, args):
        if before in VALUE_OPTIONS or arg.startswith("-"):
            continue
        if (ROOT / arg.split("::")[0]).exists():
            return True
    return False


def runtime_paths(names: list[str]) -> list[str] | None:
    """The compiler's sanitizer runtimes, or None when it has not got them."""
    cc = os.environ.get("CC", "cc")
    paths = []
    for name in names:
        try:
            found = subprocess.run([cc, f"-print-file-name={name}"], capture_output=True,
                                   text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None
        if not os.path.isabs(found) or not os.path.exists(found):
            return None                   # the compiler echoes the bare name back
        paths.append(os.path.realpath(found))
    return paths


def build_copy(work: Path, flags: str) -> Path:
    """Copy the tree to work/src and put extensions built with flags into it."""
    src = work / "src"
    shutil.copytree(ROOT, src, ignore=IGNORED, symlinks=True)
    env = dict(os.environ,
               CFLAGS=f"{flags} -fno-omit-frame-pointer -g",
               LDFLAGS=flags)
    wheels = work / "wheel"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir",
                            "--quiet", "-w", str(wheels), str(src)], env=env)
    if built.returncode != 0:
        raise SystemExit(f"tools/sanitize.py: pip could not build qtok with {flags} "
                         f"(its output is above)")
    (wheel,) = wheels.glob("qtok-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            if name.startswith("qtok/") and name.endswith(".so"):
                (src / name).write_bytes(zf.read(name))
    return src


def reports(logs: Path) -> tuple[list[str], list[str], list[str]]:
    """The runtime's logs: its reports in qtok's code, its reports elsewhere,
    and anything else it wrote (a fatal error that ended a process)."""
    ours, others, rest = [], [], []
    for path in sorted(logs.iterdir()):
        text = path.read_text(errors="replace")
        # A log holds one or more reports; ThreadSanitizer separates them
        # with lines of "=" signs.
        for report in re.split(r"\n={10,}\n", text):
            # (ThreadSanitizer ends a log that holds reports with their count.)
            if not report.strip() or re.fullmatch(r"ThreadSanitizer: reported \d+ warnings?",
                                                  report.strip()):
                continue
            found = f"{path.name}:\n{report.strip()}"
            if not re.search(r"ERROR|WARNING|runtime error", report):
                rest.append(found)
            else:
                (ours if QTOK_FRAME.search(report) else others).append(found)
    return ours, others, rest


def session_outcome(junit: Path) -> tuple[int, int] | None:
    """(tests failed, tests in error) from pytest's JUnit XML file, or None
    when there is none: the session never ended."""
    if not junit.exists():
        return None
    failed = errors = 0
    for suite in ElementTree.parse(junit).getroot().iter("testsuite"):
        failed += int(suite.get("failures", 0))
        errors += int(suite.get("errors", 0))
    return failed, errors


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in SANITIZERS:
        print(__doc__.split("\n\n")[0] + "\n\nusage: python tools/sanitize.py "
              "{address,thread} [pytest arguments...]", file=sys.stderr)
        return 2
    kind, pytest_args = argv[0], argv[1:]
    if not names_tests(pytest_args):      # options alone go with the default selection
        pytest_args = DEFAULT_TESTS[kind] + pytest_args
    spec = SANITIZERS[kind]
    runtimes = runtime_paths(spec["runtimes"])
    if runtimes is None:
        print(f"tools/sanitize.py: the C compiler has no {kind} sanitizer runtime "
              f"({', '.join(spec['runtimes'])}); skipped", file=sys.stderr)
        return 0
    sys.path.insert(0, str(ROOT / "tests"))
    from corpus_files import SHARED_CORPORA  # the corpora the tests of this checkout use

    with tempfile.TemporaryDirectory(prefix=f"qtok-{kind}-") as tmp:
        work = Path(tmp)
        print(f"tools/sanitize.py: building qtok with {spec['flags']} ...", file=sys.stderr)
        src = build_copy(work, spec["flags"])
        logs = work / "logs"
        logs.mkdir()
        env = dict(os.environ, PYTHONMALLOC="malloc", QTOK_CACHE_DIR=str(work / "cache"),
                   QTOK_TEST_CORPORA=str(SHARED_CORPORA), **spec["env"](logs))
        env["LD_PRELOAD"] = " ".join(runtimes + [os.environ.get("LD_PRELOAD", "")]).strip()
        # The copy's own qtok, never an installed one: pytest runs from the
        # copy, whose folder comes first on the path.
        check = subprocess.run([sys.executable, "-c", "import qtok._bpe as m; print(m.__file__)"],
                               cwd=src, env=env, capture_output=True, text=True)
        if check.returncode != 0 and any(m in check.stderr for m in RUNTIME_CANNOT_START):
            print(f"tools/sanitize.py: the {kind} sanitizer's runtime cannot start on this "
                  f"system; skipped:\n{check.stderr.strip()}", file=sys.stderr)
            return 0
        if check.returncode != 0 or not check.stdout.strip().startswith(str(src)):
            print(f"tools/sanitize.py: the tests would not import the instrumented build in "
                  f"{src}:\n{check.stdout}{check.stderr}", file=sys.stderr)
            return 2
        # --capture=sys: what the runtimes write to the process's stderr is
        # not held back with a test's captured output.
        junit = work / "pytest.xml"
        status = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                                 "--capture=sys", f"--junitxml={junit}", *pytest_args],
                                cwd=src, env=env).returncode
        ours, others, rest = reports(logs)
        outcome = session_outcome(junit)
    for report in others:                 # one line each: the runtime's summary
        summary = re.findall(r"^SUMMARY: .*$", report, re.M) or [report.splitlines()[1]]
        print(f"[outside qtok's code, not counted] {summary[-1]}", file=sys.stderr)
    for report in ours:
        print(f"\n[a report in qtok's code]\n{report}", file=sys.stderr)
    for text in rest:
        print(f"\n[the runtime's log]\n{text}", file=sys.stderr)
    if outcome is None:
        print(f"\ntools/sanitize.py {kind}: pytest's session did not end (the process exited "
              f"with status {status} before pytest wrote its report); see the runtime's log "
              f"above", file=sys.stderr)
        if kind == "address":
            print(UBSAN_HINT, file=sys.stderr)
        return 1
    print(f"\ntools/sanitize.py {kind}: pytest exit code {status}; {len(ours)} report(s) in "
          f"qtok's code, {len(others)} elsewhere", file=sys.stderr)
    if ours:
        return 1
    if status == 5:                       # pytest collected no tests: a broken selection
        return 1
    if status == 0 and any(outcome):      # a status the runtime set, not pytest's
        print(f"tools/sanitize.py {kind}: {outcome[0]} test(s) failed and {outcome[1]} "
              f"had errors, yet the process exited 0", file=sys.stderr)
        return 1
    if status != 0 and kind == "address":
        print(UBSAN_HINT, file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
