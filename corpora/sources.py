"""Where a corpus comes from: text files, dataset files and Hugging Face datasets read through
`datasets`, or a corpus known by name and fetched into the cache.

Every source reads as the same (text, ends_line) pieces as a text file (see `w2v.text.corpus`), so
training treats them alike. Training reads its corpus once, counting and encoding together: a
Hugging Face dataset is streamed rather than saved, so a corpus larger than the memory or the
disk still trains.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corpora.registry import CORPORA, fetch
from w2v.errors import CorpusError
from w2v.text.corpus import OPENERS, PieceSource, Source, expand_paths, split_lines

HUB_PREFIX = "hf:"
DEFAULT_TEXT_COLUMN = "text"
# The `datasets` loader for each kind of file whose text sits in a column; .gz, .bz2 and .xz
# versions of them are read too.
DATASET_LOADERS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}


@dataclass(frozen=True)
class DatasetSource:
    """A dataset streamed through `datasets`: each row's text column is one or more lines.

    `name` is a dataset on the Hugging Face Hub, or one of `datasets`' file loaders ("json",
    "csv", "parquet") reading the local file `data_file`.
    """

    name: str
    config: str | None = None
    split: str = "train"
    text_column: str = DEFAULT_TEXT_COLUMN
    data_file: str | None = None

    def __str__(self) -> str:
        if self.data_file:
            return self.data_file
        split = "" if self.split == "train" else f" ({self.split} split)"
        return f"{HUB_PREFIX}{self.name}" + (f":{self.config}" if self.config else "") + split

    def rows(self) -> Iterator[dict[str, Any]]:
        """The dataset's rows, streamed; a dataset that cannot be loaded raises CorpusError."""
        # Imported here: `datasets` takes a second to import, which every other command would pay.
        import datasets

        try:
            dataset = datasets.load_dataset(
                self.name,
                self.config,
                data_files=self.data_file,
                split=self.split,
                streaming=True,
            )
            yield from dataset
        except (OSError, ValueError, datasets.exceptions.DatasetsError) as error:
            reason = " ".join(str(error).split()) or type(error).__name__
            hint = "" if self.data_file else "; offline, pass a local path instead"
            raise CorpusError(f"{self}: cannot load ({reason}){hint}") from None

    def pieces(self, chunk_chars: int) -> Iterator[tuple[str, bool]]:
        """Yield (text, ends_line) pieces of each row's text, a row ending a line."""
        column = self.text_column
        for number, row in enumerate(self.rows(), 1):
            if column not in row:
                raise CorpusError(
                    f"{self}: no column {column!r} (columns: {', '.join(row)}); "
                    "name the one holding the text with --text-column"
                )
            text = row[column]
            if text is None:
                continue
            if not isinstance(text, str):
                raise CorpusError(
                    f"{self}: column {column!r} holds {type(text).__name__}, not text (row {number})"
                )
            slices = (
                text[start : start + chunk_chars] for start in range(0, len(text), chunk_chars)
            )
            yield from split_lines(slices, chunk_chars)


def hub_source(spec: str, split: str = "train", text_column: str | None = None) -> DatasetSource:
    """The Hugging Face dataset named by `hf:NAME` or `hf:NAME:CONFIG`."""
    name, _, config = spec.removeprefix(HUB_PREFIX).partition(":")
    if not name:
        raise CorpusError(f"{spec}: name a dataset, as hf:NAME or hf:NAME:CONFIG")
    return DatasetSource(name, config or None, split, text_column or DEFAULT_TEXT_COLUMN)


def dataset_loader(path: Path) -> str | None:
    """The `datasets` loader for a file of rows (`.jsonl`, `.csv.gz`...), or None for plain text."""
    suffixes = [suffix.lower() for suffix in path.suffixes]
    if suffixes and suffixes[-1] in OPENERS:
        suffixes.pop()
    return DATASET_LOADERS.get(suffixes[-1]) if suffixes else None


def resolve_sources(
    given: Sequence[str | Path | PieceSource],
    split: str = "train",
    text_column: str | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> list[Source]:
    """Turn corpus arguments into sources to read.

    Each item is `hf:NAME[:CONFIG]` (streamed from the Hub, `split` and `text_column` apply), the
    name of a known corpus (`text8`, fetched into `cache_dir` once; a local file of that name comes
    first), a file, folder or glob (files ending in .jsonl, .json, .csv or .parquet are read through
    `datasets`, their `text_column` taken), or a source already made.
    """
    sources: list[Source] = []
    for item in given:
        if not isinstance(item, str | Path):
            sources.append(item)
        elif isinstance(item, str) and item.startswith(HUB_PREFIX):
            sources.append(hub_source(item, split, text_column))
        elif isinstance(item, str) and item in CORPORA and not Path(item).exists():
            sources.append(fetch(item, cache_dir, progress))
        else:
            for path in expand_paths([item]):
                loader = dataset_loader(path)
                if loader is None:
                    sources.append(path)
                else:
                    column = text_column or DEFAULT_TEXT_COLUMN
                    sources.append(DatasetSource(loader, text_column=column, data_file=str(path)))
    if not sources:
        raise CorpusError("no corpus given")
    return sources
