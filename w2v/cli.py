"""Command-line front: parses arguments, calls the library, prints results; errors become one line."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from corpora.registry import listing
from corpora.sources import resolve_sources
from corpora.synthetic import write_corpus, write_questions
from w2v.api import load_initial, train, write_trained
from w2v.errors import ConfigError, W2VError
from w2v.fileio import check_not_an_input, check_writable
from w2v.files.store import convert
from w2v.query.evaluate import (
    METHODS,
    evaluate_analogies,
    evaluate_battery,
    evaluate_similarity,
    format_battery,
)
from w2v.query.vectors import load
from w2v.reports import plots
from w2v.reports.projector import export_projector
from w2v.reports.report import write_report
from w2v.reports.trainlog import loss_plot_path, write_training_log
from w2v.text.corpus import expand_paths
from w2v.text.phrases import MIN_COUNT, THRESHOLD, pass_thresholds, write_phrases
from w2v.text.tokenizer import SPLITS
from w2v.training import checkpoint, distributed
from w2v.training.checkpoint import CheckpointPlan
from w2v.training.config import TrainConfig
from w2v.training.process import tune_for_training
from w2v.viewer.server import open_server

DEFAULT_VECTORS = "vectors.bin"
TRAIN_SETTINGS = tuple(setting.name for setting in dataclasses.fields(TrainConfig))


def _train(args: argparse.Namespace) -> None:
    # The settings written on the command line; the others keep their defaults or, with --init,
    # the model's (but for the run's own: threads, device, kernel).
    given = {name: getattr(args, name) for name in TRAIN_SETTINGS if hasattr(args, name)}
    given.setdefault("threads", distributed.default_threads())
    initial = load_initial(args.init) if args.init else None
    config = TrainConfig(**given) if initial is None else initial.config(given)
    config.validate()
    check_writable(args.output)
    sources = resolve_sources(
        args.corpus, args.split, args.text_column, args.cache_dir, progress=not args.quiet
    )
    check_not_an_input(args.output, sources)
    checkpoints = _checkpoint_plan(args)
    if checkpoints is not None:
        checkpoints.check_apart_from(args.output)
    tune_for_training(config.threads)
    # Without a checkpoint folder the trained state is kept in memory, and the encoded corpus in
    # the temporary folder, so that a failed write saves them as a checkpoint to resume from.
    model = train(
        sources,
        config,
        progress=not args.quiet,
        checkpoints=checkpoints,
        init=initial,
        resumable=checkpoints is None,
    )
    if not distributed.is_writer():
        return  # under torchrun only rank 0 writes
    written = write_trained(model, args.output, checkpoints)
    written.paths.append(write_training_log(model.log(sources), args.output))
    if not args.no_plots:
        if plots.available():
            written.paths.append(plots.plot_loss(model.history, loss_plot_path(args.output)))
        else:
            print(f"skipped {loss_plot_path(args.output)}: {plots.MISSING}")
    files = ", ".join(map(str, written.paths))
    print(f"wrote {len(model.vectors):,} vectors of {config.dim} dimensions: {files}")
    if written.left_out:
        print(written.note())


def _checkpoint_plan(args: argparse.Namespace) -> CheckpointPlan | None:
    """Where train saves its state and from where it resumes, from --checkpoint-every, --checkpoint-dir, --resume."""
    if args.resume and args.checkpoint_dir:
        raise ConfigError("--resume DIR saves its checkpoints in DIR: leave out --checkpoint-dir")
    if args.checkpoint_every is not None and not args.checkpoint_every > 0:
        raise ConfigError(
            f"--checkpoint-every must be above 0 minutes, got {args.checkpoint_every}"
        )
    every = float("inf") if args.checkpoint_every is None else args.checkpoint_every * 60
    if args.resume:
        return CheckpointPlan(Path(args.resume), every, resume=True)
    if args.checkpoint_every is None and not args.checkpoint_dir:
        return None
    return CheckpointPlan(
        Path(args.checkpoint_dir or checkpoint.default_folder(args.output)), every
    )


def _print_ranking(ranking: list[tuple[str, float]]) -> None:
    width = max([len(word) for word, _ in ranking] + [4])
    print(f"{'rank':>4}  {'word':<{width}}  cosine")
    for rank, (word, score) in enumerate(ranking, 1):
        print(f"{rank:>4}  {word:<{width}}  {score:.4f}")


def _analogy(args: argparse.Namespace) -> None:
    vectors = load(args.vectors)
    _print_ranking(
        vectors.analogy(
            args.a, args.b, args.c, topn=args.k, method=args.method, restrict_vocab=args.restrict
        )
    )


def _similar(args: argparse.Namespace) -> None:
    vectors = load(args.vectors)
    _print_ranking(
        vectors.most_similar(
            positive=args.words, negative=args.minus, topn=args.k, restrict_vocab=args.restrict
        )
    )


def _doesnt_match(args: argparse.Namespace) -> None:
    print(load(args.vectors).doesnt_match(args.words))


def _phrases(args: argparse.Namespace) -> None:
    check_writable(args.output)
    found = write_phrases(
        expand_paths(args.corpus),
        args.output,
        args.passes,
        args.threshold,
        args.min_count,
        args.tokenizer,
        args.lowercase,
        progress=not args.quiet,
    )
    for summary in found:
        print(summary.describe())
    print(f"wrote {args.output}")


def _convert(args: argparse.Namespace) -> None:
    check_writable(args.target)
    print(convert(args.source, args.target, word2vec=args.word2vec).describe())


def _evaluate(args: argparse.Namespace) -> None:
    if args.report:
        check_writable(args.report)
    vectors = load(args.vectors)
    analogies, similarities = args.analogies, args.similarity
    if analogies or similarities:
        results = [
            evaluate_analogies(vectors, path, restrict_vocab=args.restrict, method=args.method)
            for path in analogies
        ]
        results += [evaluate_similarity(vectors, path) for path in similarities]
        text = "\n\n".join(result.format() for result in results)
    else:
        results = evaluate_battery(vectors, restrict_vocab=args.restrict, method=args.method)
        text = format_battery(results)
    if args.json:
        print(json.dumps([result.to_dict() for result in results], indent=2))
    else:
        print(text)
    if args.report:
        pictures = plots.available()
        if not pictures:
            print(f"report without bar charts: {plots.MISSING}")
        written = write_report(args.report, args.vectors, results, pictures=pictures)
        print(f"wrote {', '.join(map(str, written))}")


def _synthetic(args: argparse.Namespace) -> None:
    words = write_corpus(args.output, n_sentences=args.sentences, seed=args.seed)
    print(f"wrote {words:,} words to {args.output}")
    if args.questions:
        print(f"wrote {write_questions(args.questions):,} analogy questions to {args.questions}")


def _corpora(args: argparse.Namespace) -> None:
    print(listing(args.cache_dir))


def _plot(args: argparse.Namespace) -> None:
    vectors = load(args.vectors)
    written = plots.plot_words(
        vectors, args.words, args.output, args.neighbours, args.method, args.analogy
    )
    print(f"wrote {written}")


def _export_projector(args: argparse.Namespace) -> None:
    vectors = load(args.vectors)
    written = export_projector(vectors, args.output, args.top)
    rows = len(vectors) if args.top is None else min(args.top, len(vectors))
    print(f"wrote {rows:,} words: {', '.join(map(str, written))}")
    print("load both files at https://projector.tensorflow.org (Load, then choose each file)")


def _serve(args: argparse.Namespace) -> None:
    server = open_server(args.vectors, args.host, args.port)
    print(f"serving {args.vectors} at {server.url} (Ctrl-C stops)", flush=True)
    with server:
        server.serve_forever()


def _add_settings(parser: argparse.ArgumentParser) -> None:
    """An option for every TrainConfig field, with the name, default and help the field gives.

    Options left out are absent from the parsed arguments, so that `_train` knows what was given.
    """
    defaults = TrainConfig()
    for setting in dataclasses.fields(TrainConfig):
        meta = setting.metadata
        flag = meta.get("flag", "--" + setting.name.replace("_", "-"))
        default = getattr(defaults, setting.name)
        options: dict = {"dest": setting.name, "default": argparse.SUPPRESS}
        if str(setting.type) == "bool | None":  # resolved from other settings unless given
            options["action"] = argparse.BooleanOptionalAction
            options["help"] = meta["help"]
        elif isinstance(default, bool):
            options["action"] = "store_false" if default else "store_true"
            options["help"] = meta["help"]
        else:
            kind = {"int": int, "float": float, "float | None": float, "int | None": int}.get(
                str(setting.type), str
            )
            options |= {
                "type": kind,
                "choices": meta.get("choices"),
                "metavar": meta.get("metavar"),
            }
            shown = (
                "" if default is None or "default:" in meta["help"] else f" (default: {default})"
            )
            options["help"] = meta["help"] + shown
        parser.add_argument(flag, **options)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, like every other error."""

    def error(self, message: str) -> NoReturn:
        """Print `error: ...` on one line and exit with argparse's status for usage errors, 2."""
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    # Subcommands' parsers are made of the same class, so their errors are one line too.
    parser = _Parser(prog="cli.py", description="word2vec embeddings on torch")
    commands = parser.add_subparsers(dest="command", required=True)

    train_parser = commands.add_parser("train", help="train word vectors on text files")
    train_parser.add_argument(
        "corpus",
        nargs="+",
        help="text files, folders or globs (.gz .bz2 .xz read transparently); .jsonl .json .csv "
        ".parquet files read through datasets; hf:NAME[:CONFIG] for a Hugging Face dataset, "
        "streamed; or a named corpus (see the corpora command)",
    )
    train_parser.add_argument(
        "--split", default="train", help="split of an hf: dataset (default: %(default)s)"
    )
    train_parser.add_argument(
        "--text-column",
        help="column holding the text in hf: datasets and .jsonl .json .csv .parquet files (default: text)",
    )
    train_parser.add_argument(
        "--cache-dir", help="where named corpora are downloaded (default: ~/.cache/w2v/corpora)"
    )
    train_parser.add_argument(
        "-o",
        "--output",
        default=DEFAULT_VECTORS,
        help="word2vec binary if it ends in .bin, text if in .txt or .vec, else a native model folder (default: %(default)s)",
    )
    _add_settings(train_parser)
    train_parser.add_argument(
        "--checkpoint-every",
        type=float,
        metavar="MINUTES",
        help="save the training state every MINUTES (fractions allowed) and at every epoch end, "
        "for --resume; removed once the vectors are written",
    )
    train_parser.add_argument(
        "--checkpoint-dir",
        metavar="DIR",
        help="where checkpoints go (default: OUTPUT.checkpoint beside the output); "
        "without --checkpoint-every, saves at every epoch end",
    )
    train_parser.add_argument(
        "--resume",
        metavar="DIR",
        help="go on from the checkpoint in DIR, with the same corpus, settings and number of "
        "torchrun ranks as the run that saved it; on CPU with --threads 1 or --reproducible the "
        "vectors come out byte-identical to an uninterrupted run's",
    )
    train_parser.add_argument(
        "--init",
        metavar="MODEL",
        help="go on training the native model folder MODEL on this corpus: its vocabulary grows by "
        "the corpus's new words, its settings apply unless given (--dim must match)",
    )
    train_parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    train_parser.add_argument(
        "--no-plots",
        action="store_true",
        help="do not draw NAME.loss.png (NAME.log.json is written all the same)",
    )
    train_parser.set_defaults(run=_train)

    analogy_parser = commands.add_parser("analogy", help="a - b + c: 'king man woman' gives queen")
    for name in ("a", "b", "c"):
        analogy_parser.add_argument(name)
    analogy_parser.add_argument(
        "--method", choices=METHODS, default="3cosadd", help="(default: %(default)s)"
    )
    similar_parser = commands.add_parser("similar", help="nearest neighbours of words, by cosine")
    similar_parser.add_argument(
        "words", nargs="+", help="one or more words; their unit vectors are averaged"
    )
    similar_parser.add_argument(
        "--minus", nargs="*", default=[], help="words whose vectors are subtracted"
    )
    for query_parser, run in ((analogy_parser, _analogy), (similar_parser, _similar)):
        query_parser.add_argument(
            "--vectors", default=DEFAULT_VECTORS, help="vectors file (default: %(default)s)"
        )
        query_parser.add_argument(
            "-k", type=int, default=10, help="answers to show (default: %(default)s)"
        )
        query_parser.add_argument(
            "--restrict", type=int, metavar="N", help="answer among the N most frequent words only"
        )
        query_parser.set_defaults(run=run)

    doesnt_match_parser = commands.add_parser(
        "doesnt-match",
        help="the word that fits least with the others: 'breakfast cereal dinner lunch'",
    )
    doesnt_match_parser.add_argument("words", nargs="+")
    doesnt_match_parser.add_argument(
        "--vectors", default=DEFAULT_VECTORS, help="vectors file (default: %(default)s)"
    )
    doesnt_match_parser.set_defaults(run=_doesnt_match)

    evaluate_parser = commands.add_parser(
        "evaluate",
        help="analogy accuracy and word-similarity correlation; with no lists, the whole battery",
    )
    evaluate_parser.add_argument(
        "--vectors", default=DEFAULT_VECTORS, help="vectors file (default: %(default)s)"
    )
    evaluate_parser.add_argument(
        "--analogies",
        nargs="*",
        default=[],
        help="analogy sets: questions-words.txt-format files, MSR CSV files (.csv), BATS folders",
    )
    evaluate_parser.add_argument(
        "--similarity",
        nargs="*",
        default=[],
        help="files of 'word1 word2 score' lines (any whitespace, any scale, a header allowed)",
    )
    evaluate_parser.add_argument(
        "--restrict",
        type=int,
        default=30000,
        help="analogies use only the most frequent words (default: %(default)s)",
    )
    evaluate_parser.add_argument(
        "--method",
        choices=METHODS,
        default=METHODS[0],
        help="analogy method (default: %(default)s)",
    )
    evaluate_parser.add_argument("--json", action="store_true", help="print the results as JSON")
    evaluate_parser.add_argument(
        "--report",
        help="also write a markdown report to this file, with a bar chart per analogy file beside it",
    )
    evaluate_parser.set_defaults(run=_evaluate)

    synthetic_parser = commands.add_parser(
        "synthetic", help="write a small synthetic corpus with planted analogies"
    )
    synthetic_parser.add_argument(
        "-o", "--output", default="synthetic.txt", help="(default: %(default)s)"
    )
    synthetic_parser.add_argument(
        "--questions", help="also write its analogy questions to this file"
    )
    synthetic_parser.add_argument(
        "--sentences", type=int, default=40_000, help="(default: %(default)s)"
    )
    synthetic_parser.add_argument("--seed", type=int, default=0, help="(default: %(default)s)")
    synthetic_parser.set_defaults(run=_synthetic)

    phrases_parser = commands.add_parser(
        "phrases", help="join frequent pairs of words into phrases (new york -> new_york)"
    )
    phrases_parser.add_argument("corpus", nargs="+", help="text files, folders or globs")
    phrases_parser.add_argument(
        "-o", "--output", required=True, help="the phrased corpus, one line per input line"
    )
    phrases_parser.add_argument(
        "--passes",
        type=int,
        default=1,
        help="passes; each joins pairs of the previous one's output, making longer phrases (default: %(default)s)",
    )
    phrases_parser.add_argument(
        "--threshold",
        type=float,
        default=THRESHOLD,
        help=f"score a pair needs in the first pass; each later pass halves it ({', '.join(f'{t:g}' for t in pass_thresholds(THRESHOLD, 3))}, ...) (default: %(default)s)",
    )
    phrases_parser.add_argument(
        "--min-count",
        type=int,
        default=MIN_COUNT,
        help="words seen fewer times join nothing (default: %(default)s)",
    )
    phrases_parser.add_argument(
        "--tokenizer",
        choices=SPLITS,
        default="words",
        help="as train's, which should match (default: %(default)s)",
    )
    phrases_parser.add_argument(
        "--no-lowercase", dest="lowercase", action="store_false", help="keep the case of words"
    )
    phrases_parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    phrases_parser.set_defaults(run=_phrases)

    convert_parser = commands.add_parser(
        "convert",
        help="convert between word2vec binary (.bin), text (.txt, .vec), fastText's .bin models, "
        "GloVe's text files and the native folder",
    )
    convert_parser.add_argument(
        "source", help="a word2vec, fastText or GloVe file or a native model folder"
    )
    convert_parser.add_argument(
        "target",
        help="the format goes by the name: .bin (fastText's format for a subword model), .txt or "
        ".vec, else a native folder",
    )
    convert_parser.add_argument(
        "--word2vec",
        action="store_true",
        help="write a subword model's word vectors as word2vec binary even to a .bin name "
        "(the n-grams are left out)",
    )
    convert_parser.set_defaults(run=_convert)

    corpora_parser = commands.add_parser("corpora", help="list the corpora known by name")
    corpora_parser.add_argument(
        "--cache-dir", help="where named corpora are downloaded (default: ~/.cache/w2v/corpora)"
    )
    corpora_parser.set_defaults(run=_corpora)

    plot_parser = commands.add_parser(
        "plot", help="draw words and their nearest neighbours in two dimensions"
    )
    plot_parser.add_argument("words", nargs="*", help="words to draw with their neighbours")
    plot_parser.add_argument(
        "-o", "--output", default="words.png", help="PNG file (default: %(default)s)"
    )
    plot_parser.add_argument(
        "--neighbours",
        type=int,
        default=8,
        help="nearest neighbours drawn per word (default: %(default)s)",
    )
    plot_parser.add_argument(
        "--method",
        choices=plots.PROJECTIONS,
        default="pca",
        help="how to flatten to two dimensions (default: %(default)s)",
    )
    plot_parser.add_argument(
        "--analogy",
        nargs=3,
        metavar=("A", "B", "C"),
        help="also draw a - b + c with the arrows b -> a and c -> the answer",
    )
    plot_parser.set_defaults(run=_plot)

    projector_parser = commands.add_parser(
        "export-projector",
        help="write vectors.tsv and metadata.tsv for the TensorFlow Embedding Projector",
    )
    projector_parser.add_argument("-o", "--output", required=True, help="folder to write into")
    projector_parser.add_argument(
        "--top", type=int, help="only the N most frequent words (default: all)"
    )
    projector_parser.set_defaults(run=_export_projector)

    serve_parser = commands.add_parser(
        "serve",
        help="a local web page to explore the vectors: neighbours, analogies, a map, the model",
    )
    serve_parser.add_argument(
        "--port", type=int, default=8000, help="(default: %(default)s; 0 for any free port)"
    )
    serve_parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; 0.0.0.0 lets other machines in (default: %(default)s)",
    )
    serve_parser.set_defaults(run=_serve)

    for vectors_parser in (plot_parser, projector_parser, serve_parser):
        vectors_parser.add_argument(
            "--vectors", default=DEFAULT_VECTORS, help="vectors file (default: %(default)s)"
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a bad input prints `error: ...` on one line and returns 1."""
    args = build_parser().parse_args(argv)
    # SIGTERM (kill, a job scheduler) stops the command as Ctrl-C does, so that the temporary
    # files (the encoded corpus, w2v-phrases-* folders) are removed on the way out.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        args.run(args)
    except W2VError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`python cli.py similar paris | head -3`), as for any Unix tool: no
        # traceback, and stdout pointed at nothing so that Python's flush at exit fails no more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


def _interrupt(signal_number: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt
