"""Counting under --max-vocab-memory: the tables stay within the bound by pruning the rarest words,
frequent words keep exact counts, and a bound never reached changes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import w2v
from w2v.errors import ConfigError
from w2v.text.counting import MIN_VOCAB_MEMORY, WordCounter
from w2v.text.encode import encode_corpus
from w2v.text.tokenizer import make_tokenizer
from w2v.training.config import TrainConfig

CLI = Path(__file__).resolve().parent.parent / "cli.py"
FREQUENT = [f"f{i}" for i in range(50)]
# Frequent from the 1000th line on, first seen after several prunes.
LATE = [f"l{i}" for i in range(10)]
# Seen twice, far apart: the first sight is pruned before the second comes.
TWICE = [f"t{i}" for i in range(100)]
RARE_LINES = 2000
RARE_PER_LINE = 100
LEADING = 100


def corpus_lines() -> list[str]:
    """LEADING words seen once, then the frequent words 20 times each, then lines of words seen
    once, each with five frequent words: LATE 20 times each on the 1000th and once on each line
    after, TWICE on the 10th and the 1900th. The leading words make every prune move the frequent
    words' ids."""
    lines = [" ".join([f"x{i}" for i in range(LEADING)] + FREQUENT * 20)]
    for line in range(RARE_LINES):
        words = [f"r{line * RARE_PER_LINE + i}" for i in range(RARE_PER_LINE)]
        words += [FREQUENT[(5 * line + i) % len(FREQUENT)] for i in range(5)]
        if line in (10, 1900):
            words += TWICE
        if line >= 1000:
            words += LATE * (20 if line == 1000 else 1)
        lines.append(" ".join(words))
    return lines


def encode(tmp_path: Path, lines: list[str], limit: int | None, folder: str):
    work = tmp_path / folder
    work.mkdir()
    path = work / "c.txt"
    path.write_text("\n".join(lines) + "\n")
    vocabulary, corpus = encode_corpus(
        [path], make_tokenizer(), work, min_count=2, progress=False, max_vocab_memory=limit
    )
    return vocabulary, corpus


def as_words(vocabulary, corpus) -> list[str]:
    return [vocabulary.words[i] for i in corpus.tokens]


