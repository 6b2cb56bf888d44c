"""Bad input through the command line: one `error: ...` line naming the file and the problem, exit 1,
no traceback, nothing written; and the library's readers never fail with anything but a W2VError."""

from __future__ import annotations

import itertools
import os
import pickle
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

import w2v
from w2v.cli import main
from w2v.errors import CorpusError
from w2v.files.word2vec import write_word2vec
from w2v.text import corpus
from w2v.text.corpus import decode_file, read_pieces
from w2v.text.encode import encode_corpus
from w2v.text.tokenizer import make_tokenizer, words_of

SENTENCES = "the king and the queen\nthe man and the woman\nparis and rome\n" * 5
QUERY_WORDS = ["the", "king", "queen", "man", "woman", "paris", "rome", "breakfast"]


def train_args(*args: str | Path) -> list[str]:
    # The defaults come first so that a test's own --epochs wins.
    return ["train", "-q", "--no-plots", "--threads", "1", "--epochs", "1", *map(str, args)]


def one_error_line(
    capsys: pytest.CaptureFixture[str], status: int, expected_status: int = 1
) -> str:
    """The single stderr line of a failed command, after checking its status and shape."""
    err = capsys.readouterr().err
    assert status == expected_status
    assert err.startswith("error: ")
    assert err.count("\n") == 1 and err.endswith("\n")
    assert "Traceback" not in err
    return err.rstrip("\n")


@pytest.fixture
def text_corpus(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text(SENTENCES)
    return path


@pytest.fixture
def vectors(tmp_path: Path) -> Path:
    path = tmp_path / "vectors.bin"
    generator = torch.Generator().manual_seed(0)
    write_word2vec(path, QUERY_WORDS, torch.randn(len(QUERY_WORDS), 4, generator=generator), True)
    return path


# Corpora


def make_unreadable(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """chmod 000, and where that does not stop this user (root) make opening it fail all the same."""
    path.chmod(0)
    if os.access(path, os.R_OK):

        def refuse(name: Path, *args: object, **kwargs: object) -> None:
            raise PermissionError(13, "Permission denied", str(name))

        monkeypatch.setattr(corpus, "open", refuse, raising=False)


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("absent.txt", None, "absent.txt: no such file or folder"),
        ("folder", "dir", "folder: folder holds no files"),
        ("empty.txt", b"", "empty.txt: no words in the corpus"),
        ("blank.txt", b"\n  \n\t\n\n", "blank.txt: no words in the corpus"),
        (
            "binary.txt",
            b"some text\nthen\x00binary",
            "binary.txt: looks like a binary file (NUL byte at offset 14), not text",
        ),
        (
            "unreadable.txt",
            b"words words\n",
            "unreadable.txt: cannot open (Permission denied)",
        ),
        (
            "words.txt",
            b"a\nb\na\n",
            "words.txt: no line holds two words of the vocabulary, so no word has a neighbour",
        ),
    ],
)
def test_bad_corpora(tmp_path, capsys, monkeypatch, name, content, problem):
    path, output = tmp_path / name, tmp_path / "out.bin"
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    if name == "unreadable.txt":
        make_unreadable(path, monkeypatch)
    status = main(train_args(path, "--min-count", "1", "-o", output))
    message = one_error_line(capsys, status)
    assert message.startswith(f"error: {tmp_path / problem}")
    assert list(tmp_path.iterdir()) == ([path] if content is not None else [])


def test_the_library_raises_the_same_message_as_a_corpus_error(tmp_path):
    path = tmp_path / "binary.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    message = f"{path}: looks like a binary file (NUL byte at offset 8), not text"
    with pytest.raises(CorpusError, match=re.escape(message)):
        w2v.train([path], w2v.TrainConfig(min_count=1, threads=1), progress=False)


def test_every_word_under_min_count_says_which_min_count_keeps_words(tmp_path, capsys, text_corpus):
    status = main(train_args(text_corpus, "--min-count", "50", "-o", tmp_path / "out.bin"))
    assert one_error_line(capsys, status) == (
        "error: no word occurs 50 times or more (the most frequent occurs 20 times): "
        "use --min-count 20 or lower, or a larger corpus"
    )
    assert not (tmp_path / "out.bin").exists()


