"""Many files: discovery, reading (encodings, BOMs, newlines), a process pool, and writing
fixed files atomically without ever losing a user's work."""

from __future__ import annotations

import codecs
import contextlib
import errno
import gc
import hashlib
import io
import os
import signal
import stat
import sys
import tempfile
import threading
import time
import tokenize
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from mllint.cache import ResultCache, SettingsFingerprint, package_of
from mllint.config import DEFAULT_INCLUDE, Settings
from mllint.diagnostics import FileResult, Violation
from mllint.globs import matches, matches_any

PY_SUFFIXES = (".py", ".pyi")
#: below this many files to lint a pool costs more than it saves (workers are forked after
#: the parent imported libcst and the rules, so they start warm)
POOL_THRESHOLD = 4
#: ... and below this much source in total (a few edited files in pre-commit or after a
#: small edit): forking and feeding workers costs more than checking them in-process
POOL_MIN_BYTES = 192 * 1024


@dataclass(frozen=True)
class SourceFile:
    path: Path  # as found (may be relative to cwd)
    display: str  # how it is shown to the user
    relpath: str  # relative to the project root, posix, for globs and roles


@dataclass
class Discovery:
    files: list[SourceFile] = field(default_factory=list)
    errors: list[FileResult] = field(default_factory=list)


@dataclass(frozen=True)
class RunOptions:
    fix: str | None = None  # None | "safe" | "unsafe"
    write: bool = True  # False with --diff
    want_edits: bool = True


@dataclass
class FileOutcome:
    result: FileResult
    original: str | None = None  # kept for --diff
    written: bool = False


def _display(path: Path, absolute: str | None = None) -> str:
    """How a path is shown: relative to the working directory when under it, else as given
    when absolute. ``absolute``, when known, is ``os.path.abspath(path)``."""
    if os.sep == "/":  # under the working directory: string operations, no relpath
        absolute = os.path.abspath(path) if absolute is None else absolute
        cwd = os.getcwd()
        prefix = cwd if cwd.endswith("/") else cwd + "/"
        if absolute.startswith(prefix):
            return absolute[len(prefix) :]
    try:
        rel = os.path.relpath(path)
    except ValueError:  # pragma: no cover - different drive on Windows
        rel = str(path)
    if rel.startswith(".." + os.sep) and path.is_absolute():
        rel = str(path)
    return rel.replace(os.sep, "/")


def relpath_to_root(path: Path | str, root: Path, absolute: str | None = None) -> str:
    """The posix path relative to the project root (for globs and file roles);
    ``absolute``, when known, is ``os.path.abspath(path)``."""
    if absolute is None:
        absolute = os.path.abspath(path)
    if os.sep == "/":  # string operations: a discovery walk calls this for every entry
        top = str(root)
        if absolute == top:
            return "."
        prefix = top if top.endswith("/") else top + "/"
        if absolute.startswith(prefix):
            return absolute[len(prefix) :]
        return absolute.lstrip("/")
    p = Path(absolute)  # pragma: no cover - Windows
    try:  # pragma: no cover
        return p.relative_to(root).as_posix()
    except ValueError:  # pragma: no cover
        return p.as_posix().lstrip("/")


def discover(paths: Sequence[Path], settings: Settings, force_exclude: bool = False) -> Discovery:
    out = Discovery()
    excludes = (*settings.exclude, *settings.extend_exclude)
    seen: set[str] = set()

    def add(p: Path, absolute: str | None = None) -> None:
        key = os.path.abspath(p) if absolute is None else absolute
        if key in seen:
            return
        seen.add(key)
        out.files.append(SourceFile(p, _display(p, key), relpath_to_root(p, settings.root, key)))

    def error(p: Path, message: str) -> None:
        out.errors.append(FileResult(_display(p), error=message))

    for given in paths:
        rel = relpath_to_root(given, settings.root)
        if os.path.islink(given) and not os.path.exists(given):
            error(given, _link_problem(given))
            continue
        if not os.path.lexists(given):
            error(given, "no such file or directory")
            continue
        if os.path.isdir(given):
            # a directory given explicitly is checked even when a pattern excludes it
            # (`mllint check build/`); patterns below it still apply
            active = tuple(x for x in excludes if not (rel and matches(rel, x)))
            includes = (*settings.include, *settings.extend_include)
            for p, absolute in _walk(given, settings.root, active, out, includes):
                add(p, absolute)
        else:
            if force_exclude and matches_any(rel, excludes):
                continue
            add(given)
    return out


