"""Prepared corpora: a corpus of any size tokenised once, streaming, into memory-mapped files.

`rnnkit prepare SOURCE --out DIR` writes::

    DIR/train.npy  val.npy  test.npy    token ids, `.npy` files read with np.load(mmap_mode="r")
    DIR/vocab.json                      the Vocab, built on the training part
    DIR/manifest.json                   written last, atomically: source, sha1, counts, dtype

The source is read a bounded chunk at a time, so memory grows with the vocabulary, never
with the corpus. Three passes:

1. count: every token (the total fixes where train / val / test are cut) with its count,
   remembering where each chunk started;
2. tail: from the chunk where the training part ends, count the tokens after it and take
   them off, leaving the training part's counts (the vocabulary is built on those alone);
3. encode: ids go to the three split files through plain buffered writes (a writable
   mapping would count its dirty pages against the process).

Chunks are cut where neither decoding nor normalisation can tell: after a line break; else,
on a line longer than a chunk, between two ASCII letters (`d2l`) or before an ASCII
character (other modes). At word level the text after the chunk's last whitespace boundary
(a word cut in two, or trailing whitespace that may hold line-break tokens) is carried into
the next chunk, so a word pattern whose tokens hold no whitespace (the default, and
`WHITESPACE_REGEX`) splits every chunk as it splits the whole text. The `auto` choices of
the word tokenizer are made from the first lines, as `load_corpus` makes them. So the ids
equal those of `load_corpus` with the same settings, one for one (a test checks it).

A folder with split files but no `manifest.json` is a prepare that never finished (killed
midway): `load_prepared` refuses it, and `prepare` overwrites it. A prepare that cannot
write (no space, no permission, read-only) or read its source (a file gone) stops with one
`StorageError` line naming the file; on a failed write the unfinished files are removed,
which gives a full disk its space back.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import repeat
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from rnnkit._version import __version__
from rnnkit.config.fields import VocabRule
from rnnkit.errors import DataError, StorageError
from rnnkit.storage import storage_errors, write_atomic
from rnnkit.text.corpora import (
    Corpus,
    compact_dtype,
    load_corpus,
    require_tokens,
    split_bounds,
    vocab_cap,
)
from rnnkit.text.sources import (
    REMOTE,
    EncodingErrors,
    check_encoding_errors,
    decode_piece,
    local_files,
    read_text,
    require_text,
)
from rnnkit.text.tokenize import (
    NORMALIZERS,
    SAMPLE_LINES,
    WHITESPACE_REGEX,
    WordTokenizer,
    count_chars,
    normalize_text,
    resolve_word_tokenizer,
    sample_of,
)
from rnnkit.text.vocab import Vocab

if TYPE_CHECKING:
    from rnnkit.config import DataConfig

FORMAT = "rnnkit.prepared"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
VOCAB_FILE = "vocab.json"
SPLITS = ("train", "val", "test")
SPLIT_FILES = {name: f"{name}.npy" for name in SPLITS}
CHUNK_BYTES = 4 << 20  # bytes read per chunk: the text and tokens in memory scale with it

_BOM = b"\xef\xbb\xbf"
_ASCII_LETTER = np.zeros(256, dtype=bool)
_ASCII_LETTER[ord("A") : ord("Z") + 1] = True
_ASCII_LETTER[ord("a") : ord("z") + 1] = True

Tokens = str | list[str]  # a chunk's tokens: its text (char level) or its words


@dataclass(frozen=True)
class _Part:
    """One input of a source: a file, or the text of a named corpus held in memory."""

    name: str
    size: int
    path: Path | None = None
    data: bytes | None = None
    newline_at_end: bool = False  # folder files are joined so lines never run together

    def open(self) -> IO[bytes]:
        return self.path.open("rb") if self.path is not None else io.BytesIO(self.data or b"")


@dataclass(frozen=True)
class _Mark:
    """Where a chunk starts, with what tokenising needs to continue from there."""

    part: int
    offset: int  # bytes into the part
    tokens_before: int
    carry: str  # the start of a word cut by the previous chunk (word level)


def _parts(source: str | os.PathLike[str], errors: EncodingErrors) -> tuple[list[_Part], str]:
    """The inputs of a source and, for named corpora, their SHA-1 ("" = hash while reading)."""
    name = os.fspath(source)
    if name == "python-docs" or name in REMOTE:  # small: read whole, as `read_text` does
        text, sha1 = read_text(name, errors)
        data = text.encode("utf-8")
        return [_Part(name, len(data), data=data)], sha1
    path = Path(name).expanduser()
    joined = path.is_dir()  # folder files are joined so lines never run together
    with storage_errors(path, "read"):
        parts = [
            _Part(str(p), p.stat().st_size, path=p, newline_at_end=joined)
            for p in local_files(path)
        ]
    return parts, ""


def _safe_cut(buf: bytes, normalize: str) -> int:
    """The last position where `buf` may be cut unseen by decoding and normalising; 0: none."""
    cut = max(buf.rfind(b"\n"), buf.rfind(b"\r")) + 1
    if cut > 0:
        return cut
    codes = np.frombuffer(buf, dtype=np.uint8)  # (n,)
    if normalize == "d2l":  # between two letters the gap is empty: no space either way
        ok = _ASCII_LETTER[codes[:-1]] & _ASCII_LETTER[codes[1:]]  # (n-1,) cut before i+1
    else:  # an ASCII character starts there; NFC never composes it with what precedes
        ok = codes[1:] < 0x80
    hits = np.flatnonzero(ok)
    return int(hits[-1]) + 1 if hits.size else 0


def _text_chunks(
    parts: Sequence[_Part],
    start: tuple[int, int],
    normalize: str,
    errors: EncodingErrors,
    chunk_bytes: int,
    digest: Any = None,
    bar: tqdm | None = None,
) -> Iterator[tuple[int, int, str]]:
    """Yield `(part, byte offset, decoded text)` chunks from `start`, each cut safely."""
    for index in range(start[0], len(parts)):
        part = parts[index]
        offset = start[1] if index == start[0] else 0
        require_text(part.size, part.name)
        with storage_errors(part.name, "read"), part.open() as fh:
            last_byte = b""  # the part's last byte so far: does its text end a line?
            if offset > 0:
                fh.seek(offset - 1)
                last_byte = fh.read(1)
            buf = b""
            while True:
                block = fh.read(chunk_bytes)
                eof = not block
                if digest is not None:
                    digest.update(block)
                if bar is not None:
                    bar.update(len(block))
                if offset == 0 and not buf and block.startswith(_BOM):
                    block, offset = block[len(_BOM) :], len(_BOM)
                buf = buf + block if buf else block
                cut = len(buf) if eof else _safe_cut(buf, normalize)
                if cut == 0 and not eof:
                    continue  # a line longer than the chunk with no safe cut: read on
                piece, buf = buf[:cut], buf[cut:]
                text = decode_piece(piece, part.name, errors, offset)
                if piece:
                    last_byte = piece[-1:]
                if eof and part.newline_at_end and last_byte not in (b"\n", b"\r"):
                    text += "\n"
                if text:
                    yield index, offset, text
                offset += cut
                if eof:
                    break


def _token_chunks(
    parts: Sequence[_Part],
    opts: dict[str, Any],
    start: _Mark | None = None,
    chunk_bytes: int = CHUNK_BYTES,
    digest: Any = None,
    bar: tqdm | None = None,
) -> Iterator[tuple[_Mark | None, Tokens]]:
    """Yield `(mark, tokens)` per chunk from `start` (the beginning when None).

    `mark` says where the chunk began (None for the last word, flushed at the end); the
    tokens are the normalised text at char level, a list of words at word level.
    """
    mark = start or _Mark(0, 0, 0, "")
    count, carry = mark.tokens_before, mark.carry
    chunks = _text_chunks(
        parts,
        (mark.part, mark.offset),
        opts["normalize"],
        opts["encoding_errors"],
        chunk_bytes,
        digest,
        bar,
    )
    for part, offset, raw in chunks:
        here = _Mark(part, offset, count, carry)
        text = normalize_text(raw, opts["normalize"], nfc=opts["nfc"])
        if opts["level"] == "char":
            count += len(text)
            yield here, text
            continue
        words, carry = _split_words(opts.get("tokenizer"), carry + text)
        count += len(words)
        yield here, words
    if carry:
        tokenizer = opts.get("tokenizer")
        yield None, [carry] if tokenizer is None else tokenizer.tokenize(carry)


def _split_words(tokenizer: WordTokenizer | None, text: str) -> tuple[list[str], str]:
    """The words of a chunk's `text` (None: split at whitespace) and the tail carried into
    the next chunk: after the last whitespace when the text ends inside a word, else its
    trailing whitespace (a blank line or line-break tokens may go on in the next chunk)."""
    if tokenizer is None:
        words = text.split()
        carry = words.pop() if words and not text[-1:].isspace() else ""
        return words, carry
    if text[-1:].isspace():
        end = len(text.rstrip())
    else:  # rsplit scans from the end: the last word's length, not the chunk's
        end = len(text) - len(text.rsplit(maxsplit=1)[-1]) if text else 0
    return tokenizer.tokenize(text[:end]), text[end:]


def _count(tokens: Tokens, counts: Counter[str]) -> None:
    """Add the counts of `tokens` to `counts`, keeping the order of first occurrence."""
    if isinstance(tokens, str):  # vectorised: never a list of one-character strings
        for char, n in count_chars(tokens).items():
            counts[char] += n
    else:
        counts.update(tokens)


def _encode(vocab: Vocab, tokens: Tokens, dtype: type) -> np.ndarray:
    """Ids of one chunk's tokens; unknown tokens give 0. Shape: `(n,)` of `dtype`."""
    if isinstance(tokens, str):
        return vocab.encode(tokens, dtype=dtype)
    ids = map(vocab.token_to_idx.get, tokens, repeat(0))
    return np.fromiter(ids, dtype=dtype, count=len(tokens))


