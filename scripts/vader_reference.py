#!/usr/bin/env python3
"""Reference VADER scores from Python vaderSentiment 3.3.2, for Pulse's parity test and benchmark.

Usage:
  vader_reference.py [--format lines|vader] FILE|-        print scores, one line per text:
                                                          compound TAB neg TAB neu TAB pos
  vader_reference.py [--format ...] --bench ROUNDS FILE|-  time polarity_scores over the texts
                                                          ROUNDS times on one core; print JSON

Input formats (UTF-8; lines split on "\\n", one trailing "\\r" removed, so CRLF files work and a
last line without a newline is kept):
  lines  one text per line (TweetEval `*_text.txt`)
  vader  VADER ground truth: ID TAB MEAN TAB TEXT (the text is the third column)

Install the reference with scripts/ci-deps.d/lexicon.sh (pip install vaderSentiment==3.3.2).
"""
import argparse
import json
import sys
import time

WANTED_VERSION = "3.3.2"


def fail(message):
    print(f"vader_reference.py: {message}", file=sys.stderr)
    sys.exit(3)


def read_texts(path, fmt):
    data = sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()
    lines = data.decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    texts = []
    for number, line in enumerate(lines, 1):
        if line.endswith("\r"):
            line = line[:-1]
        if fmt == "vader":
            fields = line.split("\t", 2)
            if len(fields) != 3:
                fail(f"{path}:{number}: expected ID TAB MEAN TAB TEXT")
            texts.append(fields[2])
        else:
            texts.append(line)
    return texts


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--format", choices=["lines", "vader"], default="lines")
    parser.add_argument("--bench", type=int, metavar="ROUNDS", help="time ROUNDS passes instead of printing scores")
    parser.add_argument("file")
    args = parser.parse_args()

    try:
        from importlib.metadata import version

        installed = version("vaderSentiment")
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except Exception as e:  # missing package or its `requests` import
        fail(f"cannot import vaderSentiment ({e}); install it with scripts/ci-deps.d/lexicon.sh")
    if installed != WANTED_VERSION:
        fail(f"vaderSentiment {installed} is installed, the reference is {WANTED_VERSION}; "
             f"run scripts/ci-deps.d/lexicon.sh")

    texts = read_texts(args.file, args.format)
    analyzer = SentimentIntensityAnalyzer()

    if args.bench is not None:
        rounds = max(1, args.bench)
        scores = analyzer.polarity_scores
        start = time.perf_counter()
        for _ in range(rounds):
            for text in texts:
                scores(text)
        seconds = time.perf_counter() - start
        n = len(texts) * rounds
        print(json.dumps({"texts": n, "rounds": rounds, "seconds": seconds,
                          "texts_per_second": n / seconds if seconds > 0 else None}))
        return

    out = sys.stdout
    for text in texts:
        s = analyzer.polarity_scores(text)
        out.write(f"{s['compound']!r}\t{s['neg']!r}\t{s['neu']!r}\t{s['pos']!r}\n")


if __name__ == "__main__":
    main()
