"""King James Bible → byte-level `tokens` files (uint16 stream, vocab_size 256).

The text comes from `bible gen1:1-rev22:21` (Debian package bible-kjv), which prints each
chapter as a blank line, a heading ("Genesis 1"), a blank line, then verses "  N text" hard-wrapped
at 80 columns. By default the packer keeps only the scripture: verse numbers and chapter headings
are removed, each verse is unwrapped onto one line, and chapters are separated by one blank line.
`--keep-references` keeps the `bible` output exactly as printed.

The last `--val-fraction` (default 5%) of the bytes, cut at the next line break, is the val split
(the end of the New Testament); the rest is train. Token t is the byte value t (ASCII here).
"""

import argparse
import shutil
import subprocess

import numpy as np

import h5write

VOCAB_SIZE = 256
FULL_RANGE = "gen1:1-rev22:21"


def bible_text(command: str) -> str:
    if shutil.which(command) is None:
        raise SystemExit(f"{command}: not found (apt-get install bible-kjv, or pass --bible PATH)")
    result = subprocess.run([command, FULL_RANGE], check=True, capture_output=True)
    return result.stdout.decode("ascii")


def scripture_only(raw: str) -> str:
    """Verses one per line without their numbers, chapters separated by a blank line."""
    chapters = []     # [[verse text]]
    verse = None      # words of the verse being read
    expect_heading = True
    for line in raw.split("\n"):
        if not line.strip():
            if verse is not None:
                chapters[-1].append(" ".join(verse))
                verse = None
            expect_heading = True
            continue
        if expect_heading and not line.startswith(" "):
            chapters.append([])   # a heading such as "Genesis 1": dropped
            expect_heading = False
            continue
        expect_heading = False
        stripped = line.strip()
        number, _, rest = stripped.partition(" ")
        if line.startswith("  ") and number.isdigit():
            if verse is not None:
                chapters[-1].append(" ".join(verse))
            verse = [rest.strip()]
        else:
            if verse is None:
                raise SystemExit(f"bible output: text outside a verse: {line!r}")
            verse.append(stripped)
    if verse is not None:
        chapters[-1].append(" ".join(verse))
    return "\n\n".join("\n".join(verses) for verses in chapters) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="pack.sh kjv", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    h5write.add_common_arguments(parser, "kjv")
    parser.add_argument("--bible", default="bible", help="the bible-kjv command (default: bible)")
    parser.add_argument("--text", help="read this text file instead of running `bible` (packed as is)")
    parser.add_argument("--val-fraction", type=float, default=0.05,
                        help="fraction of the bytes, at the end, kept for val (default: 0.05)")
    parser.add_argument("--keep-references", action="store_true",
                        help="keep chapter headings, verse numbers and line wraps as `bible` prints them")
    args = parser.parse_args()
    if not 0.0 < args.val_fraction < 1.0:
        raise SystemExit(f"--val-fraction must be in (0, 1), got {args.val_fraction}")

    if args.text:
        with open(args.text, "rb") as stream:
            data = stream.read()
        source = f"text file {args.text}"
    else:
        raw = bible_text(args.bible)
        text = raw if args.keep_references else scripture_only(raw)
        data = text.encode("ascii")
        source = "King James Version (bible-kjv), public domain"

    cut = int(len(data) * (1.0 - args.val_fraction))
    newline = data.find(b"\n", cut)
    cut = newline + 1 if 0 <= newline < len(data) - 1 else cut
    tokens = np.frombuffer(data, dtype=np.uint8).astype(np.uint16)
    directory = h5write.output_directory(args)
    for split, stream in (("train", tokens[:cut]), ("val", tokens[cut:])):
        paths = h5write.write_split(directory, args.name, split, "tokens", {"tokens": stream},
                                    {"vocab_size": VOCAB_SIZE, "source": source,
                                     "encoding": "bytes"},
                                    args.shard_size, args.chunk_bytes)
        h5write.report(paths, f"{split}, {stream.shape[0]:,} byte tokens")


if __name__ == "__main__":
    h5write.run(main)