_AGAIN = "the unfinished files were removed; run `rnnkit prepare` again"


class _SplitWriter:
    """Appends ids to `train.npy`, `val.npy` and `test.npy`, each given its final length.

    A failed open, write or sync is a `StorageError` naming the split file."""

    def __init__(self, folder: Path, sizes: Sequence[int], dtype: type) -> None:
        self.ends = np.cumsum(sizes).tolist()  # global end position of each split
        self.pos = 0  # ids written
        self.seen = 0  # ids given (more than written if the source grew)
        self.zeros = [0, 0, 0]  # `<unk>` ids written to each split
        self.paths = [folder / SPLIT_FILES[name] for name in SPLITS]
        self.files: list[IO[bytes]] = []
        try:
            for path, size in zip(self.paths, sizes, strict=True):
                with storage_errors(path, "write", _AGAIN):
                    fh = path.open("wb")
                    self.files.append(fh)
                    header = {
                        "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                        "fortran_order": False,
                        "shape": (int(size),),
                    }
                    np.lib.format.write_array_header_1_0(fh, header)
        except BaseException:
            self.close(sync=False)
            raise

    def write(self, ids: np.ndarray) -> None:
        """Append the next ids, each to the split its global position falls in."""
        self.seen += ids.size
        lo = 0
        for k, end in enumerate(self.ends):
            take = min(ids.size - lo, end - self.pos)
            if take <= 0:
                continue
            piece = ids[lo : lo + take]
            with storage_errors(self.paths[k], "write", _AGAIN):
                self.files[k].write(piece.tobytes())
            self.zeros[k] += int(np.count_nonzero(piece == 0))
            self.pos += take
            lo += take

    def close(self, sync: bool = True) -> None:
        """Flush, sync (unless `sync` is False) and close every file, even after a failure;
        the first failure is raised once all are closed."""
        failure: BaseException | None = None
        for path, fh in zip(self.paths, self.files, strict=False):
            try:
                with storage_errors(path, "write", _AGAIN):
                    try:
                        if sync:
                            fh.flush()
                            os.fsync(fh.fileno())
                    finally:
                        fh.close()
            except StorageError as exc:
                failure = failure or exc
        self.files = []
        if failure is not None and sync:
            raise failure


