"""Where text comes from: named sources (built-in or downloadable with a checksum) and paths.

`read_text(source)` gives the raw text and the SHA-1 of the source bytes. A downloadable
source is looked up in `$RNNKIT_DATA`, then in the per-user cache (`$XDG_CACHE_HOME/rnnkit`
or `~/.cache/rnnkit`), and only then downloaded, once, into the cache with its SHA-1
checked; a mismatching file is never used. `RNNKIT_OFFLINE=1` forbids the download.
A local path is a UTF-8 text file or a folder of `.txt` files read in sorted order.

The checks on local text live here once, for `read_text` and for the streaming
`rnnkit.text.prepared`: `local_files` (which files a path names), `require_text` (not
empty), `check_encoding_errors` and `decode_piece` (NUL bytes, UTF-8 with the byte offset).
A file that cannot be read (no permission, gone) or a cache that cannot be written (full,
read-only) is a one-line `StorageError` naming the path (`rnnkit.checkpoint.storage_errors`).
"""

from __future__ import annotations

import codecs
import hashlib
import io
import os
import sys
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from rnnkit.config.fields import EncodingErrors
from rnnkit.errors import DataError
from rnnkit.storage import storage_errors, write_atomic

ENCODING_ERRORS = ("strict", "replace", "ignore")
DOWNLOAD_TIMEOUT_S = 60


@dataclass(frozen=True)
class RemoteFile:
    """A downloadable source: a file at a URL with a pinned SHA-1 (of the file itself)."""

    name: str
    description: str
    filename: str
    url: str
    sha1: str
    member: str | None = None  # the text file inside a zip archive


REMOTE: dict[str, RemoteFile] = {
    "timemachine": RemoteFile(
        name="timemachine",
        description="H. G. Wells, The Time Machine (d2l's copy, 179 KB of English)",
        filename="timemachine.txt",
        url="http://d2l-data.s3-accelerate.amazonaws.com/timemachine.txt",
        sha1="090b5e7e70c295757f55df93cb0a180b9691891a",
    ),
    "jaychou": RemoteFile(
        name="jaychou",
        description="Jay Chou lyrics (Dive-into-DL-PyTorch, 63,282 Chinese characters)",
        filename="jaychou_lyrics.txt.zip",
        url=(
            "https://raw.githubusercontent.com/ShusenTang/Dive-into-DL-PyTorch/"
            "master/data/jaychou_lyrics.txt.zip"
        ),
        sha1="9529987e701a4f37048ab778270a5dde9a762a0b",
        member="jaychou_lyrics.txt",
    ),
    "tinyshakespeare": RemoteFile(
        name="tinyshakespeare",
        description="Tiny Shakespeare (karpathy/char-rnn, 1.1 MB of English verse and dialogue)",
        filename="tinyshakespeare.txt",
        url=(
            "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/"
            "tinyshakespeare/input.txt"
        ),
        sha1="04486597058d11dcc2c556b1d0433891eb639d2e",
    ),
}
BUILTIN = ("python-docs",)
PYTHON_DOCS_DESCRIPTION = "CPython reference docs shipped with Python (pydoc_data.topics)"


def source_names() -> list[str]:
    """The names accepted as `source`, besides local paths."""
    return [*BUILTIN, *REMOTE]


# --- locating and downloading ----------------------------------------------------------


def data_dir() -> Path | None:
    """The folder named by `$RNNKIT_DATA`, if set."""
    value = os.environ.get("RNNKIT_DATA", "").strip()
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    """The per-user download cache: `$XDG_CACHE_HOME/rnnkit` or `~/.cache/rnnkit`."""
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".cache") / "rnnkit"


def _read_bytes(path: Path) -> bytes:
    """The bytes of a file; a failure (no permission, gone) is a one-line `StorageError`."""
    with storage_errors(path, "read"):
        return path.read_bytes()


def _sha1(data: bytes) -> str:
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


