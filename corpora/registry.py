"""Corpora known by name (`text8`, `wikitext-103`): downloaded once into a cache folder, checked
against their published size and checksum, and unpacked there."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlparse

from filelock import FileLock, Timeout
from tqdm.auto import tqdm

from w2v.errors import CorpusError
from w2v.fileio import atomic_output

TIMEOUT_SECONDS = 60
BLOCK_BYTES = 1 << 20
# What reading a download or an archive raises when its bytes or the connection are bad: a socket
# error or timeout, a connection cut short, a damaged zip directory or deflate stream, an archive
# cut short.
READ_ERRORS = (OSError, http.client.HTTPException, zipfile.BadZipFile, zlib.error, EOFError)


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
    # The training text's published size; None where none is published, and the size the archive's
    # own directory gives is checked instead (the archive's checksum already vouches for it).
    text_bytes: int | None


CORPORA = {
    corpus.name: corpus
    for corpus in (
        NamedCorpus(
            name="text8",
            description="the first 10^8 bytes of English Wikipedia (March 2006), cleaned to lower-case words (Matt Mahoney)",
            words="17M",
            urls=("http://mattmahoney.net/dc/text8.zip",),
            # Size as checked by TensorFlow's word2vec tutorial, SHA-1 as checked by GluonNLP's
            # Text8 (no SHA-256 of it is published); the text is 10^8 bytes by its definition.
            archive_bytes=31_344_016,
            checksum="sha1:6c70299b93b7e1f927b42cd8f6ac1a31547c7a2e",
            member="text8",
            text_bytes=100_000_000,
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
            text_bytes=None,
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
    """The path of the named corpus's training text, downloading and unpacking it the first time.

    Processes fetching the same corpus at once (every rank of a torchrun job) take turns: one
    downloads and unpacks, the others wait for it and then find the text in place."""
    corpus = _known(name)
    target = cached_path(name, cache_dir)
    if target.is_file():
        return _checked_text(corpus, target)
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CorpusError(
            f"{folder}: cannot make the cache folder ({error.strerror or error}); choose another with --cache-dir"
        ) from None
    with _turn(corpus, folder.parent / f".{name}.lock", progress):
        if target.is_file():  # fetched by the process this one waited for
            return _checked_text(corpus, target)
        archive = folder / Path(urlparse(corpus.urls[0]).path).name
        # An archive is only ever placed under its name after its checksum matched, but one found
        # here (a run stopped while unpacking, or one put there by hand) may have been damaged or
        # replaced since: it is checked again before anything is unpacked from it.
        if archive.is_file():
            _check_archive(corpus, archive)
        else:
            _download(corpus, archive, progress)
        _unpack(corpus, archive, target, progress)
        archive.unlink()
    return target


def _known(name: str) -> NamedCorpus:
    try:
        return CORPORA[name]
    except KeyError:
        raise CorpusError(f"unknown corpus {name!r}: known ones are {', '.join(CORPORA)}") from None


class _Unusable(Exception):
    """Why a download or an archive cannot be used; the caller names the file or the address."""


@contextlib.contextmanager
def _turn(corpus: NamedCorpus, lock_path: Path, progress: bool) -> Iterator[None]:
    """Hold the corpus's lock file, waiting (and saying so) while another process holds it."""
    lock = FileLock(lock_path)
    try:
        try:
            lock.acquire(timeout=0)
        except Timeout:
            if progress:
                tqdm.write(
                    f"{corpus.name}: waiting for another process fetching it (lock {lock_path})",
                    file=sys.stderr,
                )
            lock.acquire()
    except OSError as error:
        raise CorpusError(
            f"{lock_path}: cannot lock ({error.strerror or error}); choose another cache folder with --cache-dir"
        ) from None
    try:
        yield
    finally:
        lock.release()


def _blocks(source: BinaryIO, limit: int) -> Iterator[bytes]:
    """The blocks of `source` up to one byte past `limit`: a longer stream is cut off there, never
    read whole. A read that fails raises _Unusable."""
    size = 0
    while size <= limit:
        try:
            block = source.read(min(BLOCK_BYTES, limit + 1 - size))
        except READ_ERRORS as error:
            raise _Unusable(_reason(error)) from None
        if not block:
            return
        size += len(block)
        yield block


def _reason(error: BaseException) -> str:
    """An error's text for a one-line message."""
    # A URLError's own text wraps its reason in "<urlopen error ...>"; an HTTPError's is fine.
    if isinstance(error, urllib.error.URLError) and not isinstance(error, urllib.error.HTTPError):
        return str(error.reason)
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    if isinstance(error, KeyError):  # str() of a KeyError quotes its message
        return str(error.args[0])
    return str(error) or type(error).__name__


def _archive_digest(corpus: NamedCorpus):
    """A hash object of the algorithm the corpus's checksum is published in."""
    return hashlib.new(corpus.checksum.split(":")[0])


