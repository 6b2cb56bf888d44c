"""Command-line entry point: `python cli.py train corpus.txt`, `python cli.py analogy king man woman`."""

import sys

from w2v.cli import main

if __name__ == "__main__":
    sys.exit(main())