def _missing_message(remote: RemoteFile, why: str) -> str:
    return (
        f"{remote.name}: no local copy of {remote.filename} and {why}; download it from "
        f"{remote.url} (sha1 {remote.sha1}) into a folder and set RNNKIT_DATA to that folder"
    )


def _download(remote: RemoteFile, dest: Path) -> bytes:
    """Fetch `remote.url`, check its SHA-1, then write it to `dest` atomically."""
    if os.environ.get("RNNKIT_OFFLINE", "").strip() not in ("", "0"):
        raise DataError(_missing_message(remote, "RNNKIT_OFFLINE forbids downloading"))
    try:
        with urllib.request.urlopen(remote.url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            data = response.read()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataError(_missing_message(remote, f"the download failed ({reason})")) from exc
    got = _sha1(data)
    if got != remote.sha1:
        raise DataError(
            f"{remote.name}: the download from {remote.url} has sha1 {got}, expected "
            f"{remote.sha1}; it was discarded: retry later, or supply a verified "
            f"{remote.filename} through RNNKIT_DATA"
        )
    then = f"or set XDG_CACHE_HOME to a writable folder, or put {remote.filename} in RNNKIT_DATA"
    write_atomic(dest, data, then)
    return data


def fetch(name: str) -> tuple[bytes, Path]:
    """The verified bytes of a downloadable source and the file they came from.

    Looks in `$RNNKIT_DATA`, then the cache, then downloads into the cache.
    """
    remote = REMOTE[name]
    folder = data_dir()
    if folder is not None and (folder / remote.filename).is_file():
        path = folder / remote.filename
        data = _read_bytes(path)
        if _sha1(data) != remote.sha1:
            raise DataError(
                f"{path} has sha1 {_sha1(data)}, expected {remote.sha1}; replace it with "
                f"the file from {remote.url}"
            )
        return data, path
    path = cache_dir() / remote.filename
    if path.is_file():
        data = _read_bytes(path)
        if _sha1(data) == remote.sha1:
            return data, path
        # A corrupt or stale cached copy is never used: download a fresh one over it.
    return _download(remote, path), path


def describe_datasets() -> list[tuple[str, str, str]]:
    """`(name, description, where it is found or would be found)` for each named source."""
    version = ".".join(map(str, sys.version_info[:3]))
    rows = [("python-docs", PYTHON_DOCS_DESCRIPTION, f"built in (Python {version}); offline")]
    folder = data_dir()
    for remote in REMOTE.values():
        cached = cache_dir() / remote.filename
        if folder is not None and (folder / remote.filename).is_file():
            where = f"found in RNNKIT_DATA: {folder / remote.filename}"
        elif cached.is_file():
            where = f"cached: {cached}"
        else:
            where = (
                f"not found; downloaded on first use from {remote.url} (sha1 {remote.sha1}) "
                f"into {cached}, or put {remote.filename} in $RNNKIT_DATA"
            )
        rows.append((remote.name, remote.description, where))
    return rows


# --- reading text -----------------------------------------------------------------------


def check_encoding_errors(encoding_errors: str) -> None:
    """Refuse an `encoding_errors` value other than `strict`, `replace` or `ignore`."""
    if encoding_errors not in ENCODING_ERRORS:
        raise DataError(
            f"unknown encoding_errors {encoding_errors!r}; use one of {', '.join(ENCODING_ERRORS)}"
        )


def require_text(size: int, origin: str) -> None:
    """Refuse an empty file (`size` bytes), naming `origin`."""
    if size == 0:
        raise DataError(f"{origin} is empty; give a file with text in it")


def decode_piece(data: bytes, origin: str, encoding_errors: EncodingErrors, offset: int = 0) -> str:
    """Decode UTF-8 bytes that start `offset` bytes into `origin`, refusing NUL bytes.

    A piece is a whole file or a chunk of one cut on a character boundary; at offset 0 a
    leading byte-order mark is dropped. An error names `origin` and the byte offset in it.
    """
    if b"\x00" in data:
        raise DataError(
            f"{origin} contains NUL bytes, so it looks binary (or UTF-16), not UTF-8 text; "
            "give a UTF-8 text file"
        )
    start = len(codecs.BOM_UTF8) if offset == 0 and data.startswith(codecs.BOM_UTF8) else 0
    try:
        return str(memoryview(data)[start:], "utf-8", encoding_errors)  # a view: no copy
    except UnicodeDecodeError as exc:
        at = start + exc.start
        raise DataError(
            f"{origin} is not valid UTF-8 at byte offset {offset + at} ({data[at : at + 4]!r}); "
            "convert it to UTF-8 or read it with data.encoding_errors = replace"
        ) from None


def decode_utf8(data: bytes, origin: str, encoding_errors: EncodingErrors = "strict") -> str:
    """Decode a whole UTF-8 file (a leading byte-order mark is dropped), naming `origin`."""
    check_encoding_errors(encoding_errors)
    require_text(len(data), origin)
    return decode_piece(data, origin, encoding_errors)


def _python_docs() -> tuple[str, str]:
    try:
        from pydoc_data.topics import topics
    except ImportError as exc:  # some distributions split pydoc_data off
        raise DataError(
            "python-docs: this Python has no pydoc_data module; install the full standard "
            "library (e.g. the python3-doc package) or pick another source"
        ) from exc
    text = "\n\n".join(topics[key].rstrip("\n") for key in sorted(topics)) + "\n"
    return text, _sha1(text.encode("utf-8"))


def _read_remote(name: str, encoding_errors: EncodingErrors) -> tuple[str, str]:
    remote = REMOTE[name]
    data, path = fetch(name)
    sha1 = _sha1(data)
    if remote.member is not None:
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                data = archive.read(remote.member)
        except (zipfile.BadZipFile, KeyError) as exc:
            raise DataError(f"{path}: cannot read {remote.member} from it ({exc})") from exc
        origin = f"{path}!{remote.member}"
    else:
        origin = str(path)
    return decode_utf8(data, origin, encoding_errors), sha1


def local_files(path: Path) -> list[Path]:
    """The files a local source names: the file itself, or a folder's `.txt` files
    (recursively, in sorted order of their relative paths)."""
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(
            (p for p in path.rglob("*.txt") if p.is_file()),
            key=lambda p: p.relative_to(path).as_posix(),
        )
        if not files:
            raise DataError(f"folder {path} holds no .txt files; add some or give a file")
        return files
    raise DataError(
        f"unknown source {str(path)!r}: not a named corpus ({', '.join(source_names())}) "
        "nor an existing file or folder; check the path or run `rnnkit datasets`"
    )


def _read_path(path: Path, encoding_errors: EncodingErrors) -> tuple[str, str]:
    files = local_files(path)
    joined = path.is_dir()
    digest = hashlib.sha1(usedforsecurity=False)
    parts = []
    for file in files:
        data = _read_bytes(file)
        digest.update(data)
        text = decode_utf8(data, str(file), encoding_errors)
        # Folder files are joined so that the last line of one never runs into the next.
        parts.append(text + "\n" if joined and not text.endswith(("\n", "\r")) else text)
    return "".join(parts), digest.hexdigest()


def read_text(
    source: str | os.PathLike[str], encoding_errors: EncodingErrors = "strict"
) -> tuple[str, str]:
    """The raw text of a source and the SHA-1 of its bytes.

    Args:
        source: a named source (`python-docs`, `timemachine`, `jaychou`), a UTF-8 text
            file, or a folder whose `.txt` files (recursively) are read in sorted order.
        encoding_errors: `strict` rejects invalid UTF-8 naming the byte offset;
            `replace` substitutes U+FFFD; `ignore` drops the bad bytes.

    Returns:
        `(text, sha1)`; the SHA-1 is of the source bytes (the zip archive for `jaychou`,
        the UTF-8 text for `python-docs`, the files concatenated for a folder).
    """
    name = os.fspath(source)
    if name == "python-docs":
        return _python_docs()
    if name in REMOTE:
        return _read_remote(name, encoding_errors)
    return _read_path(Path(name).expanduser(), encoding_errors)