def test_invalid_utf8_is_replaced_with_one_warning_per_file(tmp_path, capsys):
    path = tmp_path / "latin1.txt"
    # \xe9 alone, \xff\xfe, and a sequence cut short (\xe2\x82): 5 bad bytes.
    path.write_bytes(b"caf\xe9 ok \xff\xfe fine \xe2\x82\nand more words\n")
    status = main(train_args(path, "--min-count", "1", "-o", tmp_path / "out.bin"))
    captured = capsys.readouterr()
    assert status == 0
    assert captured.err == f"warning: {path}: 5 bytes of invalid UTF-8 replaced\n"
    assert (tmp_path / "out.bin").exists()


def test_a_corpus_shorter_than_the_window_trains(tmp_path, capsys):
    # Windows stop at the ends of a sentence, as word2vec's do, so a short corpus simply has
    # fewer pairs.
    path = tmp_path / "short.txt"
    path.write_text("a b c\n")
    status = main(
        train_args(path, "--min-count", "1", "--window", "10", "-o", tmp_path / "out.bin")
    )
    assert status == 0
    assert "wrote 3 vectors" in capsys.readouterr().out


# Parameters and output paths


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--dim", "0"], "--dim must be at least 1, got 0"),
        (["--window", "-1"], "--window must be at least 1, got -1"),
        (["--sample", "2"], "--sample must be in [0, 1), got 2.0"),
        (["--epochs", "0"], "--epochs must be at least 1, got 0"),
        (
            ["--negative", "0"],
            "--negative 0 leaves nothing to train: use --negative 1 or more, or --hs",
        ),
        (["--negative", "-1", "--hs"], "--negative must be at least 0, got -1"),
        (["--alpha", "0"], "--alpha must be above 0, got 0.0"),
        (["--min-alpha", "0.5"], "--min-alpha must be in [0, --alpha] = [0, 0.025], got 0.5"),
        (["--device", "cuda"], "--device cuda asked for, but torch sees no CUDA GPU here"),
        (
            ["--window", "1000000"],
            "--window must be at most 10,000, got 1,000,000: lines are cut into sentences of at "
            "most 10,000 words, so no window reaches further",
        ),
        (["--threads", "100000"], "--threads must be at most 1024, got 100,000"),
        (
            ["--window", "2000", "--kernel", "torch"],
            "--window 2000 with --batch-words 4096 needs about 14.3 GB a batch in the torch "
            "kernel: use --batch-words 1231 or less",
        ),
    ],
)
def test_nonsense_parameters(tmp_path, capsys, monkeypatch, text_corpus, option, message):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    status = main(train_args(text_corpus, *option, "-o", tmp_path / "out.bin"))
    assert one_error_line(capsys, status) == f"error: {message}"
    assert not (tmp_path / "out.bin").exists()


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--device", "tpu"], "argument --device: invalid choice: 'tpu'"),
        (["--kernel", "fast"], "argument --kernel: invalid choice: 'fast'"),
        (["--dim", "many"], "argument --dim: invalid int value: 'many'"),
    ],
)
def test_unknown_choices_are_usage_errors_on_one_line(
    tmp_path, capsys, text_corpus, option, message
):
    with pytest.raises(SystemExit) as exited:
        main(train_args(text_corpus, *option, "-o", tmp_path / "out.bin"))
    line = one_error_line(capsys, exited.value.code, expected_status=2)
    assert line.startswith(f"error: cli.py train: {message}")
    assert line.endswith("(see cli.py train --help)")


def test_output_in_a_missing_folder_is_refused_before_training(tmp_path, capsys, text_corpus):
    output = tmp_path / "absent" / "out.bin"
    status = main(train_args(text_corpus, "-o", output))
    assert one_error_line(capsys, status) == (
        f"error: {output}: folder {output.parent} does not exist"
    )


def test_output_in_a_read_only_folder_is_refused_before_training(
    tmp_path, capsys, monkeypatch, text_corpus
):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):  # root writes anywhere: make the check see what others would
        real_access = os.access
        monkeypatch.setattr(
            os,
            "access",
            lambda p, mode, **kw: False if Path(p) == folder else real_access(p, mode, **kw),
        )
    # Training never starts: a corpus that does not exist is not even looked at.
    status = main(train_args(tmp_path / "absent.txt", "-o", folder / "out.bin"))
    assert one_error_line(capsys, status) == (
        f"error: {folder / 'out.bin'}: folder {folder} is not writable"
    )
    folder.chmod(0o755)
    assert list(folder.iterdir()) == []