def _ours(path: Path) -> bool:
    """Whether a file in an output folder is one `prepare` writes (or its temporary file)."""
    name = path.name
    known = (MANIFEST, VOCAB_FILE, *SPLIT_FILES.values())
    return name in known or any(name.startswith(f".{k}.") for k in known)


def _claim(out: Path, force: bool) -> None:
    """Make `out` ready: new, empty, an unfinished prepare, or (with `force`) a finished one."""
    if out.exists() and not out.is_dir():
        raise DataError(f"output folder {out} is a file; give a folder path")
    if (out / MANIFEST).exists() and not force:
        raise DataError(
            f"{out} already holds a prepared corpus; replace it (force) or choose "
            "another output folder"
        )
    if out.is_dir():
        foreign = sorted(p.name for p in out.iterdir() if not _ours(p))
        if foreign:
            raise DataError(
                f"{out} holds other files ({', '.join(foreign[:3])}); give a new or empty "
                "output folder"
            )
        (out / MANIFEST).unlink(missing_ok=True)  # first: a crash from here on leaves no manifest
        for p in out.iterdir():
            p.unlink()
    out.mkdir(parents=True, exist_ok=True)


@contextmanager
def _discarded_on_failure(out: Path) -> Iterator[None]:
    """On a `StorageError` in the block, remove what the unfinished prepare wrote in `out`
    (best effort), so a full disk gets its space back; the error goes on."""
    try:
        yield
    except StorageError:
        for name in (MANIFEST, VOCAB_FILE, *SPLIT_FILES.values()):
            with suppress(OSError):
                (out / name).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class _Reader:
    """The source as the passes of `prepare` read it, chunk by chunk, with a progress bar."""

    parts: list[_Part]
    opts: dict[str, Any]  # level, normalize, nfc, encoding_errors
    chunk_bytes: int
    show: bool  # progress bars on stderr

    @property
    def total_bytes(self) -> int:
        return sum(p.size for p in self.parts)

    def chunks(
        self, desc: str, start: _Mark | None = None, digest: Any = None
    ) -> Iterator[tuple[_Mark | None, Tokens]]:
        """`_token_chunks` from `start` (the beginning when None), under a bar named `desc`."""
        done = 0 if start is None else sum(p.size for p in self.parts[: start.part]) + start.offset
        with tqdm(
            total=self.total_bytes - done,
            desc=desc,
            unit="B",
            unit_scale=True,
            disable=not self.show,
            leave=False,
            file=sys.stderr,
        ) as bar:
            yield from _token_chunks(self.parts, self.opts, start, self.chunk_bytes, digest, bar)


