"""ListOps (Long Range Arena rules) → `sequences` files.

A tree is generated top-down from depth 0. A node below depth 10 is a digit 0–9 with probability
0.75, otherwise an operator with 2–10 arguments (each a node one level deeper); a node at depth
10 is a digit. Operators: MIN, MAX, MED (median of the arguments, rounded down when their count
is even), SM (sum mod 10). Written in prefix form with closing brackets, e.g.
`[MAX 2 9 [MIN 4 7 ] 0 ]` = 9. A tree is kept when min-length < its token count < max-length
(500 and 2000) and it was not generated before (no duplicates within or across splits).

Vocabulary (16 ids, fixed): PAD=0, digits 0–9 → 1–10, [MIN=11, [MAX=12, [MED=13, [SM=14, ]=15.
`tokens` int32 [N, seq_len] (padded with PAD at the end), `labels` uint8 [N] (the value),
`lengths` int32 [N] (tokens before padding). num_classes 10, vocab_size 16.

Splits are drawn in the order train, val, test from one generator seeded with --seed, so a
given (seed, counts) always gives the same files. LRA's sizes: --train 96000 --val 2000 --test 2000.
"""

import argparse
import random

import numpy as np

import h5write

PAD = 0
DIGIT_BASE = 1                    # digit d has id DIGIT_BASE + d
OPERATORS = ["MIN", "MAX", "MED", "SM"]
OPERATOR_BASE = 11                # operator i has id OPERATOR_BASE + i
CLOSE = 15
VOCAB_SIZE = 16
VOCABULARY = " ".join(["PAD"] + [str(d) for d in range(10)] + ["[" + op for op in OPERATORS] + ["]"])
NUM_CLASSES = 10

MAX_DEPTH = 10
MAX_ARGUMENTS = 10
DIGIT_PROBABILITY = 0.75


class TooLong(Exception):
    """Raised while generating a tree that already has max-length tokens or more."""


def apply(operator: int, values: list) -> int:
    if operator == 0:
        return min(values)
    if operator == 1:
        return max(values)
    if operator == 2:
        ordered = sorted(values)
        middle = len(ordered) // 2
        if len(ordered) % 2:
            return ordered[middle]
        return (ordered[middle - 1] + ordered[middle]) // 2
    return sum(values) % 10


def generate(rng: random.Random, depth: int, tokens: list, max_length: int) -> int:
    """Appends one node's tokens to `tokens`; returns its value."""
    if len(tokens) >= max_length:
        raise TooLong
    if depth >= MAX_DEPTH or rng.random() < DIGIT_PROBABILITY:
        digit = rng.randrange(10)
        tokens.append(DIGIT_BASE + digit)
        return digit
    operator = rng.randrange(len(OPERATORS))
    arguments = rng.randint(2, MAX_ARGUMENTS)
    tokens.append(OPERATOR_BASE + operator)
    values = [generate(rng, depth + 1, tokens, max_length) for _ in range(arguments)]
    tokens.append(CLOSE)
    return apply(operator, values)


def render(tokens) -> str:
    """Text form of token ids, for people: `[MAX 2 9 ]`."""
    names = VOCABULARY.split(" ")
    return " ".join(names[t] for t in tokens if t != PAD)


def evaluate(tokens) -> int:
    """Value of a tree given as token ids (an independent check of `generate`)."""
    stack = []
    for token in tokens:
        if token == PAD:
            break
        if token == CLOSE:
            values = []
            while not isinstance(stack[-1], tuple):
                values.append(stack.pop())
            operator = stack.pop()[0]
            stack.append(apply(operator, values))
        elif token >= OPERATOR_BASE:
            stack.append((token - OPERATOR_BASE,))
        else:
            stack.append(token - DIGIT_BASE)
    if len(stack) != 1:
        raise ValueError("malformed tree")
    return stack[0]


def draw(rng: random.Random, count: int, min_length: int, max_length: int, seen: set) -> list:
    samples = []
    while len(samples) < count:
        tokens = []
        try:
            value = generate(rng, 0, tokens, max_length)
        except TooLong:
            continue
        if not min_length < len(tokens) < max_length:
            continue
        key = bytes(tokens)
        if key in seen:
            continue
        seen.add(key)
        samples.append((tokens, value))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(prog="pack.sh listops", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    h5write.add_common_arguments(parser, "listops")
    parser.add_argument("--train", type=int, default=2000, help="train trees (default: 2000; LRA: 96000)")
    parser.add_argument("--val", type=int, default=200, help="val trees (default: 200; LRA: 2000)")
    parser.add_argument("--test", type=int, default=200, help="test trees (default: 200; LRA: 2000)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default: 0)")
    parser.add_argument("--seq-len", type=int, default=2000, help="padded length L (default: 2000)")
    parser.add_argument("--min-length", type=int, default=500,
                        help="keep trees with more tokens than this (default: 500)")
    parser.add_argument("--max-length", type=int, default=2000,
                        help="keep trees with fewer tokens than this (default: 2000)")
    args = parser.parse_args()
    if args.max_length - 1 > args.seq_len:
        raise SystemExit(f"--seq-len {args.seq_len} cannot hold trees of up to {args.max_length - 1} tokens")
    if not 0 <= args.min_length < args.max_length - 1:
        raise SystemExit(f"--min-length {args.min_length} and --max-length {args.max_length} leave no length")
    for name in ("train", "val", "test"):
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name} must be ≥ 1")

    rng = random.Random(args.seed)
    seen = set()
    directory = h5write.output_directory(args)
    for split in ("train", "val", "test"):
        samples = draw(rng, getattr(args, split), args.min_length, args.max_length, seen)
        tokens = np.full((len(samples), args.seq_len), PAD, dtype=np.int32)    # [N, L]
        labels = np.empty(len(samples), dtype=np.uint8)                        # [N]
        lengths = np.empty(len(samples), dtype=np.int32)                       # [N]
        for row, (sequence, value) in enumerate(samples):
            tokens[row, :len(sequence)] = sequence
            labels[row] = value
            lengths[row] = len(sequence)
        attributes = {"num_classes": NUM_CLASSES, "vocab_size": VOCAB_SIZE, "seq_len": args.seq_len,
                      "pad_id": PAD, "vocabulary": VOCABULARY, "seed": args.seed,
                      "source": "ListOps generated by the Long Range Arena rules"}
        written = h5write.write_split(directory, args.name, split, "sequences",
                                      {"tokens": tokens, "labels": labels, "lengths": lengths},
                                      attributes, args.shard_size, args.chunk_bytes)
        counts = np.bincount(labels, minlength=NUM_CLASSES)
        h5write.report(written, f"{split}, {len(samples)} trees, lengths {lengths.min()}–{lengths.max()}, "
                                f"labels per class {counts.tolist()}")


if __name__ == "__main__":
    h5write.run(main)
