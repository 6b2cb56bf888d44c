"""The viewer's web server: the page's files and a JSON API over `KeyedVectors` queries.

Built on the standard library's ThreadingHTTPServer: one thread per request, so a slow t-SNE map
does not hold up a neighbour query, and torch's matrix products release the GIL. The vectors are
opened once (a native folder memory-mapped) and their unit vectors computed before the first
request, so no request copies the model. Every bad request gets a 4xx status and a JSON
`{"error": "..."}` line that the page shows; a bug gets a 500 with one line, never a traceback.
"""

from __future__ import annotations

import bisect
import json
import os
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import torch

from w2v.errors import ConfigError, OutOfVocabularyError, W2VError
from w2v.query.evaluate import METHODS
from w2v.query.vectors import KeyedVectors, load
from w2v.reports.plots import PROJECTIONS, project
from w2v.reports.trainlog import log_path

# Answers per query: more than a page can show is a mistake in the request, not a wish.
MAX_K = 1000
# Words on the map: exact t-SNE is quadratic in them, and a few hundred labels already crowd it.
MAX_MAP_WORDS = 300
MAX_COMPLETIONS = 50
MAX_QUERY_WORDS = 100
MAX_PORT = 65535
API_CALLS = frozenset({"neighbours", "analogy", "doesnt_match", "map", "complete", "facts"})
STATIC_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}


class Explorer:
    """The queries the page asks, each answered as a JSON-ready dict, on vectors opened once."""

    def __init__(self, vectors: KeyedVectors, training_log: dict[str, Any] | None = None) -> None:
        """Answer queries on `vectors`; `training_log` is the run's log (NAME.log.json), if any."""
        self.vectors = vectors
        self.training_log = training_log
        vectors.unit_vectors()  # computed now, once, not by whichever request comes first
        # Completion by binary search in the sorted words; rows are frequency ranks.
        order = sorted(range(len(vectors.words)), key=vectors.words.__getitem__)
        self.sorted_words = [vectors.words[row] for row in order]
        self.sorted_rows = np.asarray(order, dtype=np.int64)

    def neighbours(self, word: str, k: int) -> dict[str, Any]:
        """The `k` nearest words to `word` by cosine."""
        return {"word": word, "neighbours": _ranking(self.vectors.most_similar(word, topn=k))}

    def analogy(self, a: str, b: str, c: str, method: str, k: int) -> dict[str, Any]:
        """The `k` best answers to a - b + c by `method` (3cosadd or 3cosmul)."""
        answers = self.vectors.analogy(a, b, c, topn=k, method=method)
        return {"a": a, "b": b, "c": c, "method": method, "answers": _ranking(answers)}

    def doesnt_match(self, words: list[str]) -> dict[str, Any]:
        """The word of `words` that fits least with the others."""
        return {"words": words, "odd_one_out": self.vectors.doesnt_match(words)}

    def map(self, word: str, k: int, method: str) -> dict[str, Any]:
        """`word` and its `k` nearest neighbours placed in two dimensions by PCA or t-SNE."""
        if k > MAX_MAP_WORDS:
            raise ConfigError(f"a map shows at most {MAX_MAP_WORDS} neighbours, not {k}")
        neighbours = self.vectors.most_similar(word, topn=k)
        words = [word] + [other for other, _ in neighbours]
        points = torch.stack([self.vectors[other] for other in words])
        points = points / torch.linalg.vector_norm(points, dim=1, keepdim=True).clamp_min(1e-12)
        placed = project(points, method).tolist()
        cosines = [1.0] + [cosine for _, cosine in neighbours]
        return {
            "word": word,
            "method": method,
            "points": [
                {"word": other, "x": x, "y": y, "cosine": cosine}
                for other, (x, y), cosine in zip(words, placed, cosines, strict=True)
            ],
        }

    def complete(self, prefix: str, limit: int) -> dict[str, Any]:
        """The `limit` most frequent words that start with `prefix`."""
        low = bisect.bisect_left(self.sorted_words, prefix)
        high = bisect.bisect_left(self.sorted_words, prefix + "\U0010ffff", lo=low)
        rows = self.sorted_rows[low:high]
        if len(rows) > limit:
            rows = np.partition(rows, limit - 1)[:limit]
        return {"prefix": prefix, "words": [self.vectors.words[row] for row in np.sort(rows)]}

    def facts(self) -> dict[str, Any]:
        """The model's size, dimensions, training settings and, from its log, the loss per epoch."""
        log = self.training_log or {}
        return {
            "words": len(self.vectors),
            "dim": self.vectors.dim,
            "counts": self.vectors.counts is not None,
            "training": self.vectors.training or log.get("config"),
            "epochs": log.get("epochs", []),
            "corpus_words": log.get("corpus_words"),
            "train_seconds": log.get("train_seconds"),
        }


def read_training_log(vectors_path: str | os.PathLike) -> dict[str, Any] | None:
    """The training log beside a vectors file or folder (NAME.log.json), or None if there is none
    or it is not a log (the viewer then shows the model without its loss curve)."""
    path = log_path(Path(str(vectors_path).rstrip("/\\")))
    try:
        log = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return log if isinstance(log, dict) else None


def open_server(vectors_path: str | os.PathLike, host: str, port: int) -> ViewerServer:
    """Open the vectors at `vectors_path` and a server for them on `host`:`port` (0: any free
    port); ConfigError if the address cannot be taken."""
    if not Path(vectors_path).exists():
        raise ConfigError(f"{vectors_path}: no such vectors file or model folder")
    explorer = Explorer(load(vectors_path), read_training_log(vectors_path))
    return ViewerServer(explorer, host, port)


class ViewerServer(ThreadingHTTPServer):
    """An HTTP server answering the viewer's page and API for one Explorer."""

    daemon_threads = True  # Ctrl-C stops the server without waiting for open connections

    def __init__(self, explorer: Explorer, host: str, port: int) -> None:
        """Listen on `host`:`port` for requests about `explorer`'s vectors."""
        self.explorer = explorer
        if not 0 <= port <= MAX_PORT:
            raise ConfigError(f"--port must be from 0 to {MAX_PORT}, not {port}")
        try:
            super().__init__((host, port), ViewerHandler)
        except OSError as error:
            raise ConfigError(
                f"cannot listen on {host}:{port} ({error.strerror or error})"
            ) from None

    @property
    def url(self) -> str:
        """The page's address."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"


class ViewerHandler(BaseHTTPRequestHandler):
    """Answers GET requests: the page's files, or `/api/NAME?...` as JSON."""

    server: ViewerServer
    protocol_version = "HTTP/1.1"  # keep-alive: the page's completion asks at every keystroke

    def do_GET(self) -> None:
        """Serve a static file or an API answer."""
        url = urlsplit(self.path)
        if url.path in STATIC_FILES:
            name, kind = STATIC_FILES[url.path]
            body = resources.files("w2v.viewer").joinpath("static", name).read_bytes()
            self._send(HTTPStatus.OK, body, kind)
            return
        if not url.path.startswith("/api/"):
            self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no page {url.path}"})
            return
        name = url.path[len("/api/") :]
        if name not in API_CALLS:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no API call {name!r}"})
            return
        try:
            answer = answer_api(self.server.explorer, name, parse_qs(url.query))
        except OutOfVocabularyError as error:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": str(error)})
        except W2VError as error:
            self._send_json(HTTPStatus.BAD_REQUEST, {"error": str(error)})
        except Exception as error:
            # A bug: the server's log says what, the page gets one line.
            self.log_error("error answering %s: %r", self.path, error)
            self._send_json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "internal error"})
        else:
            self._send_json(HTTPStatus.OK, answer)

    def log_message(self, format: str, *args: Any) -> None:
        """Log requests to stderr on one line each, as the base class does, but unbuffered."""
        sys.stderr.write(f"{self.address_string()} - {format % args}\n")

    def _send_json(self, status: HTTPStatus, answer: dict[str, Any]) -> None:
        self._send(status, json.dumps(answer).encode("utf-8"), "application/json")

    def _send(self, status: HTTPStatus, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


def answer_api(explorer: Explorer, name: str, query: dict[str, list[str]]) -> dict[str, Any]:
    """The answer to API call `name` with the parsed query string `query`; ConfigError for a
    malformed parameter, the query's own errors passed on; `name` is one of API_CALLS."""
    parameters = Parameters(query)
    if name == "neighbours":
        return explorer.neighbours(parameters.word("word"), parameters.k())
    if name == "analogy":
        words = [parameters.word(part) for part in ("a", "b", "c")]
        return explorer.analogy(*words, parameters.choice("method", METHODS), parameters.k())
    if name == "doesnt_match":
        return explorer.doesnt_match(parameters.words("words"))
    if name == "map":
        method = parameters.choice("method", PROJECTIONS)
        return explorer.map(parameters.word("word"), parameters.k(default=30), method)
    if name == "complete":
        limit = parameters.integer("limit", 10, MAX_COMPLETIONS)
        return explorer.complete(parameters.text("prefix"), limit)
    return explorer.facts()


class Parameters:
    """A request's query-string parameters, read with a clear message for each one that is bad."""

    def __init__(self, query: dict[str, list[str]]) -> None:
        """Read parameters from `query`, as `urllib.parse.parse_qs` returns it."""
        self.query = query

    def text(self, name: str) -> str:
        """Parameter `name` as given, stripped ('' when absent)."""
        values = self.query.get(name, [""])
        if len(values) > 1:
            raise ConfigError(f"'{name}' is given {len(values)} times")
        return values[0].strip()

    def word(self, name: str) -> str:
        """Parameter `name`, which must hold one word."""
        word = self.text(name)
        if not word:
            raise ConfigError(f"'{name}' is empty: type a word")
        if len(word.split()) > 1:
            raise ConfigError(f"'{name}' holds several words: {word!r}")
        return word

    def words(self, name: str) -> list[str]:
        """Parameter `name` as words separated by spaces or commas."""
        words = self.text(name).replace(",", " ").split()
        if len(words) < 2:
            raise ConfigError(f"'{name}' needs at least two words, got {len(words)}")
        if len(words) > MAX_QUERY_WORDS:
            raise ConfigError(f"'{name}' holds {len(words)} words, more than {MAX_QUERY_WORDS}")
        return words

    def integer(self, name: str, default: int, maximum: int) -> int:
        """Parameter `name` as a whole number from 1 to `maximum`, `default` when absent."""
        given = self.text(name)
        if not given:
            return default
        try:
            value = int(given)
        except ValueError:
            raise ConfigError(f"'{name}' must be a whole number, not {given!r}") from None
        if not 1 <= value <= maximum:
            raise ConfigError(f"'{name}' must be from 1 to {maximum}, not {value}")
        return value

    def k(self, default: int = 10) -> int:
        """How many answers to give: parameter `k`."""
        return self.integer("k", default, MAX_K)

    def choice(self, name: str, choices: tuple[str, ...]) -> str:
        """Parameter `name`, one of `choices` (the first when absent)."""
        given = self.text(name) or choices[0]
        if given not in choices:
            raise ConfigError(f"'{name}' must be one of {', '.join(choices)}, not {given!r}")
        return given


def _ranking(ranking: list[tuple[str, float]]) -> list[dict[str, Any]]:
    return [{"word": word, "cosine": cosine} for word, cosine in ranking]
