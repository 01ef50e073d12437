#!/usr/bin/env bash
# Checks the three builds of the Float kernels (generic, x86-64-v3, x86-64-v4; see
# Sources/TensorKernels/KernelVariant.swift) in the RELEASE binary, where the vectoriser runs:
#
# 1. Isolation. No object of the release build other than TensorKernelsAVX2's,
#    TensorKernelsAVX512's and the bf16 GEMM's (_CBFloat16Gemm, C) contains an AVX instruction
#    (so the binary runs on any x86-64 CPU), and those objects define no function outside their
#    own module (a weak copy of a shared specialisation there could be the one the linker keeps
#    for baseline callers; the C object may define only flowformer_bf16_* functions).
# 2. Same numbers. Short training runs of an image model (Fashion-MNIST) and a causal LM (KJV)
#    with the generic and the x86-64-v3 kernels: the final parameters and optimizer state are
#    bitwise equal (h5diff). With x86-64-v4 (the AVX-512 GEMM sums in another order) the final
#    validation loss agrees within 1e-4 relative.
#
# 3. bf16. The bf16 products on VDPBF16PS and on the portable path train alike.
#
#   jobs/check-kernels.sh        # after: swift build -c release --product flowformer
# Exit 0 = pass. On a CPU without AVX2/FMA part 2 is skipped, without AVX-512 its v4 run,
# without AVX512_BF16 part 3.
set -euo pipefail
cd "$(dirname "$0")/.."
bin_dir=$(swift build -c release --show-bin-path)
bin=$bin_dir/flowformer
fail() { echo "check-kernels: FAIL: $*" >&2; exit 1; }
[ -x "$bin" ] || fail "flowformer is not built at $bin (swift build -c release --product flowformer)"
[ "$(uname -m)" = x86_64 ] || { echo "check-kernels: not x86-64, one kernel build only: skipped"; exit 0; }

# 1. Isolation.
total_vector=0
for module in TensorKernelsAVX2 TensorKernelsAVX512; do
  objects=$(ls "$bin_dir/$module.build/"*.o 2>/dev/null) || fail "no $module objects in $bin_dir"
  prefix="\$s${#module}$module"
  foreign=$(nm --defined-only $objects | awk -v prefix="$prefix" \
    'NF == 3 && $2 ~ /[TtWw]/ && index($3, prefix) != 1 {print $3}')
  [ -z "$foreign" ] || fail "$module defines functions of other modules (make the kernels they come from @inline(__always)): $foreign"
  count=$(objdump -d --no-show-raw-insn $objects | grep -c -E '%[yz]mm') || true
  [ "$count" -gt 0 ] || fail "$module contains no AVX code: is it still built with its -march?"
  total_vector=$((total_vector + count))
