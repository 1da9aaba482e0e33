#!/usr/bin/env python3
"""Reference VADER scores from Python vaderSentiment 3.3.2, for Pulse's parity test and benchmark.

Usage:
  vader_reference.py [--format lines|vader] FILE|-        print scores, one line per text:
                                                          compound TAB neg TAB neu TAB pos
  vader_reference.py [--format ...] --bench ROUNDS FILE|-  time polarity_scores over the texts
                                                          ROUNDS times on one core (after one
                                                          warm-up pass); print JSON with wall
                                                          and thread-CPU seconds

  vader_reference.py --generate N [--seed S]               print N generated adversarial texts
                                                          (deterministic for a seed) with
                                                          their scores: JSON-quoted text TAB
                                                          compound TAB neg TAB neu TAB pos

Input formats (UTF-8; lines split on "\\n", one trailing "\\r" removed, so CRLF files work and a
last line without a newline is kept):
  lines  one text per line (TweetEval `*_text.txt`)
  vader  VADER ground truth: ID TAB MEAN TAB TEXT (the text is the third column)

Install the reference with scripts/ci-deps.d/lexicon.sh (pip install vaderSentiment==3.3.2).
"""
import argparse
import json
import random
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


def generate(analyzer, n, seed):
    """Texts built to exercise every rule and the tokeniser's corner cases: lexicon words in
    random case, boosters, negations ("n't" in any case), but/no/least/kind of/idioms, emoji
    and emoticons, punctuation-wrapped tokens, runs of ! and ?, Unicode and ASCII-control
    whitespace, NUL bytes, over-long tokens and non-ASCII letters with tricky case rules."""
    from vaderSentiment.vaderSentiment import BOOSTER_DICT, NEGATE

    rng = random.Random(seed)
    lexicon = sorted(analyzer.lexicon)
    emoji = sorted(analyzer.emojis)
    boosters = sorted(BOOSTER_DICT)
    rule_words = ["no", "kind", "of", "but", "least", "at", "very", "or", "nor", "never", "so", "this",
                  "without", "doubt", "the", "shit", "bomb", "bad", "ass", "bus", "stop", "yeah", "right",
                  "kiss", "death", "to", "die", "for", "beating", "heart", "just", "enough", "sort",
                  "BUT", "Least", "n't", "N'T", "isn't", "DON'T", "Isn'T", "'n't'"]
    odd = ["\u01c5emo", "\u00c9COLE", "\u0130stanbul", "\u212aind", "stra\u00dfe", "\u03a3\u039f\u03a6\u039f\u03a3",
           "\uff27\uff2f\uff2f\uff24", "\u24b6\u24b7", "123", ":)", ":D", ":-(", "(-:O", "o.O", "<3", "...",
           "'good'", '"bad"', "--great--", "#love", "@user", "?good?", "good\x00", "x" * 30,
           "Extraordinarilywonderfulness!!"]
    seps = [" "] * 12 + ["  ", "\t", "\xa0", "\u2003", "\x1c", "\x1f", "\u3000", "\x0b", "\x0c", "\x00", "\x07"]

    def word():
        r = rng.random()
        if r < 0.35:
            w = rng.choice(lexicon)
        elif r < 0.55:
            w = rng.choice(rule_words)
        elif r < 0.65:
            w = rng.choice(boosters)
        elif r < 0.72:
            w = rng.choice(NEGATE)
        elif r < 0.80:
            w = rng.choice(emoji)
        elif r < 0.88:
            w = rng.choice(odd)
        else:
            w = rng.choice(["phone", "it", "was", "is", "a", "I", "we", "they", "movie"])
        c = rng.random()
        if c < 0.15:
            w = w.upper()
        elif c < 0.22:
            w = w.capitalize()
        p = rng.random()
        if p < 0.1:
            w += rng.choice("!?.,;:")
        elif p < 0.14:
            w = rng.choice("\"'(") + w + rng.choice("\"')")
        if rng.random() < 0.05:
            w += rng.choice(emoji)
        return w

    texts = []
    for _ in range(n):
        t = "".join(word() + rng.choice(seps) for _ in range(rng.randint(0, 16)))
        if rng.random() < 0.5:
            t = t.rstrip(" ")
        if rng.random() < 0.3:
            t += "!" * rng.randint(1, 6)
        if rng.random() < 0.2:
            t += "?" * rng.randint(1, 5)
        texts.append(t)
    return texts


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--format", choices=["lines", "vader"], default="lines")
    parser.add_argument("--bench", type=int, metavar="ROUNDS", help="time ROUNDS passes instead of printing scores")
    parser.add_argument("--generate", type=int, metavar="N", help="score N generated adversarial texts")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("file", nargs="?")
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

    analyzer = SentimentIntensityAnalyzer()
    if args.generate is not None:
        for text in generate(analyzer, args.generate, args.seed):
            s = analyzer.polarity_scores(text)
            sys.stdout.write(f"{json.dumps(text)}\t{s['compound']!r}\t{s['neg']!r}\t{s['neu']!r}\t{s['pos']!r}\n")
        return
    if args.file is None:
        parser.error("give a FILE (or - for stdin), or --generate N")
    texts = read_texts(args.file, args.format)

    if args.bench is not None:
        rounds = max(1, args.bench)
        scores = analyzer.polarity_scores
        for text in texts:  # warm-up pass, as on the Rust side
            scores(text)
        start, cpu_start = time.perf_counter(), time.thread_time()
        for _ in range(rounds):
            for text in texts:
                scores(text)
        seconds = time.perf_counter() - start
        cpu_seconds = time.thread_time() - cpu_start
        n = len(texts) * rounds
        # CPU time of this thread is the fair "one core" figure on a shared machine.
        print(json.dumps({"texts": n, "rounds": rounds, "seconds": seconds, "cpu_seconds": cpu_seconds,
                          "texts_per_second": n / cpu_seconds if cpu_seconds > 0 else None}))
        return

    out = sys.stdout
    for text in texts:
        s = analyzer.polarity_scores(text)
        out.write(f"{s['compound']!r}\t{s['neg']!r}\t{s['neu']!r}\t{s['pos']!r}\n")


if __name__ == "__main__":
    main()
