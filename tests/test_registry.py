"""Named-corpus downloads against a local HTTP server: processes fetching at once, damaged or
replaced archives in the cache, zip bombs, oversized downloads, and a bad first mirror."""

import hashlib
import http.server
import io
import multiprocessing
import struct
import threading
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from filelock import FileLock

from corpora import registry
from corpora.registry import NamedCorpus, fetch
from w2v.cli import main
from w2v.errors import CorpusError

TEXT = "the quick brown fox\njumps over the lazy dog\n" * 200
MEMBER = "fake8/train.txt"


def zip_of(text: str | bytes, member: str = MEMBER) -> bytes:
    """A deflated zip archive holding `text` as `member`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr(member, text)
    return buffer.getvalue()


def damaged_copy(data: bytes) -> bytes:
    """`data` with one byte in its middle changed: the same size, another checksum."""
    damaged = bytearray(data)
    damaged[len(damaged) // 2] ^= 0xFF
    return bytes(damaged)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Server:
    """A local HTTP server of made files, counting the requests for each path and the bytes sent."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.slow: set[str] = set()  # sent in two halves, a pause between: fetches overlap
        self.endless: set[str] = set()  # the file, then zeros until the client hangs up
        self.lying_length: dict[str, int] = {}  # a Content-Length other than the file's
        self.requests: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server.lock:
                    server.requests[self.path] += 1
                if self.path not in server.files:
                    self.send_error(404)
                    return
                data = server.files[self.path]
                self.send_response(200)
                if self.path not in server.endless:
                    length = server.lying_length.get(self.path, len(data))
                    self.send_header("Content-Length", str(length))
                self.end_headers()
                try:
                    if self.path in server.slow:
                        self.send(data[: len(data) // 2])
                        threading.Event().wait(0.5)
                        self.send(data[len(data) // 2 :])
                    else:
                        self.send(data)
                    # Up to 1 GB of zeros: a client without a cap would take it all.
                    for _ in range(1024 if self.path in server.endless else 0):
                        self.send(bytes(1 << 20))
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def send(self, data: bytes) -> None:
                self.wfile.write(data)
                with server.lock:
                    server.sent[self.path] += len(data)

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


@pytest.fixture
def server():
    served = Server()
    yield served
    served.httpd.shutdown()
    served.httpd.server_close()


@pytest.fixture
def register(monkeypatch):
    """Register a test corpus `fake8` whose archive is `data`, served at the given URLs."""

    def made(data: bytes, *urls: str, text_bytes: int | None = len(TEXT)) -> NamedCorpus:
        corpus = NamedCorpus(
            name="fake8",
            description="a test corpus",
            words="1.8K",
            urls=urls,
            archive_bytes=len(data),
            checksum=sha256(data),
            member=MEMBER,
            text_bytes=text_bytes,
        )
        monkeypatch.setitem(registry.CORPORA, "fake8", corpus)
        return corpus

    return made


def leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def fetch_in_process(cache: str, start, results) -> None:
    start.wait()
    try:
        results.put(("fetched", str(fetch("fake8", cache, progress=False))))
    except Exception as error:
        results.put(("failed", f"{type(error).__name__}: {error}"))


def test_four_processes_fetching_at_once_all_get_it_and_one_downloads(tmp_path, server, register):
    data = zip_of(TEXT)
    server.files["/fake8.zip"] = data
    server.slow.add("/fake8.zip")
    register(data, server.url("/fake8.zip"))
    cache = tmp_path / "cache"
    # Forked, the children see the test corpus registered; the barrier starts them together.
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(4), context.Queue()
    processes = [
        context.Process(target=fetch_in_process, args=(str(cache), start, results))
        for _ in range(4)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    target = cache / "fake8" / "train.txt"
    assert outcomes == [("fetched", str(target))] * 4
    assert server.requests["/fake8.zip"] == 1
    assert target.read_text() == TEXT
    assert leftovers(cache / "fake8") == ["train.txt"]


def test_a_process_waiting_for_another_says_so_and_downloads_nothing(
    tmp_path, server, register, capsys
):
    data = zip_of(TEXT)
    server.files["/fake8.zip"] = data
    register(data, server.url("/fake8.zip"))
    cache = tmp_path / "cache"
    cache.mkdir()
    held = FileLock(cache / ".fake8.lock")  # as another process fetching fake8 would hold it
    held.acquire()
    fetched: list[Path] = []
    waiting = threading.Thread(target=lambda: fetched.append(fetch("fake8", cache)))
    waiting.start()
    waiting.join(timeout=1)
    assert waiting.is_alive() and server.requests["/fake8.zip"] == 0
    held.release()
    waiting.join(timeout=30)
    assert fetched == [cache / "fake8" / "train.txt"]
    assert (
        f"fake8: waiting for another process fetching it (lock {cache / '.fake8.lock'})\n"
        in capsys.readouterr().err
    )


def test_a_damaged_cached_archive_is_refused_naming_the_file_to_delete(
    tmp_path, server, register, capsys
):
    data = zip_of(TEXT)
    server.files["/fake8.zip"] = data
    corpus = register(data, server.url("/fake8.zip"))
    folder = tmp_path / "cache" / "fake8"
    folder.mkdir(parents=True)
    archive = folder / "fake8.zip"
    # One byte changed in the deflate stream: today's zlib.error traceback.
    damaged = damaged_copy(data)
    archive.write_bytes(damaged)
    expected = (
        f"{archive}: not the published fake8 archive ({len(data):,} bytes with sha256 "
        f"{hashlib.sha256(damaged).hexdigest()}, expected {len(data):,} bytes with "
        f"{corpus.checksum.removeprefix('sha256:')}); delete it and run again to download it afresh"
    )
    with pytest.raises(CorpusError) as caught:
        fetch("fake8", tmp_path / "cache", progress=False)
    assert str(caught.value) == expected
    # Through the CLI: the same line, no traceback, no download, nothing unpacked.
    argv = ["train", "fake8", "--cache-dir", str(tmp_path / "cache"), "-o", str(tmp_path / "v")]
    assert main(argv) == 1
    assert capsys.readouterr().err == f"error: {expected}\n"
    assert server.requests["/fake8.zip"] == 0
    assert leftovers(folder) == ["fake8.zip"]
    # Deleting it, as told, fetches it afresh.
    archive.unlink()
    assert fetch("fake8", tmp_path / "cache", progress=False).read_text() == TEXT
    assert server.requests["/fake8.zip"] == 1


def test_a_cached_archive_replaced_by_a_zip_bomb_is_refused_before_unpacking(
    tmp_path, server, register
):
    data = zip_of(TEXT)
    register(data, server.url("/fake8.zip"))
    folder = tmp_path / "cache" / "fake8"
    folder.mkdir(parents=True)
    bomb = zip_of(bytes(30 << 20))  # 30 MB of zeros in about 30 KB
    assert len(bomb) < 100_000
    (folder / "fake8.zip").write_bytes(bomb)
    with pytest.raises(
        CorpusError,
        match=rf"fake8.zip: not the published fake8 archive \({len(bomb):,} bytes, expected {len(data)}\)",
    ):
        fetch("fake8", tmp_path / "cache", progress=False)
    assert leftovers(folder) == ["fake8.zip"]


def test_an_archive_put_in_the_cache_by_hand_is_checked_and_used(tmp_path, register):
    data = zip_of(TEXT)
    register(data, "http://127.0.0.1:9/unreachable.zip")
    folder = tmp_path / "cache" / "fake8"
    folder.mkdir(parents=True)
    (folder / "unreachable.zip").write_bytes(data)
    assert fetch("fake8", tmp_path / "cache", progress=False).read_text() == TEXT
    assert leftovers(folder) == ["train.txt"]


def count_unpacked(monkeypatch) -> list[int]:
    """Record the bytes every read of a zip member returns."""
    reads: list[int] = []
    original = zipfile.ZipExtFile.read

    def counted(self, n=-1):
        block = original(self, n)
        reads.append(len(block))
        return block

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counted)
    return reads


def test_a_checksummed_bomb_whose_directory_says_so_is_not_unpacked(
    tmp_path, server, register, monkeypatch
):
    bomb = zip_of(bytes(30 << 20))
    server.files["/fake8.zip"] = bomb
    register(bomb, server.url("/fake8.zip"), text_bytes=1000)
    reads = count_unpacked(monkeypatch)
    archive = tmp_path / "cache" / "fake8" / "fake8.zip"
    with pytest.raises(CorpusError) as caught:
        fetch("fake8", tmp_path / "cache", progress=False)
    assert str(caught.value) == (
        f"{archive}: cannot unpack {MEMBER} (its directory gives {MEMBER} {30 << 20:,} bytes, "
        "published 1,000); delete it and run again to download it afresh"
    )
    assert sum(reads) == 0
    assert leftovers(archive.parent) == ["fake8.zip"]


def lie_about_size(archive: bytes, size: int) -> bytes:
    """The archive with its one member's uncompressed size given as `size` in both headers."""
    data = bytearray(archive)
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, size)
    struct.pack_into("<I", data, central + 24, size)
    return bytes(data)


def test_a_bomb_whose_directory_lies_is_cut_off_at_the_published_size(
    tmp_path, server, register, monkeypatch
):
    bomb = lie_about_size(zip_of(bytes(30 << 20)), 1000)
    server.files["/fake8.zip"] = bomb
    register(bomb, server.url("/fake8.zip"), text_bytes=1000)
    reads = count_unpacked(monkeypatch)
    with pytest.raises(CorpusError, match=rf"fake8.zip: cannot unpack {MEMBER} \(.*CRC.*delete it"):
        fetch("fake8", tmp_path / "cache", progress=False)
    assert sum(reads) <= 1001
    assert leftovers(tmp_path / "cache" / "fake8") == ["fake8.zip"]


def test_a_corrupt_deflate_stream_is_one_line_not_a_zlib_traceback(tmp_path, server, register):
    damaged = bytearray(zip_of(TEXT))
    start = damaged.index(MEMBER.encode()) + len(MEMBER)  # the deflate stream follows the name
    damaged[start : start + 8] = b"\xff" * 8
    server.files["/fake8.zip"] = bytes(damaged)
    register(bytes(damaged), server.url("/fake8.zip"))
    with pytest.raises(CorpusError) as caught:
        fetch("fake8", tmp_path / "cache", progress=False)
    message = str(caught.value)
    assert message.startswith(
        f"{tmp_path / 'cache' / 'fake8' / 'fake8.zip'}: cannot unpack {MEMBER} ("
    )
    assert "decompressing data" in message and "\n" not in message
    assert message.endswith("; delete it and run again to download it afresh")
    assert leftovers(tmp_path / "cache" / "fake8") == ["fake8.zip"]


def test_an_endless_download_is_cut_off_just_past_the_published_size(tmp_path, server, register):
    data = zip_of(TEXT)
    server.files["/fake8.zip"] = data
    server.endless.add("/fake8.zip")  # no Content-Length, then zeros until the client hangs up
    register(data, server.url("/fake8.zip"))
    with pytest.raises(CorpusError) as caught:
        fetch("fake8", tmp_path / "cache", progress=False)
    message = str(caught.value)
    assert message.startswith(
        f"fake8: cannot download ({server.url('/fake8.zip')}: got more than {len(data):,} bytes "
        "with sha256 "
    )
    assert "; the download is damaged)" in message
    # What the server got to send before the client hung up: the socket buffers' worth, not 1 GB.
    server.httpd.shutdown()
    assert server.sent["/fake8.zip"] < 64 << 20
    assert leftovers(tmp_path / "cache" / "fake8") == []


def test_a_download_announcing_another_size_is_refused_before_reading(tmp_path, server, register):
    data = zip_of(TEXT)
    server.files["/fake8.zip"] = data
    server.lying_length["/fake8.zip"] = 10**12
    register(data, server.url("/fake8.zip"))
    with pytest.raises(CorpusError) as caught:
        fetch("fake8", tmp_path / "cache", progress=False)
    assert str(caught.value).startswith(
        f"fake8: cannot download ({server.url('/fake8.zip')}: offers 1,000,000,000,000 bytes, "
        f"expected {len(data):,}: not the archive); try again later, or get fake8.zip another way"
    )
    assert leftovers(tmp_path / "cache" / "fake8") == []


def test_a_bad_checksum_on_the_first_mirror_tries_the_second(tmp_path, server, register):
    data = zip_of(TEXT)
    other = damaged_copy(data)
    server.files["/one/fake8.zip"] = other
    server.files["/two/fake8.zip"] = data
    register(data, server.url("/one/fake8.zip"), server.url("/two/fake8.zip"))
    path = fetch("fake8", tmp_path / "cache", progress=False)
    assert path.read_text() == TEXT
    assert server.requests == {"/one/fake8.zip": 1, "/two/fake8.zip": 1}
    assert leftovers(path.parent) == ["train.txt"]


def test_when_every_mirror_fails_the_line_says_why_for_each(tmp_path, server, register):
    data = zip_of(TEXT)
    server.files["/one/fake8.zip"] = damaged_copy(data)
    register(data, server.url("/one/fake8.zip"), server.url("/two/fake8.zip"))
    with pytest.raises(CorpusError) as caught:
        fetch("fake8", tmp_path / "cache", progress=False)
    message = str(caught.value)
    assert message.startswith(f"fake8: cannot download ({server.url('/one/fake8.zip')}: got ")
    assert f"; the download is damaged; {server.url('/two/fake8.zip')}: HTTP Error 404" in message
    archive = tmp_path / "cache" / "fake8" / "fake8.zip"
    assert message.endswith(
        f"or get fake8.zip another way and put it at {archive} (it is checked before use), or "
        "unzip it and pass the path of its train.txt file instead of the name"
    )


def test_a_damaged_unpacked_text_is_refused_naming_the_file_to_delete(tmp_path, server, register):
    data = zip_of(TEXT)
    server.files["/fake8.zip"] = data
    register(data, server.url("/fake8.zip"))
    path = fetch("fake8", tmp_path / "cache", progress=False)
    path.write_text(TEXT[:100])
    with pytest.raises(CorpusError) as caught:
        fetch("fake8", tmp_path / "cache", progress=False)
    assert str(caught.value) == (
        f"{path}: holds 100 bytes, fake8 has {len(TEXT):,}; delete it and run again to fetch it afresh"
    )