done
bf16_objects=$(ls "$bin_dir/_CBFloat16Gemm.build/"*.o 2>/dev/null) || fail "no _CBFloat16Gemm objects in $bin_dir"
foreign=$(nm --defined-only $bf16_objects | awk 'NF == 3 && $2 ~ /[TtWw]/ && $3 !~ /^flowformer_bf16_/ && $3 !~ /^[a-z_0-9]+$/ {print $3}')
exported=$(nm --defined-only --extern-only $bf16_objects | awk 'NF == 3 && $2 ~ /[TW]/ && $3 !~ /^flowformer_bf16_/ {print $3}')
[ -z "$foreign$exported" ] || fail "_CBFloat16Gemm defines functions other than flowformer_bf16_*: $foreign $exported"
count=$(objdump -d --no-show-raw-insn $bf16_objects | grep -c -E 'vdpbf16ps') || true
[ "$count" -gt 0 ] || fail "_CBFloat16Gemm contains no VDPBF16PS: is it still built with -mavx512bf16?"
total_vector=$((total_vector + count))
for object in "$bin_dir"/*.build/*.o; do
  case "$object" in */TensorKernelsAVX2.build/*|*/TensorKernelsAVX512.build/*|*/_CBFloat16Gemm.build/*) continue ;; esac
  if objdump -d --no-show-raw-insn "$object" | grep -q -E '%[yz]mm|\bv(fmadd|fmsub|fnmadd)'; then
    fail "$object contains AVX instructions: baseline code must run on any x86-64 CPU"
  fi
done
echo "check-kernels: isolation ok (AVX code only in TensorKernelsAVX2, TensorKernelsAVX512 and _CBFloat16Gemm: $total_vector ymm/zmm/vdpbf16ps instructions)"

# 2. Same numbers.
if ! grep -q -w avx2 /proc/cpuinfo || ! grep -q -w fma /proc/cpuinfo; then
  echo "check-kernels: this CPU cannot run the x86-64-v3 kernels: comparison skipped"
  exit 0
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
scratch=$(mktemp -d /tmp/flowformer-check-kernels.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
datasets/pack.sh fashion-mnist --out "$scratch/data" >/dev/null
datasets/pack.sh kjv --out "$scratch/data" >/dev/null

cat > "$scratch/image.yaml" <<YAML
model: {kind: image, attention: flow, d_model: 48, heads: 4, layers: 2, ff: 96, dropout: 0.1, image_size: 28, channels: 1, patch: 4, num_classes: 10}
data: {train: $scratch/data/fashion-mnist-train.h5, val: $scratch/data/fashion-mnist-val.h5}
train: {global_batch: 32, micro_batch: 16, steps: 12, seed: 3, lr: 2.0e-3, warmup_steps: 2, eval_every: 12, log_every: 4}
checkpoint: {dir: $scratch/unused, every: 12, keep: 1}
YAML
cat > "$scratch/lm.yaml" <<YAML
model: {kind: lm, attention: flow, d_model: 32, heads: 4, layers: 2, ff: 64, dropout: 0.1, seq_len: 64, vocab_size: 256}
data: {train: $scratch/data/kjv-train.h5, val: $scratch/data/kjv-val.h5}
train: {global_batch: 8, micro_batch: 4, steps: 12, seed: 3, lr: 3.0e-3, warmup_steps: 2, eval_every: 12, log_every: 4}
checkpoint: {dir: $scratch/unused, every: 12, keep: 1}
YAML
for model in image lm; do
  for variant in generic x86-64-v3; do
    FLOWFORMER_KERNELS=$variant mpirun -np 2 "$bin" train --config "$scratch/$model.yaml" \
      --set checkpoint.dir="$scratch/$model-$variant" > "$scratch/$model-$variant.log" 2>&1 \
      || { cat "$scratch/$model-$variant.log" >&2; fail "$model training with $variant kernels failed"; }
    grep -q "$variant kernels" "$scratch/$model-$variant.log" || fail "$model run did not report $variant kernels"
  done
  final=checkpoint-000000012.h5
  for group in /model /optimizer; do
    h5diff -r "$scratch/$model-generic/$final" "$scratch/$model-x86-64-v3/$final" "$group" "$group" >/dev/null \
      || fail "$model: $group after 12 steps differs between generic and x86-64-v3 kernels"
  done
done
echo "check-kernels: generic and x86-64-v3 kernels give bitwise-equal training (image + causal LM, 12 steps, 2 ranks)"

if ! grep -q -w avx512f /proc/cpuinfo || ! grep -q -w avx512bw /proc/cpuinfo; then
  echo "check-kernels: this CPU cannot run the x86-64-v4 kernels: their comparison skipped"
  exit 0
fi
final_val_loss() {  # the last validation loss in a run's metrics.jsonl
  grep '"event": "eval"' "$1/metrics.jsonl" | tail -1 | sed 's/.*"val_loss": \([^,}]*\).*/\1/'
}
for model in image lm; do
  FLOWFORMER_KERNELS=x86-64-v4 mpirun -np 2 "$bin" train --config "$scratch/$model.yaml" \
    --set checkpoint.dir="$scratch/$model-v4" > "$scratch/$model-v4.log" 2>&1 \
    || { cat "$scratch/$model-v4.log" >&2; fail "$model training with x86-64-v4 kernels failed"; }
  reference=$(final_val_loss "$scratch/$model-generic")
  got=$(final_val_loss "$scratch/$model-v4")
  python3 -c "import sys; a, b = float('$reference'), float('$got'); sys.exit(0 if abs(a - b) <= 1e-4 * abs(a) else 1)" \
    || fail "$model: validation loss with x86-64-v4 kernels $got, generic $reference (more than 1e-4 apart)"
  echo "check-kernels: $model validation loss after 12 steps: generic $reference, x86-64-v4 $got"
done

# 3. bf16 products (train.precision: bf16): the VDPBF16PS GEMM (x86-64-v4 on an AVX512_BF16 CPU)
#    against the portable path (x86-64-v3: bf16-rounded operands through the fp32 GEMM, which
#    says so in one line). Same rounding of the operands, fp32 sums in another order: the
#    validation losses agree within 1e-4 relative.
if ! grep -q -w avx512_bf16 /proc/cpuinfo; then
  echo "check-kernels: this CPU has no AVX512_BF16: bf16 comparison skipped"
  exit 0
fi
for variant in x86-64-v3 x86-64-v4; do
  FLOWFORMER_KERNELS=$variant mpirun -np 2 "$bin" train --config "$scratch/lm.yaml" --set train.precision=bf16 \
    --set checkpoint.dir="$scratch/lm-bf16-$variant" > "$scratch/lm-bf16-$variant.log" 2>&1 \
    || { cat "$scratch/lm-bf16-$variant.log" >&2; fail "bf16 lm training with $variant kernels failed"; }
done
grep -q "precision bf16: FLOWFORMER_KERNELS=x86-64-v3" "$scratch/lm-bf16-x86-64-v3.log" \
  || fail "the portable bf16 run did not say that it is not faster"
if grep -q "precision bf16:" "$scratch/lm-bf16-x86-64-v4.log"; then fail "the VDPBF16PS run printed the slow-path notice"; fi
portable=$(final_val_loss "$scratch/lm-bf16-x86-64-v3")
fast=$(final_val_loss "$scratch/lm-bf16-x86-64-v4")
fp32=$(final_val_loss "$scratch/lm-generic")
python3 -c "import sys; a, b = float('$portable'), float('$fast'); sys.exit(0 if abs(a - b) <= 1e-4 * abs(a) else 1)" \
  || fail "bf16 lm: validation loss on VDPBF16PS $fast, portable $portable (more than 1e-4 apart)"
echo "check-kernels: bf16 lm validation loss after 12 steps: portable $portable, VDPBF16PS $fast (fp32: $fp32)"
