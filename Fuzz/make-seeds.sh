#!/usr/bin/env bash
# Regenerates the seed corpora in Fuzz/corpus/<target>/ from tiny logs written by the CLI
# (`simfluence synth`, `simfluence fit`) plus small hand-written files. The seeds are committed;
# run this only to refresh them.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
cd "$root"
swift build --product simfluence >/dev/null
bin="$(swift build --show-bin-path)/simfluence"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
corpus="$here/corpus"
rm -rf "$corpus"
mkdir -p "$corpus"/{npy,model,curriculum,initial-losses,gptdynamics,native,merge,gradients}
sep=$'\n--8<--\n'
small=(--runs 3 --pool 6 --sample 4 --batch 2 --epochs 1 --test 3 --seed 5)

"$bin" synth -o "$work/native" "${small[@]}" >/dev/null
"$bin" synth -o "$work/gpt" --format gptdynamics "${small[@]}" >/dev/null
"$bin" fit "$work/native" --lambda 0.1 -o "$corpus/model/linear.simfluence" >/dev/null
"$bin" fit "$work/gpt" --method additive --lambda 0.5 -o "$corpus/model/additive.simfluence" >/dev/null
"$bin" fit "$work/native" --method multiplicative --lambda 1 -o "$corpus/model/multiplicative.simfluence" >/dev/null

# merge: the parts of sharded fits, one input per split.
for k in 1 2 3; do
  "$bin" fit "$work/native" --lambda 0.1 --shard "$k/3" -o "$work/part$k.simfluence" >/dev/null
  "$bin" fit "$work/gpt" --method linear-time --lambda 1 --shard "$k/3" -o "$work/time$k.simfluence" >/dev/null
done
{ cat "$work/part1.simfluence"; printf '%s' "$sep"; cat "$work/part2.simfluence"; printf '%s' "$sep"; cat "$work/part3.simfluence"; } \
  > "$corpus/merge/linear-3"
{ cat "$work/time3.simfluence"; printf '%s' "$sep"; cat "$work/time1.simfluence"; printf '%s' "$sep"; cat "$work/time2.simfluence"; } \
  > "$corpus/merge/linear-time-3"

for r in run1 run2; do
  cp "$work/native/runs/$r/losses.npy" "$corpus/npy/$r.npy"
  cp "$work/native/runs/$r/curriculum.jsonl" "$corpus/curriculum/native-$r.jsonl"
  cp "$work/gpt/runs/$r/train_samples_id.json" "$corpus/curriculum/gpt-$r.json"
  { cat "$work/native/simfluence-log.json"; printf '%s' "$sep"; cat "$work/native/runs/$r/curriculum.jsonl"; printf '%s' "$sep"
    cat "$work/native/runs/$r/losses.npy"; } > "$corpus/native/$r"
done
{ cat "$work/gpt/runs/run1/train_samples_id.json"; printf '%s' "$sep"; cat "$work/gpt/runs/run1/all_loss_trajectory.out"; } \
  > "$corpus/gptdynamics/one-run"
{ cat "$work/gpt/runs/run1/train_samples_id.json"; printf '%s' "$sep"; cat "$work/gpt/runs/run1/all_loss_trajectory.out"
  printf '%s' "$sep"; cat "$work/gpt/runs/run2/train_samples_id.json"; printf '%s' "$sep"; cat "$work/gpt/runs/run2/all_loss_trajectory.out"; } \
  > "$corpus/gptdynamics/two-runs"

# Hand-written seeds: other forms and edge cases the generated files do not show.
python3 - "$corpus" <<'PY'
import struct, sys, os
c = sys.argv[1]
def npy(name, header, data, major=1):
    h = header.encode() + b"\n"
    pre = b"\x93NUMPY" + bytes([major, 0]) + (struct.pack("<H", len(h)) if major == 1 else struct.pack("<I", len(h)))
    open(os.path.join(c, "npy", name), "wb").write(pre + h + data)
npy("f4-1d.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", struct.pack("<3f", 1.5, -2, 0))
npy("v2.npy", "{\"descr\":\"<f8\",\"fortran_order\":False,\"shape\":(1, 2)}", struct.pack("<2d", 7, 8), major=2)
npy("empty.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 4), }", b"")
# gradients: an index and its matrices (4 pool examples, 2 test examples, 3 dimensions, two checkpoints).
def npy_bytes(rows, cols, values):
    h = ("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (rows, cols)).encode() + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + struct.pack("<%df" % len(values), *values)
index = ('{"format": "simfluence-gradients", "version": 1, "batch_size": 2, "train_ids": ["0", "1", "2", "3"], '
         '"test_ids": ["t0", "t1"], "dimension": 3, "checkpoints": ['
         '{"step": 0, "learning_rate": 0.1, "steps_covered": 4, "train": "ckpt0_train.npy", "test": "ckpt0_test.npy"}, '
         '{"step": 4, "learning_rate": 0.1, "steps_covered": 0, "train": "ckpt1_train.npy", "test": "ckpt1_test.npy"}], '
         '"metadata": {"reference_run": "run1"}}').encode()
sep = b"\n--8<--\n"
mats = [npy_bytes(4, 3, [0.5, -1, 2, 0, 1, 1, -0.25, 3, 0.5, 1, 1, 1]), npy_bytes(2, 3, [1, 0, -1, 0.5, 0.5, 2]),
        npy_bytes(4, 3, [0.1, -0.2, 0.3, 0, 0.4, 1, -0.5, 0.6, 0.5, 1, 0, 1]), npy_bytes(2, 3, [0, 1, -1, 2, 0.5, 0])]
open(os.path.join(c, "gradients", "two-checkpoints"), "wb").write(sep.join([index] + mats))
open(os.path.join(c, "curriculum", "array.json"), "w").write('[[17, 3, 3], ["a", "x y", "\\u00fc"], [-1]]\n')
open(os.path.join(c, "curriculum", "extra.jsonl"), "w").write('{"batch": [1, 1], "step": 1, "note": {"a": [null, true, 1e5]}}\r\n\n{"step": 2, "samples_id": ["b"]}\n')
open(os.path.join(c, "initial-losses", "object.json"), "w").write('{"12": 2.31, "t-1": 1e-3, "7": -0.5}\n')
open(os.path.join(c, "initial-losses", "lines.jsonl"), "w").write('{"id": 12, "loss": 2.5}\n{"id": "t 1", "loss": 0.001, "extra": [1]}\n')
open(os.path.join(c, "initial-losses", "one.jsonl"), "w").write('{"id": 3, "loss": 1.25}\n')
PY
find "$corpus" -type f | wc -l
du -sh "$corpus"