def _mismatch(corpus: NamedCorpus, size: int, hexdigest: str) -> str | None:
    """What is wrong with an archive of `size` bytes and `hexdigest`, or None if it is the
    published one."""
    algorithm, expected = corpus.checksum.split(":")
    if size == corpus.archive_bytes and hexdigest == expected:
        return None
    got = f"more than {corpus.archive_bytes:,}" if size > corpus.archive_bytes else f"{size:,}"
    return (
        f"{got} bytes with {algorithm} {hexdigest}, expected {corpus.archive_bytes:,} bytes "
        f"with {expected}"
    )


def _download(corpus: NamedCorpus, archive: Path, progress: bool) -> None:
    """Download the archive from the first address that gives the published one (size and
    checksum); a failed or damaged download moves on to the next address."""
    failures = []
    for url in corpus.urls:
        try:
            _download_from(url, corpus, archive, progress)
            return
        except _Unusable as failure:
            failures.append(f"{url}: {failure}")
    raise CorpusError(
        f"{corpus.name}: cannot download ({'; '.join(failures)}); try again later, or get "
        f"{archive.name} another way and put it at {archive} (it is checked before use), or unzip "
        f"it and pass the path of its {Path(corpus.member).name} file instead of the name"
    )


def _download_from(url: str, corpus: NamedCorpus, archive: Path, progress: bool) -> None:
    """Download `url` to `archive` if it is the published archive; _Unusable says why not."""
    try:
        response = urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS)
    except (OSError, http.client.HTTPException) as error:
        raise _Unusable(_reason(error)) from None
    with response:
        announced = response.headers.get("Content-Length", "")
        if announced.isdigit() and int(announced) != corpus.archive_bytes:
            raise _Unusable(
                f"offers {int(announced):,} bytes, expected {corpus.archive_bytes:,}: not the archive"
            )
        with (
            atomic_output(archive) as out,
            tqdm(
                total=corpus.archive_bytes,
                desc=f"downloading {corpus.name}",
                unit="B",
                unit_scale=True,
                disable=not progress,
            ) as bar,
        ):
            digest, size = _archive_digest(corpus), 0
            # Read no further than one byte past the published size: an address that sends more
            # (text8's is plain http) is cut off there rather than filling the disk.
            for block in _blocks(response, corpus.archive_bytes):
                out.write(block)
                digest.update(block)
                size += len(block)
                bar.update(len(block))
            # Raised inside atomic_output, so the damaged file is removed, never placed.
            if problem := _mismatch(corpus, size, digest.hexdigest()):
                raise _Unusable(f"got {problem}; the download is damaged")


def _check_archive(corpus: NamedCorpus, archive: Path) -> None:
    """Refuse a cached archive that is not the published one, naming the file to delete."""
    try:
        size = archive.stat().st_size
        if size != corpus.archive_bytes:  # told apart without reading it
            problem = f"{size:,} bytes, expected {corpus.archive_bytes:,}"
        else:
            digest = _archive_digest(corpus)
            with archive.open("rb") as stream:
                for block in _blocks(stream, corpus.archive_bytes):
                    digest.update(block)
            problem = _mismatch(corpus, size, digest.hexdigest())
    except (OSError, _Unusable) as error:
        problem = f"cannot read it ({_reason(error)})"
    if problem:
        raise CorpusError(
            f"{archive}: not the published {corpus.name} archive ({problem}); delete it and run "
            "again to download it afresh"
        )


def _unpack(corpus: NamedCorpus, archive: Path, target: Path, progress: bool) -> None:
    """Copy the training text out of the archive to `target`, all or nothing, reading no more than
    its published size."""
    try:
        with zipfile.ZipFile(archive) as package:
            size = package.getinfo(corpus.member).file_size
            expected = size if corpus.text_bytes is None else corpus.text_bytes
            if size != expected:
                raise _Unusable(
                    f"its directory gives {corpus.member} {size:,} bytes, published {expected:,}"
                )
            with (
                package.open(corpus.member) as member,
                atomic_output(target) as out,
                tqdm(
                    total=size,
                    desc=f"unpacking {corpus.name}",
                    unit="B",
                    unit_scale=True,
                    disable=not progress,
                ) as bar,
            ):
                unpacked = 0
                # A member that unpacks to more than it should (a zip bomb) is cut off one byte past.
                for block in _blocks(member, expected):
                    out.write(block)
                    unpacked += len(block)
                    bar.update(len(block))
                if unpacked != expected:
                    got = f"more than {expected:,}" if unpacked > expected else f"{unpacked:,}"
                    raise _Unusable(
                        f"{corpus.member} unpacks to {got} bytes, published {expected:,}"
                    )
    except (_Unusable, KeyError, *READ_ERRORS) as error:
        raise CorpusError(
            f"{archive}: cannot unpack {corpus.member} ({_reason(error)}); delete it and run again "
            "to download it afresh"
        ) from None


def _checked_text(corpus: NamedCorpus, target: Path) -> Path:
    """`target`, the unpacked training text, unless its size shows it damaged since."""
    size = target.stat().st_size
    if corpus.text_bytes is not None and size != corpus.text_bytes:
        raise CorpusError(
            f"{target}: holds {size:,} bytes, {corpus.name} has {corpus.text_bytes:,}; delete it "
            "and run again to fetch it afresh"
        )
    return target


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