def _link_problem(p: Path) -> str:
    try:
        os.stat(p)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop; skipped"
    return f"broken symbolic link (target {os.readlink(p)!r} does not exist); skipped"


def _walk(
    top: Path,
    root: Path,
    excludes: tuple[str, ...],
    out: Discovery,
    includes: tuple[str, ...] = DEFAULT_INCLUDE,
) -> Iterator[tuple[Path, str]]:
    """The files under ``top`` to check, each with its absolute path."""
    stack = [top]
    while stack:
        d = stack.pop()
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as exc:
            out.errors.append(
                FileResult(_display(d), error=f"cannot list directory: {exc.strerror or exc}")
            )
            continue
        subdirs: list[Path] = []
        base = os.path.abspath(d)
        for entry in entries:
            p = Path(entry.path)
            absolute = os.path.join(base, entry.name)  # an entry name holds no separator
            rel = relpath_to_root(p, root, absolute)
            if matches_any(rel, excludes):
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if is_dir:
                subdirs.append(p)
                continue
            if not matches_any(rel, includes):
                continue
            if entry.is_symlink():
                if not os.path.exists(p):
                    out.errors.append(FileResult(_display(p), error=_link_problem(p)))
                    continue
                if os.path.isdir(p):
                    continue  # a directory link named x.py: never followed
            yield p, absolute
        stack.extend(reversed(subdirs))


# -- reading -----------------------------------------------------------------------------


class FileReadError(Exception):
    pass


@dataclass
class Decoded:
    text: str
    encoding: str
    bom: bool
    mtime_ns: int
    size: int
    mode: int
    data: bytes = b""


