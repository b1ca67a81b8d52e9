#!/usr/bin/env bash
# The benchmark driver: simfluence against the NumPy/SciPy reference (reference_fit.py) on the
# same files, in the same run. See Docs/Performance.md.
#
#   Benchmarks/run.sh [WORKDIR]            (default WORKDIR: /tmp/simfluence-bench)
#
# Environment: LARGE_REF_TESTS (default 16) test examples the Python reference fits on the large
# workload, extrapolated linearly to all 1,000 (labelled); SKIP_LARGE=1 skips the large workload,
# SKIP_MEDIUM=1 the medium one (every ridge-family method, fixed and `--lambda auto`, on a
# 65 MB GPTDynamics JSON log; a few minutes); PAPER_LAMBDA, MEDIUM_LAMBDA and LARGE_LAMBDA the
# fixed ridge penalties (defaults: the lambda that `fit --lambda auto` chooses on each workload:
# 0.01 on paper, 0.01 on medium (linear), 10 on large, the latter measured on its first
# 16 test examples); MEDIUM_METHODS the methods of the medium rows; THREADS (default: all cores).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
WORK="${1:-/tmp/simfluence-bench}"
PAPER_LAMBDA="${PAPER_LAMBDA:-0.01}"
LARGE_LAMBDA="${LARGE_LAMBDA:-10}"
LARGE_REF_TESTS="${LARGE_REF_TESTS:-16}"
MEDIUM_LAMBDA="${MEDIUM_LAMBDA:-0.01}"
MEDIUM_METHODS="${MEDIUM_METHODS:-linear additive multiplicative linear-pooled linear-time linear-carry linear-rollout lag-kernel}"
THREADS_OPT=()
[ -n "${THREADS:-}" ] && THREADS_OPT=(--threads "$THREADS")
mkdir -p "$WORK"

echo "== building (release)"
(cd "$ROOT" && swift build -c release >/dev/null)
(cd "$HERE" && swift build -c release >/dev/null)
SIMFLUENCE="$ROOT/.build/release/simfluence"
BENCH="$HERE/.build/release/simfluence-bench"

echo "== machine: $(nproc) cores; $(uptime)"

for w in paper medium large; do
  if [ "$w" = large ] && [ "${SKIP_LARGE:-0}" = 1 ]; then continue; fi
  if [ "$w" = medium ] && [ "${SKIP_MEDIUM:-0}" = 1 ]; then continue; fi
  if [ ! -f "$WORK/$w/simfluence-log.json" ] && [ ! -f "$WORK/$w/runs/run50/all_loss_trajectory.out" ]; then
    echo "== generating $w"
    "$BENCH" generate "$w" "$WORK/$w"
  fi
done

# time_cmd NAME CMD...: runs CMD under /usr/bin/time, records wall s, user s, peak KB.
time_cmd() {
  local name="$1"; shift
  /usr/bin/time -f "%e %U %M" -o "$WORK/$name.time" "$@" > "$WORK/$name.out" 2> "$WORK/$name.err" || {
    echo "FAILED: $name"; cat "$WORK/$name.err"; exit 1; }
  read -r WALL USER PEAK < <(tail -1 "$WORK/$name.time")
}

row() { printf "| %-34s | %10s | %10s | %9s | %-40s | %8s |\n" "$@"; }
TABLE="$WORK/table.md"
{
row "workload / run" "simfluence" "reference" "ratio" "accuracy" "peak MB"
row "---" "---" "---" "---" "---" "---"
} > "$TABLE"

# --- paper, fixed lambda
echo "== paper: simfluence fit --lambda $PAPER_LAMBDA"
time_cmd paper-fit "$SIMFLUENCE" fit "$WORK/paper" --lambda "$PAPER_LAMBDA" -o "$WORK/paper-fixed.simfluence" "${THREADS_OPT[@]}"
S_WALL=$WALL; S_PEAK=$PEAK
echo "== paper: reference (spsolve on the normal equations, all 200 test examples)"
time_cmd paper-ref python3 "$HERE/reference_fit.py" "$WORK/paper" --lambda "$PAPER_LAMBDA" --solver spsolve --out "$WORK/paper-ref"
R_WALL=$WALL
ACC=$(python3 "$HERE/compare.py" "$WORK/paper-fixed.simfluence" "$WORK/paper" "$WORK/paper-ref" "$PAPER_LAMBDA")
ACC_TXT=$(python3 -c "import json,sys; a=json.loads(sys.argv[1]); print('param diff %.1e, residual %.1e' % (a['max_rel_param_diff'], a['simfluence_rel_residual']))" "$ACC")
row "paper, fixed lambda=$PAPER_LAMBDA" "${S_WALL} s" "${R_WALL} s" "$(python3 -c "print('%.1fx' % ($R_WALL/$S_WALL))")" "$ACC_TXT" "$((S_PEAK/1024))" >> "$TABLE"

# --- paper, auto lambda (cross-validation)
echo "== paper: simfluence fit --lambda auto"
time_cmd paper-auto "$SIMFLUENCE" fit "$WORK/paper" --lambda auto -o "$WORK/paper-auto.simfluence" "${THREADS_OPT[@]}"
row "paper, --lambda auto (11 x 5-fold CV)" "${WALL} s" "-" "-" "chosen $(grep -o 'lambda = [^ ]*' "$WORK/paper-auto.out" | head -1)" "$((PEAK/1024))" >> "$TABLE"

