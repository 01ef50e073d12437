"""Checks a run directory's TensorBoard event files against its metrics.jsonl with TensorBoard's
own reader: every numeric field of every record (tag `<event>/<key>`) at the same steps, equal to
1e-6 relative (event values are float32), and no step twice. A step logged twice in
metrics.jsonl (a resume from an older checkpoint re-runs steps) counts with its first record,
which is the one the event files keep.

    tb_check.py RUN_DIR [--expect-files N]
"""

import argparse
import glob
import json
import os
import sys

from tensorboard.backend.event_processing import event_accumulator


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir")
    parser.add_argument("--expect-files", type=int, default=0, help="event files expected (0: any)")
    args = parser.parse_args()

    # tag → {step: value}, from the first record of each (event, step): a resumed run logs the
    # steps after its checkpoint again, and the event files keep the first record of each, whose
    # timing fields (throughput, the slow-rank report, present only when a rank lags) differ.
    expected = {}
    first_records = set()
    with open(os.path.join(args.run_dir, "metrics.jsonl")) as file:
        for line in file:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            event, step = record.get("event"), record.get("step")
            if not isinstance(event, str) or not isinstance(step, int) or (event, step) in first_records:
                continue
            first_records.add((event, step))
            for key, value in record.items():
                if key == "step" or isinstance(value, (str, bool)) or value is None:
                    continue
                expected.setdefault(f"{event}/{key}", {})[step] = float(value)

    files = glob.glob(os.path.join(args.run_dir, "events.out.tfevents.*"))
    if args.expect_files and len(files) != args.expect_files:
        sys.exit(f"tb_check: {len(files)} event files in {args.run_dir}, expected {args.expect_files}")
    accumulator = event_accumulator.EventAccumulator(args.run_dir, size_guidance={event_accumulator.SCALARS: 0})
    accumulator.Reload()
    tags = set(accumulator.Tags()["scalars"])
    if tags != set(expected):
        sys.exit(f"tb_check: tags differ: only in events {sorted(tags - set(expected))}, "
                 f"only in metrics.jsonl {sorted(set(expected) - tags)}")
    compared = 0
    for tag in sorted(tags):
        scalars = accumulator.Scalars(tag)
        steps = [s.step for s in scalars]
        if len(steps) != len(set(steps)):
            sys.exit(f"tb_check: {tag}: a step appears twice in the event files: {steps}")
        if sorted(steps) != sorted(expected[tag]):
            sys.exit(f"tb_check: {tag}: steps {sorted(steps)} in the events, {sorted(expected[tag])} in metrics.jsonl")
        for s in scalars:
            want = expected[tag][s.step]
            if not (abs(s.value - want) <= 1e-6 * max(abs(want), 1e-12)):
                sys.exit(f"tb_check: {tag} step {s.step}: event {s.value!r} vs metrics.jsonl {want!r}")
            compared += 1
    print(f"tb_check: {compared} values of {len(tags)} tags in {len(files)} event files match metrics.jsonl")


if __name__ == "__main__":
    main()