def _sample_text(
    parts: Sequence[_Part], normalize: str, nfc: bool, errors: EncodingErrors, chunk_bytes: int
) -> str:
    """The normalised first `SAMPLE_LINES` lines of the source (`sample_of` the whole text)."""
    pieces: list[str] = []
    lines = 0
    for _, _, raw in _text_chunks(parts, (0, 0), normalize, errors, chunk_bytes):
        text = normalize_text(raw, normalize, nfc=nfc)  # type: ignore[arg-type]
        pieces.append(text)
        lines += text.count("\n")
        if lines >= SAMPLE_LINES:
            break
    return sample_of("".join(pieces))


def _count_all(reader: _Reader, digest: Any) -> tuple[Counter[str], list[_Mark], int]:
    """Pass 1: count every token, remembering where each chunk starts (and hash the source
    into `digest` unless it is None). Returns the counts, the marks and the token count."""
    counts: Counter[str] = Counter()
    marks: list[_Mark] = []
    num_tokens = 0
    for mark, tokens in reader.chunks("count", digest=digest):
        if mark is not None:
            marks.append(mark)
        _count(tokens, counts)
        num_tokens += len(tokens)
    return counts, marks, num_tokens


def _uncount_tail(
    reader: _Reader, counts: Counter[str], marks: list[_Mark], train_end: int
) -> None:
    """Pass 2: take the tokens from position `train_end` on off `counts`, reading from the
    last chunk that starts inside the training part."""
    start = max((m for m in marks if m.tokens_before <= train_end), key=lambda m: m.tokens_before)
    pos = start.tokens_before
    for _, tokens in reader.chunks("vocab", start):
        skip = min(max(train_end - pos, 0), len(tokens))
        pos += len(tokens)
        tail: Counter[str] = Counter()
        _count(tokens[skip:], tail)
        for token, n in tail.items():
            counts[token] -= n