def test_counter_tables_stay_within_the_bound_and_frequent_counts_stay_exact():
    counter = WordCounter(make_tokenizer(), MIN_VOCAB_MEMORY)
    lines = corpus_lines()
    most = 0
    for start in range(0, len(lines), 100):
        counter.encode([line + "\n" for line in lines[start : start + 100]])
        most = max(most, counter.nbytes)
    assert most <= MIN_VOCAB_MEMORY
    assert counter.pruned > 0 and counter.threshold >= 1
    # Every word entered the table once, but TWICE's twice: pruned, then seen again.
    entered = LEADING + len(FREQUENT) + len(LATE) + 2 * len(TWICE) + RARE_LINES * RARE_PER_LINE
    assert len(counter) + counter.pruned == entered
    counts = dict(zip(counter.words, counter.counts.tolist(), strict=True))
    # 20 each at first, then 5 a line over 2000 lines, cycling through the 50.
    assert all(counts[word] == 20 + RARE_LINES * 5 // len(FREQUENT) for word in FREQUENT)
    assert all(counts[word] == 20 + RARE_LINES - 1001 for word in LATE)
    assert all(counts.get(word, 0) <= 1 for word in TWICE)
    # Each prune's map sends survivors to dense new ids in order and the pruned to -1.
    assert len(counter.prunes) >= 2
    for _, remap in counter.prunes:
        alive = remap[remap >= 0]
        assert np.array_equal(alive, np.arange(len(alive)))


def test_pruned_encoding_keeps_frequent_words_exact_and_reports(tmp_path, capsys):
    lines = corpus_lines()
    exact_vocabulary, exact = encode(tmp_path, lines, None, "exact")
    assert capsys.readouterr().err == ""
    vocabulary, pruned = encode(tmp_path, lines, MIN_VOCAB_MEMORY, "pruned")
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("warning: ")
    assert f"pruning {pruned.pruned_types:,} word types" in err[0]
    assert f"at most {pruned.prune_threshold:,} times" in err[0]
    assert pruned.pruned_types > RARE_LINES * RARE_PER_LINE // 2 and pruned.prune_threshold >= 1
    # Unbounded, the TWICE words pass --min-count 2; bounded, their first sight was pruned.
    assert sorted(exact_vocabulary.words) == sorted(FREQUENT + LATE + TWICE)
    assert vocabulary.words == [word for word in exact_vocabulary.words if word not in TWICE]
    exact_counts = dict(zip(exact_vocabulary.words, exact_vocabulary.counts.tolist(), strict=True))
    assert vocabulary.counts.tolist() == [exact_counts[word] for word in vocabulary.words]
    # Ids written before every prune are renumbered: the same text but for the TWICE words.
    assert as_words(vocabulary, pruned) == [
        word for word in as_words(exact_vocabulary, exact) if word not in TWICE
    ]
    assert pruned.raw_words == exact.raw_words


def test_a_bound_not_reached_changes_nothing(tmp_path, capsys):
    lines = corpus_lines()[:300]
    exact_vocabulary, exact = encode(tmp_path, lines, None, "exact")
    vocabulary, bounded = encode(tmp_path, lines, 64 << 20, "bounded")
    assert capsys.readouterr().err == ""
    assert bounded.pruned_types == 0
    assert vocabulary.words == exact_vocabulary.words
    assert vocabulary.counts.tobytes() == exact_vocabulary.counts.tobytes()
    assert np.asarray(bounded.tokens).tobytes() == np.asarray(exact.tokens).tobytes()
    assert bounded.sentence_ends.tobytes() == exact.sentence_ends.tobytes()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "--max-vocab-memory must be at least 1 byte, got 0"),
        (
            "abc",
            "--max-vocab-memory must be a size in bytes such as 2G, 500M or 1000000, got 'abc'",
        ),
        ("1M", "--max-vocab-memory must be at least 4M (the first tables), got 1M"),
    ],
)
def test_bad_sizes_are_one_line_config_errors(value, message):
    with pytest.raises(ConfigError) as error:
        TrainConfig(max_vocab_memory=value).validate()
    assert str(error.value) == message


def test_sizes_read_with_their_units():
    assert TrainConfig(max_vocab_memory="500M").vocab_memory_bytes() == 500 << 20
    assert TrainConfig(max_vocab_memory="2G").vocab_memory_bytes() == 2 << 30
    assert TrainConfig(max_vocab_memory=5_000_000).vocab_memory_bytes() == 5_000_000
    assert TrainConfig().vocab_memory_bytes() is None


def test_a_bad_size_on_the_command_line_is_one_line(tmp_path):
    (tmp_path / "c.txt").write_text("a b c\n" * 10)
    command = [sys.executable, str(CLI), "train", "c.txt", "-q", "--max-vocab-memory", "abc"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "error: --max-vocab-memory must be a size in bytes such as 2G, 500M or 1000000, got 'abc'"
    ]
    assert not (tmp_path / "vectors.bin").exists()


def test_the_training_log_records_the_pruning(tmp_path, capsys):
    lines = corpus_lines()
    _, pruned = encode(tmp_path, lines, MIN_VOCAB_MEMORY, "pruned")
    corpus = tmp_path / "pruned" / "c.txt"
    config = w2v.TrainConfig(
        dim=8, epochs=1, threads=1, min_count=2, max_vocab_memory=MIN_VOCAB_MEMORY
    )
    log = w2v.train([corpus], config, progress=False).log([corpus])
    assert log["counting"] == {
        "pruned_types": pruned.pruned_types,
        "prune_threshold": pruned.prune_threshold,
    }
    unbounded = w2v.train(
        [corpus], w2v.TrainConfig(dim=8, epochs=1, threads=1, min_count=2), progress=False
    )
    assert "counting" not in unbounded.log([corpus])
