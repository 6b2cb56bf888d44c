"""Command-line front: parses arguments, calls the library, prints results; errors become one line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from w2v.errors import W2VError
from w2v.evaluate import evaluate_analogies, evaluate_similarity, shipped_list
from w2v.trainer import DEVICES, TrainConfig, check_writable, train
from w2v.vectors import load

DEFAULT_VECTORS = "vectors.bin"


def _train(args: argparse.Namespace) -> None:
    config = TrainConfig(
        dim=args.dim,
        window=args.window,
        negative=args.negative,
        sample=args.sample,
        alpha=args.alpha,
        min_alpha=args.min_alpha,
        epochs=args.epochs,
        min_count=args.min_count,
        max_vocab=args.max_vocab,
        seed=args.seed,
        threads=args.threads or TrainConfig().threads,
        device=args.device,
        batch_words=args.batch_words,
        tokenizer=args.tokenizer,
        lowercase=args.lowercase,
    )
    config.validate()
    check_writable(args.output)
    model = train(args.corpus, config, progress=not args.quiet)
    written = model.save(args.output)
    print(
        f"wrote {len(model.vectors):,} vectors of {config.dim} dimensions: {', '.join(map(str, written))}"
    )


def _print_ranking(ranking: list[tuple[str, float]]) -> None:
    width = max([len(word) for word, _ in ranking] + [4])
    print(f"{'rank':>4}  {'word':<{width}}  cosine")
    for rank, (word, score) in enumerate(ranking, 1):
        print(f"{rank:>4}  {word:<{width}}  {score:.4f}")


def _analogy(args: argparse.Namespace) -> None:
    vectors = load(args.vectors)
    _print_ranking(vectors.analogy(args.a, args.b, args.c, topn=args.k, method=args.method))


def _similar(args: argparse.Namespace) -> None:
    vectors = load(args.vectors)
    _print_ranking(vectors.most_similar(positive=args.words, negative=args.minus, topn=args.k))


def _evaluate(args: argparse.Namespace) -> None:
    vectors = load(args.vectors)
    analogies, similarities = args.analogies, args.similarity
    if not analogies and not similarities:
        analogies = [shipped_list("questions-words.txt")]
        similarities = [shipped_list("wordsim353.tsv"), shipped_list("simlex999.txt")]
    results = [
        evaluate_analogies(vectors, path, restrict_vocab=args.restrict) for path in analogies
    ]
    results += [evaluate_similarity(vectors, path) for path in similarities]
    if args.json:
        print(json.dumps([result.to_dict() for result in results], indent=2))
    else:
        print("\n\n".join(result.format() for result in results))


def _synthetic(args: argparse.Namespace) -> None:
    from corpora.synthetic import write_corpus, write_questions

    words = write_corpus(args.output, n_sentences=args.sentences, seed=args.seed)
    print(f"wrote {words:,} words to {args.output}")
    if args.questions:
        print(f"wrote {write_questions(args.questions):,} analogy questions to {args.questions}")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="cli.py", description="word2vec embeddings on torch")
    commands = parser.add_subparsers(dest="command", required=True)
    defaults = TrainConfig()

    train_parser = commands.add_parser("train", help="train word vectors on text files")
    train_parser.add_argument(
        "corpus", nargs="+", help="text files, folders or globs; .gz .bz2 .xz read transparently"
    )
    train_parser.add_argument(
        "-o",
        "--output",
        default=DEFAULT_VECTORS,
        help="vectors file: word2vec binary, or text if it ends in .txt or .vec (default: %(default)s)",
    )
    train_parser.add_argument(
        "--dim", type=int, default=defaults.dim, help="vector dimensions (default: %(default)s)"
    )
    train_parser.add_argument(
        "--window",
        type=int,
        default=defaults.window,
        help="largest context window; each centre draws one from 1..window (default: %(default)s)",
    )
    train_parser.add_argument(
        "--negative",
        type=int,
        default=defaults.negative,
        help="noise words per centre word (default: %(default)s)",
    )
    train_parser.add_argument(
        "--sample",
        type=float,
        default=defaults.sample,
        help="subsampling threshold for frequent words, 0 to keep all (default: %(default)s)",
    )
    train_parser.add_argument(
        "--alpha",
        type=float,
        default=defaults.alpha,
        help="starting learning rate (default: %(default)s)",
    )
    train_parser.add_argument(
        "--min-alpha",
        type=float,
        default=defaults.min_alpha,
        help="final learning rate (default: %(default)s)",
    )
    train_parser.add_argument(
        "--epochs",
        type=int,
        default=defaults.epochs,
        help="passes over the corpus (default: %(default)s)",
    )
    train_parser.add_argument(
        "--min-count",
        type=int,
        default=defaults.min_count,
        help="drop words seen fewer times (default: %(default)s)",
    )
    train_parser.add_argument(
        "--max-vocab", type=int, default=None, help="keep only this many most frequent words"
    )
    train_parser.add_argument(
        "--seed", type=int, default=defaults.seed, help="random seed (default: %(default)s)"
    )
    train_parser.add_argument(
        "--threads", type=int, default=None, help="CPU threads (default: all cores)"
    )
    train_parser.add_argument(
        "--device",
        choices=DEVICES,
        default=defaults.device,
        help="auto takes a GPU when there is one (default: %(default)s)",
    )
    train_parser.add_argument(
        "--batch-words",
        type=int,
        default=defaults.batch_words,
        help="most centre words per batched update (default: %(default)s)",
    )
    train_parser.add_argument(
        "--tokenizer",
        choices=("words", "whitespace"),
        default=defaults.tokenizer,
        help="words: split letters and digits from punctuation; whitespace: split on spaces only (default: %(default)s)",
    )
    train_parser.add_argument(
        "--no-lowercase", dest="lowercase", action="store_false", help="keep the case of words"
    )
    train_parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    train_parser.set_defaults(run=_train)

    analogy_parser = commands.add_parser("analogy", help="a - b + c: 'king man woman' gives queen")
    for name in ("a", "b", "c"):
        analogy_parser.add_argument(name)
    analogy_parser.add_argument(
        "--method", choices=("3cosadd", "3cosmul"), default="3cosadd", help="(default: %(default)s)"
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
        query_parser.set_defaults(run=run)

    evaluate_parser = commands.add_parser(
        "evaluate", help="analogy accuracy and word-similarity correlation"
    )
    evaluate_parser.add_argument(
        "--vectors", default=DEFAULT_VECTORS, help="vectors file (default: %(default)s)"
    )
    evaluate_parser.add_argument(
        "--analogies", nargs="*", default=[], help="files in the questions-words.txt format"
    )
    evaluate_parser.add_argument(
        "--similarity", nargs="*", default=[], help="files of 'word1 word2 score' lines"
    )
    evaluate_parser.add_argument(
        "--restrict",
        type=int,
        default=30000,
        help="analogies use only the most frequent words (default: %(default)s)",
    )
    evaluate_parser.add_argument("--json", action="store_true", help="print the results as JSON")
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a bad input prints `error: ...` on one line and returns 1."""
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except W2VError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    return 0