def _encode_all(
    reader: _Reader, out: Path, vocab: Vocab, sizes: list[int], dtype: type
) -> _SplitWriter:
    """Pass 3: encode every token into the split files of `out`; returns the closed writer."""
    writer = _SplitWriter(out, sizes, dtype)
    try:
        for _, tokens in reader.chunks("encode"):
            writer.write(_encode(vocab, tokens, dtype))
    except BaseException:
        writer.close(sync=False)
        raise
    writer.close()
    return writer


def _check_settings(
    level: str,
    normalize: str,
    encoding_errors: EncodingErrors,
    chunk_bytes: int,
    max_tokens: int,
    split: Sequence[float],
    tokenizer: WordTokenizer | None,
) -> None:
    """Refuse bad settings of `prepare` before anything is read or written."""
    if level not in ("char", "word"):
        raise DataError(f"unknown token level {level!r}; use 'char' or 'word'")
    if normalize not in NORMALIZERS:
        raise DataError(
            f"unknown normalize mode {normalize!r}; use one of {', '.join(NORMALIZERS)}"
        )
    check_encoding_errors(encoding_errors)
    if chunk_bytes < 16:
        raise DataError(f"chunk_bytes must be at least 16, got {chunk_bytes}")
    split_bounds(0, max_tokens, split)  # bad split / max_tokens fail before any reading
    if tokenizer is not None and level != "word":
        raise DataError("a tokenizer is for level='word'; drop it or prepare words")


@dataclass(frozen=True)
class _Counted:
    """What passes 1 and 2 found: the source's hash, its tokens, the split sizes, the vocab."""

    sha1: str
    num_tokens: int
    sizes: list[int]  # tokens of train, val and test
    vocab: Vocab
    max_size: int  # the cap the vocabulary was built with (the word rule's choice or as given)


def _count_and_build_vocab(
    reader: _Reader,
    name: str,
    sha1: str,
    max_tokens: int,
    split: Sequence[float],
    min_freq: int,
    max_size: int,
    vocab_rule: VocabRule,
) -> _Counted:
    """Passes 1 and 2: count the tokens (hashing the source unless `sha1` is known), cut
    the splits, and build the vocabulary on the training part's counts."""
    level, normalize = reader.opts["level"], reader.opts["normalize"]
    digest = None if sha1 else hashlib.sha1(usedforsecurity=False)
    counts, marks, num_tokens = _count_all(reader, digest)
    sha1 = sha1 if digest is None else digest.hexdigest()
    bounds = split_bounds(num_tokens, max_tokens, split)
    require_tokens(name, level, normalize, num_tokens, bounds[1], split)
    if bounds[1] < num_tokens:
        _uncount_tail(reader, counts, marks, bounds[1])
    max_size = vocab_cap(vocab_rule, level, min_freq, max_size, counts)
    vocab = Vocab.build(counts, min_freq=min_freq, max_size=max_size or None)
    sizes = [bounds[1], bounds[2] - bounds[1], bounds[3] - bounds[2]]
    return _Counted(sha1, num_tokens, sizes, vocab, max_size)


def _write_splits(
    reader: _Reader, out: Path, name: str, counted: _Counted, dtype: type
) -> list[int]:
    """Pass 3, then the vocabulary file; returns the `<unk>` ids written to each split."""
    with _discarded_on_failure(out):
        writer = _encode_all(reader, out, counted.vocab, counted.sizes, dtype)
    if writer.seen != counted.num_tokens:  # the source changed between the passes
        raise DataError(
            f"{name} gave {counted.num_tokens} tokens when counted but {writer.seen} when "
            "encoded; was it modified meanwhile? prepare it again"
        )
    with _discarded_on_failure(out):
        write_atomic(out / VOCAB_FILE, counted.vocab.to_json() + "\n")
    return writer.zeros