# Queries


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["analogy", "kng", "man", "woman"], "not in the vocabulary: 'kng' (did you mean 'king'?)"),
        (
            ["similar", "paris", "quen", "zzzz"],
            "not in the vocabulary: 'quen' (did you mean 'queen'?), 'zzzz'",
        ),
        (
            ["doesnt-match", "breakfst", "man", "woman"],
            "not in the vocabulary: 'breakfst' (did you mean 'breakfast'?)",
        ),
    ],
)
def test_words_outside_the_vocabulary_are_named_with_near_spellings(
    capsys, vectors, command, message
):
    status = main([*command, "--vectors", str(vectors)])
    no_subwords = "(the model has no subwords to build one from)"
    assert one_error_line(capsys, status) == f"error: {message} {no_subwords}"


def test_an_analogy_file_without_questions(tmp_path, capsys, vectors):
    path = tmp_path / "questions.txt"
    path.write_text(": capitals\nparis france\n")
    status = main(["evaluate", "--vectors", str(vectors), "--analogies", str(path)])
    assert one_error_line(capsys, status).startswith(f"error: {path}: no analogy questions")


# Vector files

TEXT_ROWS = b"the 0.5 -1.25 3.0\ncat 0.1 1.0 -2.0\n"
BINARY_ROWS = (
    b"the " + struct.pack("<3f", 0.5, -1.25, 3.0) + b"\ncat " + struct.pack("<3f", 0.1, 1.0, -2.0)
)


