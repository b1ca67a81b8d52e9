#!/usr/bin/env bash
# The language-model workload's speed (simfluence-bench lm: pre-training, the default 32 runs of
# trainAll, tokens per second of training and evaluation, gradient features) and its main matrix
# products beside NumPy's (float32, one thread, the same shapes, timed the same way in this run).
#
#   Benchmarks/lm.sh [simfluence-bench lm flags, e.g. --runs 8 --no-gradients]
#
# Environment: THREADS (default 2) threads for pre-training, trainAll and gradient features.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
echo "== building the benchmark suite (release)"
(cd "$HERE" && swift build -c release >/dev/null)
BENCH="$HERE/.build/release/simfluence-bench"
echo "== machine: $(nproc) cores; $(uptime)"
OUT="$(mktemp)"
trap 'rm -f "$OUT"' EXIT
"$BENCH" lm --threads "${THREADS:-2}" "$@" | tee "$OUT"

echo
echo "== matrix products, 1 thread: simfluence's kernel against NumPy (OpenBLAS) on the same shapes"
printf "| %-22s | %15s | %15s | %-28s |\n" "shape (m x k) (k x n)" "simfluence" "NumPy" "NumPy time / simfluence time"
printf "| %-22s | %15s | %15s | %-28s |\n" "---" "---" "---" "---"
grep '^MATMUL' "$OUT" | while read -r _ m k n swift _; do
  numpy=$(OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python3 -c '
import sys, time
import numpy as np
m, k, n = map(int, sys.argv[1:4])
a = ((np.arange(m * k) * 7) % 13 * 0.01).astype(np.float32).reshape(m, k)
b = ((np.arange(k * n) * 5) % 11 * 0.01).astype(np.float32).reshape(k, n)
c = np.empty((m, n), dtype=np.float32)
for _ in range(100):
    np.matmul(a, b, out=c)
reps, start = 0, time.perf_counter()
while True:
    for _ in range(100):
        np.matmul(a, b, out=c)
    reps += 100
    if time.perf_counter() - start >= 0.5:
        break
print((time.perf_counter() - start) / reps)
' "$m" "$k" "$n")
  python3 -c '
import sys
m, k, n, s, p = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
g = lambda t: 2 * m * k * n / t / 1e9
shape = "(%d x %d) (%d x %d)" % (m, k, k, n)
print("| %-22s | %6.1f us %3.0fGF | %6.1f us %3.0fGF | %-28s |" % (shape, s * 1e6, g(s), p * 1e6, g(p), "%.2f" % (p / s)))
' "$m" "$k" "$n" "$swift" "$numpy"
done
echo "(GF = GFLOP/s; a ratio above 1 means simfluence's product is faster. NumPy's time includes its call overhead of about a microsecond.)"