def _manifest(
    name: str,
    reader: _Reader,
    counted: _Counted,
    dtype: type,
    zeros: list[int],
    min_freq: int,
    max_tokens: int,
    split: Sequence[float],
) -> dict[str, Any]:
    """The manifest of a finished prepare: how it was made and what it holds."""
    opts, sizes = reader.opts, counted.sizes
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "source": name,
        "sha1": counted.sha1,
        "source_bytes": reader.total_bytes,
        "level": opts["level"],
        "normalize": opts["normalize"],
        "nfc": opts["nfc"],
        "encoding_errors": opts["encoding_errors"],
        **(opts["tokenizer"] or WordTokenizer(WHITESPACE_REGEX, "drop")).to_dict(),
        "min_freq": min_freq,
        "max_size": counted.max_size,
        "max_tokens": max_tokens,
        "split": [float(s) for s in split],
        "num_tokens": counted.num_tokens,
        "vocab_size": len(counted.vocab),
        "dtype": np.dtype(dtype).name,
        "splits": {
            name_: {"file": SPLIT_FILES[name_], "tokens": int(n)}
            for name_, n in zip(SPLITS, sizes, strict=True)
        },
        "unk_share": {
            k: zeros[i] / sizes[i] if sizes[i] else 0.0 for i, k in ((1, "val"), (2, "test"))
        },
        "vocab_file": VOCAB_FILE,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "rnnkit_version": __version__,
    }


def prepare(
    data: DataConfig,
    out: str | os.PathLike[str],
    force: bool = False,
    quiet: bool = False,
    chunk_bytes: int = CHUNK_BYTES,
) -> dict[str, Any]:
    """Tokenise the corpus a `[data]` table describes into a prepared folder, in bounded
    memory.

    Args:
        data: the source and how it becomes tokens, read as `load_corpus` reads it
            (`source`, `level`, `normalize`, `nfc`, `encoding_errors`, the word keys,
            `min_freq`, `max_size`, `vocab`, `max_tokens`, `split`).
        out: the folder to write; new, empty, or an unfinished prepare (`force` replaces a
            finished one).
        force: replace a finished prepare in `out`.
        quiet: no progress bars (they go to stderr, and only to a terminal).
        chunk_bytes: bytes read at a time; memory use is a small multiple of it.

    Returns:
        The manifest (also written to `out/manifest.json`).
    """
    source, level, normalize, nfc = data.source, data.level, data.normalize, data.nfc
    min_freq, max_size, vocab_rule = data.min_freq, data.max_size, data.vocab
    max_tokens, split, encoding_errors = data.max_tokens, tuple(data.split), data.encoding_errors
    tokenizer = WordTokenizer.from_data(data) if level == "word" else None
    _check_settings(level, normalize, encoding_errors, chunk_bytes, max_tokens, split, tokenizer)
    parts, sha1 = _parts(source, encoding_errors)
    name = os.fspath(source)
    if tokenizer is not None:
        sample = _sample_text(parts, normalize, nfc, encoding_errors, chunk_bytes)
        tokenizer = resolve_word_tokenizer(tokenizer, sample, name)
    out = Path(out)
    with storage_errors(out, "write"):
        _claim(out, force)
    opts = {
        "level": level,
        "normalize": normalize,
        "nfc": nfc,
        "encoding_errors": encoding_errors,
        "tokenizer": tokenizer,
    }
    reader = _Reader(parts, opts, chunk_bytes, show=not quiet and sys.stderr.isatty())
    counted = _count_and_build_vocab(
        reader, name, sha1, max_tokens, split, min_freq, max_size, vocab_rule
    )
    dtype = compact_dtype(len(counted.vocab))
    zeros = _write_splits(reader, out, name, counted, dtype)  # the manifest comes last
    manifest = _manifest(name, reader, counted, dtype, zeros, min_freq, max_tokens, split)
    with _discarded_on_failure(out):
        text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
        write_atomic(out / MANIFEST, text)
    return manifest


# --- reading a prepared folder ----------------------------------------------------------