class Payload:
    """Unpickling it creates a file: proof that loading ran code from the file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[Path]]:
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "the file is empty"),
        (b"2 3\n" + BINARY_ROWS[:-5], "truncated"),
        (b"3 3\n" + TEXT_ROWS, "truncated"),
        (b"1 3\n" + TEXT_ROWS, "announces 1 words but 2 lines follow"),
        (b"2 3\nthe 0.5 -1.25 3.0\ncat 0.1 1.0\n", "line 3 has 3 fields, not a word and 3 numbers"),
        (
            b"2 3\nthe 0.5 -1.25 3.0\ncat 0.1 one -2.0\n",
            "line 3 has 'one' where a number should be",
        ),
        (b"1000000000000 300\n" + TEXT_ROWS, "1000000000000 words"),
        (b"two 3\n" + TEXT_ROWS, "two positive integers"),
        (pickle.dumps([1, 2, 3]), "two positive integers"),
    ],
)
def test_malformed_vector_files(tmp_path, capsys, content, problem):
    path = tmp_path / "vectors.bin"
    path.write_bytes(content)
    status = main(["similar", "the", "--vectors", str(path)])
    line = one_error_line(capsys, status)
    assert line.startswith(f"error: {path}: ")
    assert problem in line


def test_a_pickle_given_as_word2vec_vectors_is_never_unpickled(tmp_path, capsys):
    marker = tmp_path / "unpickled"
    for name in ("vectors.bin", "vectors.txt"):
        (tmp_path / name).write_bytes(pickle.dumps(Payload(marker), protocol=0))
        status = main(["similar", "the", "--vectors", str(tmp_path / name)])
        assert one_error_line(capsys, status).startswith(f"error: {tmp_path / name}: ")
    assert not marker.exists()


# Any bytes as a corpus


def invalid_utf8_bytes(data: bytes) -> int:
    """Bytes outside well-formed UTF-8 sequences: what decoding with errors="ignore" drops."""
    return len(data) - len(data.decode("utf-8", "ignore").encode("utf-8"))


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=200), chunk_bytes=st.integers(1, 16))
def test_any_bytes_decode_exactly_or_are_refused_as_binary(tmp_path_factory, data, chunk_bytes):
    path = tmp_path_factory.mktemp("corpus") / "any.txt"
    path.write_bytes(data)
    if b"\0" in data:
        offset = data.index(b"\0")
        with pytest.raises(CorpusError, match=rf"offset {offset}\), not text"):
            "".join(decode_file(path, chunk_bytes, warn=False))
        return
    before = corpus._replaced.count
    assert "".join(decode_file(path, chunk_bytes, warn=False)) == data.decode("utf-8", "replace")
    assert corpus._replaced.count - before == invalid_utf8_bytes(data)
    lines = data.decode("utf-8", "replace").split("\n")
    expected = lines if lines[-1] else lines[:-1]
    assert list(read_pieces([path], warn=False)) == [(line, True) for line in expected]


# Text with words in it: ASCII and other letters, case, digits, underscores, NFKC's ligatures and
# full-width forms, punctuation, several kinds of space, line ends, invalid UTF-8.
WORDY_PIECES = [
    "the", "King", "QUEEN", "x_1", "42", "été", "Straße", "\ufb01re", "\uff21\uff22\uff23", "naïve", "東京",
    " ", "  ", "\t", ",", "!?", "-", "\n", "\n\n", "\r\n", "\u00a0", "\u2028",
]  # fmt: skip
WORDY_TEXT = st.lists(
    st.sampled_from([piece.encode() for piece in WORDY_PIECES])
    | st.sampled_from([b"\xff", b"\xc3"]),
    max_size=30,
).map(b"".join)


@settings(max_examples=80, deadline=None)
@given(data=st.binary(max_size=100) | st.text(max_size=100).map(str.encode) | WORDY_TEXT)
@example(data=b"the king\nthe queen\n")
@example(data=b"Paris, ROME; \xffberlin\n\nlisbon")
@example(data=b"one\ntwo\n\nthree")  # words, but never two on a line
@example(data=b" ,.!? \n\t\n")  # no word at all
@example(data=b"the king\0the queen")  # binary
def test_any_bytes_encode_exactly_or_raise_the_error_their_words_call_for(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("encode")
    path = folder / "any.txt"
    path.write_bytes(data)

    def encoded_corpus():
        return encode_corpus(
            [path], make_tokenizer("words", True), folder, min_count=1, progress=False
        )

    # What the corpus should hold: the tokenizer's own words of each line of the decoded text.
    if b"\0" in data:
        event("refused: binary")
        with pytest.raises(CorpusError, match=r"NUL byte at offset \d+\), not text$"):
            encoded_corpus()
        return
    split = make_tokenizer("words", True)
    lines = [words_of(split, line) for line in data.decode("utf-8", "replace").split("\n")]
    words = [word for line in lines for word in line]
    if not words:
        event("refused: no words")
        with pytest.raises(CorpusError, match=r"no words in the corpus$"):
            encoded_corpus()
        return
    if max(map(len, lines)) < 2:
        event("refused: no line of two words")
        with pytest.raises(CorpusError, match="no line holds two words of the vocabulary"):
            encoded_corpus()
        return
    event("encoded")
    vocabulary, encoded = encoded_corpus()  # anything else must encode
    assert encoded.raw_words == len(encoded.tokens) == len(words)  # min_count 1 keeps every word
    assert [vocabulary.words[token] for token in encoded.tokens.tolist()] == words
    assert sorted(vocabulary.words) == sorted(set(words))
    assert {w: int(c) for w, c in zip(vocabulary.words, vocabulary.counts, strict=True)} == {
        word: words.count(word) for word in set(words)
    }
    ends = list(itertools.accumulate(len(line) for line in lines if line))
    assert encoded.sentence_ends.tolist() == ends


def test_a_reader_that_goes_away_gets_no_traceback(tmp_path):
    """`python cli.py similar w0 -k 20000 | head -1`: the output outgrows the pipe, the reader
    closes it, and the command ends quietly as Unix tools do."""
    words = 20_000
    lines = [f"{words} 2"] + [f"w{i} {i % 7 + 1} {i % 5 + 1}" for i in range(words)]
    vectors = tmp_path / "v.txt"
    vectors.write_text("\n".join(lines) + "\n")
    cli = str(Path(__file__).resolve().parent.parent / "cli.py")
    command = [
        sys.executable,
        cli,
        "similar",
        "w0",
        "-k",
        str(words - 1),
        "--vectors",
        str(vectors),
    ]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout.readline().startswith(b"rank")
    child.stdout.close()
    assert child.wait(timeout=120) == 141
    assert child.stderr.read() == b""
