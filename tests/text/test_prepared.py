"""Prepared corpora: the streaming prepare equals `load_corpus`, loads memory-mapped, trains,
and an unfinished prepare is never used."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import data_table
from rnnkit.cli import main
from rnnkit.config import RunConfig, apply_overrides
from rnnkit.errors import RnnkitError
from rnnkit.lm.train import corpus_for, train_lm
from rnnkit.text import prepared
from rnnkit.text.corpora import load_corpus
from rnnkit.text.prepared import load_prepared, looks_prepared, prepare, read_manifest
from rnnkit.text.sources import data_dir

# A byte-order mark, CRLF and CR line breaks, non-ASCII letters, a long line, no final newline.
TEXT = (
    "\ufeffThe Time Traveller (for so it will be convenient to speak of him)\r\n"
    "was expounding a recondite matter to us.  His grey eyes shone\rand twinkled.\n\n"
    "Ça va? Él dijo: naïve café, 東京 と 大阪.\n"
    + "averyveryverylongwordwithoutanybreak " * 8
    + "\n"
    + "the fire burned brightly, and the soft radiance of the incandescent lights\n" * 6
    + "last line, no newline"
)


def same_corpus(a: object, b: object) -> bool:
    return (
        a.vocab == b.vocab
        and all(np.array_equal(getattr(a, k), getattr(b, k)) for k in ("train", "val", "test"))
        and (a.sha1, a.num_tokens, a.unk_share) == (b.sha1, b.num_tokens, b.unk_share)
    )


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "text.txt"
    path.write_bytes(TEXT.encode("utf-8"))
    return path


@pytest.mark.parametrize("level", ["char", "word"])
@pytest.mark.parametrize("normalize", ["none", "d2l", "newlines"])
def test_prepare_equals_load_corpus_whatever_the_chunk_size(
    source: Path, tmp_path: Path, level: str, normalize: str
) -> None:
    reference = load_corpus(data_table(source, level=level, normalize=normalize))
    # Chunks of 16 and 61 bytes cut inside lines and words (the fall-back cuts and the
    # carried word); the default reads the file in one chunk.
    for chunk in (16, 61, prepared.CHUNK_BYTES):
        out = tmp_path / f"out-{chunk}"
        prepare(
            data_table(source, level=level, normalize=normalize), out, chunk_bytes=chunk, quiet=True
        )
        assert same_corpus(load_prepared(out), reference), chunk


def test_prepare_folder_max_tokens_min_freq(tmp_path: Path) -> None:
    folder = tmp_path / "books"
    (folder / "b").mkdir(parents=True)
    (folder / "a.txt").write_text("one two three\nfour five", encoding="utf-8")  # no newline
    (folder / "b" / "c.txt").write_text("six seven two two\n" * 20, encoding="utf-8")
    opts = {"level": "word", "max_tokens": 30}
    out = tmp_path / "out"
    prepare(data_table(folder, min_freq=2, **opts), out, chunk_bytes=20, quiet=True)
    assert same_corpus(load_prepared(out), load_corpus(data_table(folder, min_freq=2, **opts)))


def test_named_source_prepares(tmp_path: Path) -> None:
    folder = data_dir()
    if folder is None or not (folder / "timemachine.txt").is_file():
        pytest.skip("set RNNKIT_DATA to a folder holding timemachine.txt (../shared/data)")
    prepare(data_table("timemachine", level="word", normalize="d2l"), tmp_path / "tm", quiet=True)
    reference = load_corpus(data_table("timemachine", level="word", normalize="d2l"))
    assert same_corpus(load_prepared(tmp_path / "tm"), reference)


def test_manifest_memory_map_and_config(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    manifest = prepare(data_table(source, level="word", normalize="d2l"), out, quiet=True)
    assert manifest == read_manifest(out)
    assert {p.name for p in out.iterdir()} == {
        "manifest.json", "vocab.json", "train.npy", "val.npy", "test.npy"
    }  # fmt: skip
    assert manifest["source"] == str(source) and len(manifest["sha1"]) == 40
    assert manifest["dtype"] == "uint8" and manifest["num_tokens"] == sum(
        s["tokens"] for s in manifest["splits"].values()
    )
    cfg = RunConfig()
    apply_overrides(cfg, [f"data.source={out}"])  # default level char, normalize none
    corpus = corpus_for(cfg)
    assert isinstance(corpus.train, np.memmap) and looks_prepared(out)
    assert (cfg.data.level, cfg.data.normalize) == ("word", "d2l")  # the folder's settings win


def test_unfinished_prepare_is_refused_then_redone(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    real = prepared.write_atomic

    def killed_before_manifest(path: Path, data: str) -> Path:
        if path.name == "manifest.json":
            raise KeyboardInterrupt  # the process dies before the manifest is written
        return real(path, data)

    monkeypatch.setattr(prepared, "write_atomic", killed_before_manifest)
    with pytest.raises(KeyboardInterrupt):
        prepare(data_table(source), out, quiet=True)
    assert (out / "train.npy").is_file() and not (out / "manifest.json").exists()
    with pytest.raises(RnnkitError, match="did not finish"):
        load_prepared(out)
    cfg = RunConfig()
    apply_overrides(cfg, [f"data.source={out}"])
    with pytest.raises(RnnkitError, match="did not finish"):
        corpus_for(cfg)
    monkeypatch.undo()
    prepare(data_table(source), out, quiet=True)  # an unfinished folder is simply written again
    assert same_corpus(load_prepared(out), load_corpus(data_table(source)))


def test_refusals(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    prepare(data_table(source), out, quiet=True)
    with pytest.raises(RnnkitError, match=r"already holds a prepared corpus; replace it \(force\)"):
        prepare(data_table(source), out, quiet=True)
    prepare(data_table(source, level="word"), out, force=True, quiet=True)
    assert read_manifest(out)["level"] == "word"
    with open(out / "val.npy", "r+b") as fh:  # a damaged copy
        fh.truncate(fh.seek(0, 2) - 1)
    with pytest.raises(RnnkitError, match="prepare the corpus again"):
        load_prepared(out)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.md").write_text("keep me")
    with pytest.raises(RnnkitError, match="holds other files"):
        prepare(data_table(source), tmp_path / "mine", quiet=True)
    with pytest.raises(RnnkitError, match="training part is empty"):
        prepare(data_table(source, split=[0.0, 0.5, 0.5]), tmp_path / "x", quiet=True)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine\nbroken \xff here\n")
    with pytest.raises(RnnkitError, match="not valid UTF-8 at byte offset 12"):
        prepare(data_table(bad), tmp_path / "y", chunk_bytes=16, quiet=True)


def test_cli_prepare_then_train_equals_training_on_the_file(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "prepared"
    assert main(["prepare", str(source), "--out", str(out), "--quiet"]) == 0
    assert "train with `rnnkit train" in capsys.readouterr().out
    assert main(["prepare", str(source), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnkit: error:") and err.count("\n") == 1

    def run(src: Path, name: str) -> list[float]:
        cfg = RunConfig()
        apply_overrides(
            cfg,
            [f"data.source={src}", "data.batch_size=2", "data.num_steps=8", "model.kind=gru",
             "model.hidden_size=16", "model.embedding_dim=8", "train.epochs=1",
             "train.threads=1", "generate.every=0"],
        )  # fmt: skip
        result = train_lm(cfg, out=tmp_path / name, quiet=True, echo=lambda _: None)
        return [(r["train_loss"], r["val_loss"]) for r in result.history]

    assert run(out, "from-folder") == run(source, "from-file")  # the same ids, bit for bit
    saved = json.loads((tmp_path / "from-folder" / "config.json").read_text())
    assert saved["data"]["source"] == str(out)