def looks_prepared(source: str | os.PathLike[str]) -> bool:
    """Whether `source` is a folder written by `prepare`, finished or not."""
    path = Path(os.fspath(source)).expanduser()
    return path.is_dir() and any((path / n).exists() for n in (MANIFEST, *SPLIT_FILES.values()))


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a finished prepare; an unfinished one is refused."""
    folder = Path(os.fspath(folder)).expanduser()
    path = folder / MANIFEST
    if not path.is_file():
        raise DataError(
            f"{folder} holds a prepare that did not finish (no {MANIFEST}: it was interrupted "
            f"or is still running); prepare it into {folder} again"
        )
    try:
        with storage_errors(path, "read"):
            manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is not valid JSON ({exc}); prepare the corpus again") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DataError(f"{path} is not an rnnkit prepare manifest; prepare the corpus again")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise DataError(
            f"{path} has format_version {manifest.get('format_version')!r}, this rnnkit reads "
            f"{FORMAT_VERSION}; prepare the corpus again with this version"
        )
    return manifest


def _open_split(folder: Path, entry: dict[str, Any], dtype: np.dtype) -> np.ndarray:
    path = folder / entry["file"]
    expected = int(entry["tokens"])
    try:
        # A zero-length mapping is not allowed: an empty part is read as it is.
        arr = np.load(path, mmap_mode="r" if expected else None)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path} ({exc}); prepare the corpus again") from None
    if arr.ndim != 1 or arr.shape[0] != expected or arr.dtype != dtype:
        raise DataError(
            f"{path} holds {arr.shape} {arr.dtype}, the manifest says ({expected},) {dtype}; "
            "the folder was changed after preparing: prepare the corpus again"
        )
    return arr


def load_prepared(folder: str | os.PathLike[str], data: DataConfig | None = None) -> Corpus:
    """A prepared folder as a `Corpus` whose parts are read-only memory maps.

    Args:
        folder: a folder written by `prepare`.
        data: a data config to bring in line with the folder: its `level`, `normalize`,
            `max_tokens`, `split`, vocabulary and word tokenizer settings were fixed when
            preparing, so they replace the config's (the run then records how its data
            really was made; a folder prepared before the word tokenizer was split at
            whitespace, `word_regex = "\\S+"`).

    Returns:
        The corpus; `train`, `val` and `test` are `np.memmap` arrays, read on demand.
    """
    path = Path(os.fspath(folder)).expanduser()
    manifest = read_manifest(path)
    try:
        vocab = Vocab.from_json((path / manifest["vocab_file"]).read_text(encoding="utf-8"))
        dtype = np.dtype(manifest["dtype"])
        train, val, test = (_open_split(path, manifest["splits"][k], dtype) for k in SPLITS)
    except (KeyError, TypeError, OSError) as exc:
        raise DataError(f"{path}: incomplete manifest or files ({exc}); prepare it again") from None
    if len(vocab) != manifest["vocab_size"]:
        raise DataError(
            f"{path / manifest['vocab_file']} has {len(vocab)} tokens, the manifest says "
            f"{manifest['vocab_size']}; prepare the corpus again"
        )
    if data is not None:
        data.level, data.normalize = manifest["level"], manifest["normalize"]
        data.max_tokens, data.split = manifest["max_tokens"], list(manifest["split"])
        data.min_freq = manifest.get("min_freq", 1)
        data.max_size = manifest.get("max_size", 0)
        data.nfc = manifest.get("nfc", False)
        data.encoding_errors = manifest.get("encoding_errors", "strict")
        # Before the word tokenizer, prepared words were split at whitespace.
        data.word_regex = manifest.get("word_regex", WHITESPACE_REGEX)
        data.newlines = manifest.get("newlines", "drop")
        data.lowercase = manifest.get("lowercase", False)
        data.vocab = "all"
    return Corpus(
        vocab=vocab,
        train=train,
        val=val,
        test=test,
        name=str(path),
        sha1=manifest["sha1"],
        level=manifest["level"],
        normalize=manifest["normalize"],
        num_tokens=int(manifest["num_tokens"]),
        unk_share=dict(manifest["unk_share"]),
        tokenizer=WordTokenizer(
            manifest.get("word_regex", WHITESPACE_REGEX),
            manifest.get("newlines", "drop"),
            manifest.get("lowercase", False),
        )
        if manifest["level"] == "word"
        else None,
    )


def corpus_for(data: DataConfig) -> Corpus:
    """The corpus a `[data]` table names.

    A folder written by `prepare` is memory-mapped, never read whole (its settings replace
    the table's, see `load_prepared`); anything else is read by `load_corpus`. The word
    tokenizer's `auto` choices and the vocabulary size the word rule chose are written
    back into `data`, so the run's config says how its data was made.
    """
    if looks_prepared(data.source):
        return load_prepared(data.source, data=data)
    corpus = load_corpus(data)
    if corpus.tokenizer is not None:  # the choices made for `auto`, recorded with the run
        data.word_regex = corpus.tokenizer.word_regex
        data.newlines = corpus.tokenizer.newlines
    if corpus.max_size:
        data.max_size = corpus.max_size
    return corpus