def read_source(path: Path, max_size: int | None = None) -> Decoded:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise FileReadError("file vanished before it could be read") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise FileReadError("symbolic link loop") from None
        raise FileReadError(f"cannot read file: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise FileReadError("is a directory, not a Python file")
    if max_size and st.st_size > max_size:
        raise FileReadError(
            f"{st.st_size / 1048576:.1f} MB is above max-file-size-kb ({max_size // 1024} KiB); "
            "skipped (raise the limit in [tool.mllint] to check it)"
        )
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise FileReadError("file vanished before it could be read") from None
    except OSError as exc:
        raise FileReadError(f"cannot read file: {exc.strerror or exc}") from None
    if b"\x00" in data:
        raise FileReadError("contains NUL bytes (a binary file?); skipped")
    bom = data.startswith(codecs.BOM_UTF8)
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        if "invalid or missing encoding declaration" not in str(exc):
            raise FileReadError(f"cannot determine the encoding: {exc}") from None
        encoding = "utf-8"  # undecodable first lines: the decode below names the byte
    try:
        text = data.decode("utf-8-sig" if bom else encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        name = "UTF-8" if encoding in ("utf-8", "utf-8-sig") else encoding
        pos = getattr(exc, "start", None)
        where = f" (byte {pos})" if pos is not None else ""
        raise FileReadError(f"not valid {name}{where}; skipped") from None
    return Decoded(text, encoding, bom, st.st_mtime_ns, st.st_size, st.st_mode, data)


def encode_source(text: str, decoded: Decoded) -> bytes:
    """``text`` encoded like the original file (same encoding, BOM kept)."""
    data = text.encode(decoded.encoding if not decoded.bom else "utf-8")
    return codecs.BOM_UTF8 + data if decoded.bom else data


def write_source(path: Path, text: str, decoded: Decoded) -> str | None:
    """Write ``text`` atomically (temp file in the same folder + rename), keeping encoding,
    BOM and mode bits. Returns an error message instead of writing when that is unsafe."""
    try:
        data = encode_source(text, decoded)
    except UnicodeEncodeError:
        return f"the fixed text cannot be encoded as {decoded.encoding}; fix not written"
    try:
        st = os.stat(path)
    except OSError:
        return "file vanished before the fix could be written; fix not written"
    if st.st_mtime_ns != decoded.mtime_ns or st.st_size != decoded.size:
        return "file changed on disk while mllint was running; fix not written"
    if not os.access(path, os.W_OK):
        return "file is read-only; fix not written"
    real = Path(os.path.realpath(path))
    directory = real.parent
    with _sigterm_cleans_up() as pending:
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{real.name}.", suffix=".mllint-tmp", dir=directory)
        except OSError as exc:
            return f"cannot create a temporary file next to it ({exc.strerror or exc}); fix not written"
        pending.add(tmp)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, stat.S_IMODE(st.st_mode))
            os.replace(tmp, real)
            pending.discard(tmp)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            pending.discard(tmp)
            if isinstance(exc, OSError):
                return f"cannot write the fixed file ({exc.strerror or exc}); fix not written"
            raise
    return None


#: temporary files being written right now (removed by the SIGTERM handler below)
_PENDING_TMP: set[str] = set()


@contextlib.contextmanager
def _sigterm_cleans_up() -> Iterator[set[str]]:
    """During a write, SIGTERM (a CI timeout, ``kill``, ``docker stop``) first removes the
    temporary file and then ends the process as SIGTERM would have (same exit status). Only
    where the default disposition is in place and only in the main thread (where Python runs
    signal handlers); elsewhere the ``except BaseException`` cleanup is what there is."""
    if threading.current_thread() is not threading.main_thread():
        yield _PENDING_TMP
        return
    try:
        previous = signal.getsignal(signal.SIGTERM)
    except (ValueError, OSError):  # pragma: no cover - no SIGTERM on this platform
        yield _PENDING_TMP
        return
    if previous is not signal.SIG_DFL:
        yield _PENDING_TMP
        return
    signal.signal(signal.SIGTERM, _remove_pending_and_die)
    try:
        yield _PENDING_TMP
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _remove_pending_and_die(signum: int, frame: object) -> None:
    for tmp in list(_PENDING_TMP):
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    _PENDING_TMP.clear()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _tie_worker_to_parent(parent: int) -> None:
    """Pool initializer: a worker ends when the main process dies (SIGTERM or SIGKILL sent to
    it alone), instead of blocking forever on a result pipe nobody reads."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # no libc / no prctl symbol
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    else:  # pragma: no cover - macOS and the BSDs: poll the parent

        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(0.5)
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=watch, daemon=True).start()
    if os.getppid() != parent:  # the parent died before the tie was made
        os._exit(1)


# -- checking ------------------------------------------------------------------------------


_FINGERPRINT: tuple[Settings, SettingsFingerprint] | None = None


def _fingerprint(settings: Settings) -> SettingsFingerprint:
    """One SettingsFingerprint per settings object and process (workers get pickled copies)."""
    global _FINGERPRINT
    if _FINGERPRINT is None or _FINGERPRINT[0] != settings:
        _FINGERPRINT = (settings, SettingsFingerprint(settings))
    return _FINGERPRINT[1]


def _settings_part(settings: Settings, options: RunOptions, sf: SourceFile) -> str:
    # results with and without fix edits differ: they are cached apart
    part = _fingerprint(settings).for_file(sf.relpath, _package(sf.path))
    if matches_any(sf.relpath, settings.test_paths):
        # a test file's findings (ML509, ML510) also depend on the conftest.py files above it
        part += f"|conftest={_conftest_digest(os.path.abspath(sf.path))}"
    return f"{part}|edits={int(options.want_edits)}"


_CONFTEST_DIGESTS: dict[str, str] = {}


def _conftest_digest(file_abspath: str) -> str:
    """A digest of the paths and contents of the conftest.py files that apply to a file."""
    from mllint.semantics.project_index import chain_paths

    directory = os.path.dirname(file_abspath)
    digest = _CONFTEST_DIGESTS.get(directory)
    if digest is None:
        h = hashlib.sha256()
        for path in chain_paths(file_abspath):
            h.update(path.encode("utf-8", "surrogateescape") + b"\0")
            try:
                with open(path, "rb") as fh:
                    h.update(fh.read())
            except OSError:
                h.update(b"<unreadable>")
            h.update(b"\0")
        digest = _CONFTEST_DIGESTS[directory] = h.hexdigest()[:16]
    return digest


_PACKAGES: dict[str, str | None] = {}


def _package(path: Path) -> str | None:
    parent = os.path.dirname(os.path.abspath(path))
    if parent not in _PACKAGES:
        _PACKAGES[parent] = package_of(path)
    return _PACKAGES[parent]


def _needs_processing(violations: list[Violation], options: RunOptions, settings: Settings) -> bool:
    """With --fix, a cached result still needs a real run when it has an applicable fix."""
    if options.fix is None:
        return False
    for v in violations:
        if v.fix is None:
            continue
        if v.fix.applicability == "safe" or options.fix == "unsafe":
            return True
    return False


#: the cache key each file was looked up under in this run (it covers the file's bytes): the
#: project run's cache key reuses them instead of reading and hashing every file again
LOOKUP_KEYS: dict[Path, str] = {}


def cached_outcome(
    sf: SourceFile, settings: Settings, options: RunOptions, cache: ResultCache
) -> FileOutcome | None:
    """The outcome from the cache, or None (miss, unreadable file, or work to do)."""
    try:
        with open(sf.path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    key = cache.key(data, _settings_part(settings, options, sf))
    LOOKUP_KEYS[sf.path] = key
    hit = cache.get(key, sf.display)
    if hit is None or _needs_processing(hit, options, settings):
        return None
    return FileOutcome(FileResult(sf.display, violations=hit))


def process_file(
    sf: SourceFile, settings: Settings, options: RunOptions, cache: ResultCache | None = None
) -> FileOutcome:
    from mllint.api import make_request
    from mllint.engine import lint_source

    try:
        decoded = read_source(sf.path, settings.max_file_size_kb * 1024)
    except FileReadError as exc:
        return FileOutcome(FileResult(sf.display, error=str(exc)))
    package = _package(sf.path)
    request = make_request(
        settings,
        sf.relpath,
        fix=options.fix,
        package=package,
        want_edits=options.want_edits,
        abspath=os.path.abspath(sf.path),
    )
    # roles use the project-relative path; findings are reported under the display path
    request.display = sf.display
    try:
        if sf.path.suffix == ".ipynb":
            from mllint.notebook import lint_notebook

            result = lint_notebook(decoded.text, request)
        else:
            result = lint_source(decoded.text, request)
    except Exception as exc:  # never let one file's internal error stop the run
        return FileOutcome(
            FileResult(
                sf.display,
                error=f"internal error while checking ({type(exc).__name__}: {exc}); "
                "please report this file to the mllint developers",
            )
        )
    outcome = FileOutcome(result)
    settings_part = _settings_part(settings, options, sf) if cache else ""
    if result.fixed_source is not None:
        outcome.original = decoded.text
        if options.write:
            problem = write_source(sf.path, result.fixed_source, decoded)
            if problem is not None:
                result.error = problem
                result.changed = False
            else:
                outcome.written = True
                if cache is not None:
                    try:
                        written = encode_source(result.fixed_source, decoded)
                    except UnicodeEncodeError:  # pragma: no cover - write_source refused it
                        written = None
                    if written is not None:
                        cache.put(cache.key(written, settings_part), result.violations)
    elif cache is not None and result.error is None:
        cache.put(cache.key(decoded.data, settings_part), result.violations)
    return outcome


def _worker(args: tuple[SourceFile, Settings, RunOptions, Path | None]) -> FileOutcome:
    sf, settings, options, cache_dir = args
    try:
        return process_file(sf, settings, options, ResultCache(cache_dir) if cache_dir else None)
    finally:
        _collect_after_file()


#: Python's cyclic garbage collector, left on, runs a full collection every few hundred
#: thousand allocations; a libcst parse allocates millions of nodes, and those collections
#: traverse every live node again and again: ~20% of a cold run. While checking, the
#: collector is off; after each file (whose tree is garbage by then) the youngest generation
#: is collected, which frees that file's reference cycles (scope models), and every
#: FULL_GC_EVERY files a full collection frees anything older.
FULL_GC_EVERY = 64
_files_since_full_gc = 0


def _collect_after_file() -> None:
    global _files_since_full_gc
    _files_since_full_gc += 1
    if _files_since_full_gc >= FULL_GC_EVERY:
        _files_since_full_gc = 0
        gc.collect()
    else:
        gc.collect(0)


def _worker_init(parent: int) -> None:
    gc.disable()
    _tie_worker_to_parent(parent)


@contextlib.contextmanager
def _manual_gc() -> Iterator[None]:
    """Collector off while checking; libcst, the rules and everything else imported so far
    are frozen out of the collector's sight (they live as long as the process; forked pool
    workers inherit them frozen) and given back to it afterwards."""
    import mllint.api  # noqa: F401  -- libcst and the engine, before the freeze
    from mllint.rule import per_file_rules

    per_file_rules()
    enabled = gc.isenabled()
    gc.disable()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        if enabled:
            gc.enable()


def _check_here(
    files: Sequence[SourceFile], settings: Settings, options: RunOptions, cache: ResultCache | None
) -> list[FileOutcome]:
    out: list[FileOutcome] = []
    for f in files:
        try:
            out.append(process_file(f, settings, options, cache))
        finally:
            _collect_after_file()
    return out


def run(
    files: Sequence[SourceFile],
    settings: Settings,
    options: RunOptions,
    jobs: int | None = None,
    cache: ResultCache | None = None,
) -> list[FileOutcome]:
    if jobs is None:
        jobs = os.cpu_count() or 1
    LOOKUP_KEYS.clear()
    outcomes: list[FileOutcome | None] = [None] * len(files)
    todo: list[int] = []
    helpers: ProcessPoolExecutor | None = None
    try:
        for i, f in enumerate(files):
            hit = cached_outcome(f, settings, options, cache) if cache is not None else None
            if hit is not None:
                outcomes[i] = hit
                continue
            todo.append(i)
            if helpers is None and _worth_helpers(jobs, cache, len(files) - i - 1):
                helpers = _start_helpers(min(jobs, HELPERS))
        pending = [files[i] for i in todo]
        if not pending:
            return [o for o in outcomes if o is not None]
        done: list[FileOutcome] | None = None
        if helpers is not None and (jobs <= HELPERS or not _pool_worthy(pending, jobs)):
            done = _check_in(helpers, pending, settings, options, cache)
        if done is None:
            if helpers is not None:  # not used, or broken: let them go before a pool starts
                helpers.shutdown(wait=False)
                helpers = None
            with _manual_gc():
                done = _check(pending, settings, options, jobs, cache)
    finally:
        if helpers is not None:
            # no cancel_futures, for the same reason as in _check_in
            helpers.shutdown(wait=False)
    for i, outcome in zip(todo, done, strict=True):
        outcomes[i] = outcome
    return [o for o in outcomes if o is not None]


#: A run with the cache on looks every file up first. At the first miss with at least
#: HELPERS_MIN_LEFT files still to look up (a few misses among many hits: an edit, a branch
#: switch), HELPERS processes are forked to import libcst, the engine and the rules while
#: the lookups go on, and then check the misses: the imports cost about as much as all the
#: lookups, and on two cores they overlap instead of adding up.
HELPERS = 2
HELPERS_MIN_LEFT = 128


def _worth_helpers(jobs: int, cache: ResultCache | None, left: int) -> bool:
    if jobs <= 1 or cache is None or left < HELPERS_MIN_LEFT:
        return False
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        return False  # pragma: no cover - Windows: spawning re-imports everything anyway
    # no cache folder yet: a first run, where (nearly) every file misses
    return cache.directory.is_dir()


def _start_helpers(workers: int) -> ProcessPoolExecutor | None:
    import multiprocessing

    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_helper_init,
        initargs=(os.getpid(),),
    )
    try:
        pool.submit(int)  # forks the workers now, so they import while the lookups go on
    except (OSError, RuntimeError):  # pragma: no cover - no processes left
        pool.shutdown(wait=False)
        return None
    return pool


def _helper_init(parent: int) -> None:
    _worker_init(parent)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        # Ctrl-C reaches the whole process group; the main process reports it. A helper
        # interrupted while importing or waiting for work would print the pool's traceback
        signal.signal(signal.SIGINT, _interrupted_helper)
    import mllint.api  # noqa: F401  -- libcst and the engine
    from mllint.rule import per_file_rules

    per_file_rules()
    gc.freeze()


def _interrupted_helper(signum: int, frame: object) -> None:
    """A helper's Ctrl-C: remove the temporary file of a write in progress (the target
    keeps its original bytes, or has all of the fixed ones if the rename happened), then
    end at once, without a traceback."""
    for tmp in list(_PENDING_TMP):
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    os._exit(128 + signum)


def _check_in(
    pool: ProcessPoolExecutor,
    pending: Sequence[SourceFile],
    settings: Settings,
    options: RunOptions,
    cache: ResultCache | None,
) -> list[FileOutcome] | None:
    """The pending files checked by the helpers (largest first, one at a time), or None when
    the pool broke: the caller then checks them itself, so nothing is lost."""
    from concurrent.futures.process import BrokenProcessPool

    ordered = sorted(pending, key=_size, reverse=True)
    cache_dir = cache.root if cache is not None else None
    # submit + result, not map: on Ctrl-C map cancels the pending futures, and the pool's
    # thread then fails to mark them broken when the interrupted helpers end (an
    # InvalidStateError traceback on Python 3.11)
    try:
        futures = [pool.submit(_worker, (f, settings, options, cache_dir)) for f in ordered]
        results = [fut.result() for fut in futures]
    except BrokenProcessPool:  # also raised by submit when the helpers already died
        return None
    by_path = {o.result.filename: o for o in results}
    return [by_path[f.display] for f in pending]


def _pool_worthy(pending: Sequence[SourceFile], jobs: int) -> bool:
    return jobs > 1 and len(pending) >= POOL_THRESHOLD and _total_size(pending) >= POOL_MIN_BYTES


def _check(
    pending: Sequence[SourceFile],
    settings: Settings,
    options: RunOptions,
    jobs: int,
    cache: ResultCache | None,
) -> list[FileOutcome]:
    if not _pool_worthy(pending, jobs):
        done = _check_here(pending, settings, options, cache)
    else:
        import multiprocessing

        # libcst, the engine and the rules are imported (by _manual_gc): forked workers
        # inherit them
        ordered = sorted(pending, key=_size, reverse=True)
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
        mp_context = multiprocessing.get_context(method)
        cache_dir = cache.root if cache is not None else None
        with ProcessPoolExecutor(
            max_workers=min(jobs, len(ordered)),
            mp_context=mp_context,
            initializer=_worker_init,
            initargs=(os.getpid(),),
        ) as pool:
            results = list(
                pool.map(_worker, [(f, settings, options, cache_dir) for f in ordered], chunksize=2)
            )
        by_path = {o.result.filename: o for o in results}
        done = [by_path[f.display] for f in pending]
    return done


def _total_size(files: Sequence[SourceFile]) -> int:
    total = 0
    for f in files:
        total += _size(f)
        if total >= POOL_MIN_BYTES:
            break
    return total


def _size(f: SourceFile) -> int:
    try:
        return os.path.getsize(f.path)
    except OSError:
        return 0
