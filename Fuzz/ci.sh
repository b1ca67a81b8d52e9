#!/usr/bin/env bash
# CI entry for fuzzing: every target for a short bounded time (FUZZ_SECONDS, default 20 s), two
# at a time. Fails if any target finds a crash, leak, timeout or out-of-memory input.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec "$here/run.sh" "${FUZZ_SECONDS:-20}"