# --- medium: every ridge-family method, fixed lambda and --lambda auto (GPTDynamics JSON log)
ratio() { python3 -c "import sys; print('%.1fx' % (float(sys.argv[1]) / float(sys.argv[2])))" "$1" "$2"; }
if [ "${SKIP_MEDIUM:-0}" != 1 ]; then
  echo "== medium: reference (lsqr, atol = btol = 1e-7, all 200 test examples, reading the JSON log included)"
  time_cmd medium-ref python3 "$HERE/reference_fit.py" "$WORK/medium" --lambda "$MEDIUM_LAMBDA" --solver lsqr --tol 1e-7 \
    --out "$WORK/medium-ref"
  R_WALL=$WALL
  declare -A FIXED
  for method in $MEDIUM_METHODS; do
    echo "== medium: simfluence fit --method $method --lambda $MEDIUM_LAMBDA"
    time_cmd "medium-fit-$method" "$SIMFLUENCE" fit "$WORK/medium" --method "$method" --lambda "$MEDIUM_LAMBDA" \
      -o "$WORK/medium-$method.simfluence" "${THREADS_OPT[@]}"
    FIXED[$method]=$WALL
    if [ "$method" = linear ]; then
      ACC=$(python3 "$HERE/compare.py" "$WORK/medium-linear.simfluence" "$WORK/medium" "$WORK/medium-ref" "$MEDIUM_LAMBDA")
      ACC_TXT=$(python3 -c "import json,sys; a=json.loads(sys.argv[1]); print('residual %.1e; param diff to lsqr 1e-7: %.1e' % (a['simfluence_rel_residual'], a['max_rel_param_diff']))" "$ACC")
      row "medium, linear, lambda=$MEDIUM_LAMBDA" "${WALL} s" "${R_WALL} s" "$(ratio "$R_WALL" "$WALL")" "$ACC_TXT" "$((PEAK/1024))" >> "$TABLE"
    else
      row "medium, $method, lambda=$MEDIUM_LAMBDA" "${WALL} s" "-" "-" "$(ratio "$WALL" "${FIXED[linear]:-$WALL}") linear's time" "$((PEAK/1024))" >> "$TABLE"
    fi
  done
  for method in $MEDIUM_METHODS; do
    echo "== medium: simfluence fit --method $method --lambda auto"
    time_cmd "medium-auto-$method" "$SIMFLUENCE" fit "$WORK/medium" --method "$method" --lambda auto \
      -o "$WORK/medium-auto-$method.simfluence" "${THREADS_OPT[@]}"
    row "medium, $method, --lambda auto" "${WALL} s" "-" "-" \
      "$(ratio "$WALL" "${FIXED[$method]}") its fixed fit; $(grep -o 'lambda = [^ ]*' "$WORK/medium-auto-$method.out" | head -1)" "$((PEAK/1024))" >> "$TABLE"
  done
fi

# --- large
if [ "${SKIP_LARGE:-0}" != 1 ]; then
  echo "== large: simfluence fit --lambda $LARGE_LAMBDA (all 1,000 test examples)"
  time_cmd large-fit "$SIMFLUENCE" fit "$WORK/large" --lambda "$LARGE_LAMBDA" -o "$WORK/large-fixed.simfluence" "${THREADS_OPT[@]}"
  S_WALL=$WALL; S_PEAK=$PEAK
  # lsqr twice on the same test examples: stopped at 1e-7, where its residual of the normal
  # equations matches simfluence's CG tolerance (the time at equal accuracy, the ratio that
  # counts), and at 1e-10 (the accuracy reference the parameters are compared with).
  for tol in 1e-7 1e-10; do
    echo "== large: reference (lsqr, atol = btol = $tol) on $LARGE_REF_TESTS test examples, extrapolated to 1,000"
    time_cmd "large-ref-$tol" python3 "$HERE/reference_fit.py" "$WORK/large" --lambda "$LARGE_LAMBDA" --solver lsqr --tol "$tol" \
      --tests "0:$LARGE_REF_TESTS" --out "$WORK/large-ref-$tol"
  done
  ACC=$(python3 "$HERE/compare.py" "$WORK/large-fixed.simfluence" "$WORK/large" "$WORK/large-ref-1e-10" "$LARGE_LAMBDA")
  ACC_TXT=$(python3 -c "import json,sys; a=json.loads(sys.argv[1]); print('residual %.1e (%d rows); param diff to lsqr 1e-10: %.1e' % (a['simfluence_rel_residual'], a['rows_checked'], a['max_rel_param_diff']))" "$ACC")
  for tol in 1e-7 1e-10; do
    read -r R_EXTRA R_RES < <(python3 -c "import json; i=json.load(open('$WORK/large-ref-$tol.json')); print('%.0f %.1e' % (i['setup_seconds'] + i['solve_seconds'] * 1000 / $LARGE_REF_TESTS, i['max_relative_residual']))")
    row "large, fixed lambda=$LARGE_LAMBDA, lsqr $tol" "${S_WALL} s" "~${R_EXTRA} s (extrap.)" "$(python3 -c "print('%.1fx' % ($R_EXTRA/$S_WALL))")" \
      "$([ "$tol" = 1e-7 ] && echo "$ACC_TXT" || echo "lsqr residual $R_RES")" "$((S_PEAK/1024))" >> "$TABLE"
  done
fi

# --- batch rollout
echo "== batch rollout"
"$BENCH" rollout | tee "$WORK/rollout.out"

echo
echo "Reference times: paper = measured on all test examples; large = setup + (solve time on $LARGE_REF_TESTS test examples) x 1000/$LARGE_REF_TESTS (extrapolated, labelled); lsqr 1e-7 is the equal-accuracy comparison (its residual of the normal equations ~8e-8, simfluence's tolerance 1e-7)."
cat "$TABLE"
