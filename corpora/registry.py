"""Corpora known by name (`text8`, `wikitext-103`): downloaded once into a cache folder, checked
against their published size and checksum, and unpacked there."""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from tqdm.auto import tqdm

from w2v.errors import CorpusError
from w2v.fileio import atomic_output

TIMEOUT_SECONDS = 60
BLOCK_BYTES = 1 << 20


@dataclass(frozen=True)
class NamedCorpus:
    """A corpus a user asks for by name: where to get its zip archive and how to check it."""

    name: str
    description: str
    words: str  # its size in words, for the listing
    urls: tuple[str, ...]  # tried in order; the checksum makes one as good as another
    archive_bytes: int
    checksum: str  # "algorithm:hex digest" of the archive, as published
    member: str  # the file in the archive that is the training text


CORPORA = {
    corpus.name: corpus
    for corpus in (
        NamedCorpus(
            name="text8",
            description="the first 10^8 bytes of English Wikipedia (March 2006), cleaned to lower-case words (Matt Mahoney)",
            words="17M",
            urls=("http://mattmahoney.net/dc/text8.zip",),
            # Size as checked by TensorFlow's word2vec tutorial, SHA-1 as checked by GluonNLP's Text8.
            archive_bytes=31_344_016,
            checksum="sha1:6c70299b93b7e1f927b42cd8f6ac1a31547c7a2e",
            member="text8",
        ),
        NamedCorpus(
            name="wikitext-103",
            description="WikiText-103 training set, raw text of Wikipedia Good and Featured articles (Merity et al. 2016)",
            words="100M",
            urls=(
                "https://wikitext.smerity.com/wikitext-103-raw-v1.zip",
                "https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-103-raw-v1.zip",
            ),
            # SHA-256 as registered by MLX Data's and a Julia DataDeps WikiText loader; size and
            # SHA-256 together as checked by published download scripts.
            archive_bytes=191_984_949,
            checksum="sha256:91c00ae287f0d699e18605c84afc9e45c192bc6b7797ff8837e5474655a33794",
            member="wikitext-103-raw/wiki.train.raw",
        ),
    )
}


def default_cache_dir() -> Path:
    """Where named corpora are kept unless --cache-dir says otherwise: the user's cache folder."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "w2v" / "corpora"


def cached_path(name: str, cache_dir: str | Path | None = None) -> Path:
    """Where the training text of the named corpus lives once fetched."""
    corpus = _known(name)
    return Path(cache_dir or default_cache_dir()) / name / Path(corpus.member).name


def fetch(name: str, cache_dir: str | Path | None = None, progress: bool = True) -> Path:
    """The path of the named corpus's training text, downloading and unpacking it the first time."""
    corpus = _known(name)
    target = cached_path(name, cache_dir)
    if target.is_file():
        return target
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CorpusError(
            f"{folder}: cannot make the cache folder ({error.strerror or error}); choose another with --cache-dir"
        ) from None
    archive = folder / Path(urlparse(corpus.urls[0]).path).name
    # An archive is only ever placed under its name after its checksum matched, so one found
    # here (a run stopped while unpacking) needs no new download.
    if not archive.is_file():
        _download(corpus, archive, progress)
    _unpack(corpus, archive, target, progress)
    archive.unlink()
    return target


def _known(name: str) -> NamedCorpus:
    try:
        return CORPORA[name]
    except KeyError:
        raise CorpusError(f"unknown corpus {name!r}: known ones are {', '.join(CORPORA)}") from None


def _download(corpus: NamedCorpus, archive: Path, progress: bool) -> None:
    """Download the archive from the first URL that answers, checking its size and checksum."""
    algorithm, expected = corpus.checksum.split(":")
    failures = []
    for url in corpus.urls:
        try:
            with (
                urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response,
                atomic_output(archive) as out,
                tqdm(
                    total=corpus.archive_bytes,
                    desc=f"downloading {corpus.name}",
                    unit="B",
                    unit_scale=True,
                    disable=not progress,
                ) as bar,
            ):
                digest, size = hashlib.new(algorithm), 0
                while block := response.read(BLOCK_BYTES):
                    out.write(block)
                    digest.update(block)
                    size += len(block)
                    bar.update(len(block))
                # Raised inside atomic_output, so the damaged file is removed, never placed.
                if size != corpus.archive_bytes or digest.hexdigest() != expected:
                    raise CorpusError(
                        f"{url}: got {size:,} bytes with {algorithm} {digest.hexdigest()}, expected "
                        f"{corpus.archive_bytes:,} bytes with {expected}; the download is damaged, try again"
                    )
            return
        except (OSError, http.client.HTTPException) as error:
            # A URLError's own text wraps its reason in "<urlopen error ...>"; an HTTPError's is fine.
            plain = isinstance(error, urllib.error.URLError) and not isinstance(
                error, urllib.error.HTTPError
            )
            reason = error.reason if plain else error
            failures.append(f"{url}: {reason}")
    raise CorpusError(
        f"{corpus.name}: cannot download ({'; '.join(failures)}); without internet, get "
        f"{archive.name} another way, unzip it and pass the path of its {Path(corpus.member).name} "
        "file instead of the name"
    )


def _unpack(corpus: NamedCorpus, archive: Path, target: Path, progress: bool) -> None:
    """Copy the training text out of the archive to `target`, all or nothing."""
    try:
        with zipfile.ZipFile(archive) as package, package.open(corpus.member) as member:
            size = package.getinfo(corpus.member).file_size
            with (
                atomic_output(target) as out,
                tqdm(
                    total=size,
                    desc=f"unpacking {corpus.name}",
                    unit="B",
                    unit_scale=True,
                    disable=not progress,
                ) as bar,
            ):
                while block := member.read(BLOCK_BYTES):
                    out.write(block)
                    bar.update(len(block))
    except (OSError, zipfile.BadZipFile, KeyError) as error:
        raise CorpusError(f"{archive}: cannot unpack {corpus.member} ({error})") from None


def listing(cache_dir: str | Path | None = None) -> str:
    """A table of the named corpora, with where each is cached or that it is not downloaded yet."""
    rows = [("name", "words", "download", "cached", "description")]
    for corpus in CORPORA.values():
        path = cached_path(corpus.name, cache_dir)
        rows.append(
            (
                corpus.name,
                corpus.words,
                f"{corpus.archive_bytes / 1e6:.0f} MB",
                str(path) if path.is_file() else "not yet",
                corpus.description,
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    lines = [
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[4]])
        for row in rows
    ]
    lines += [
        "",
        f"cache folder: {Path(cache_dir or default_cache_dir())} (change with --cache-dir)",
        "also: hf:NAME[:CONFIG] for any Hugging Face dataset, streamed (--split, --text-column)",
    ]
    return "\n".join(lines)
