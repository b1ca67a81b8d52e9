#!/usr/bin/env bash
# Keeps the README's sample outputs honest. Usage: readme-samples.sh PATH-TO-simfluence [--write]
#
# Finds in README.md every fenced code block (```) whose first line is a command
# "$ simfluence ..." that only reads from Examples/ (no output file, no subcommand that trains
# or writes), runs that command with the given binary from the repository root (standard output
# only; standard error is not compared), and compares the output byte for byte with the rest of
# the block. On a difference it prints a unified diff and exits 1. With --write it rewrites those
# blocks of README.md with the real output instead (temporary file + rename).
#
# Blocks that do not start with "$ simfluence " (the demo's "$ swift run ...") are not checked,
# nor are commands that write or train (demo, train, synth, fit, merge, report, -o, --out, ...).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:?usage: readme-samples.sh PATH-TO-simfluence [--write]}"
mode="${2:-check}"
case "$mode" in check|--write) ;; *) echo "usage: readme-samples.sh PATH-TO-simfluence [--write]" >&2; exit 2 ;; esac
if [[ "$bin" == */* ]]; then bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"; else bin="$(command -v "$bin")"; fi
exec python3 -u - "$repo" "$bin" "$mode" <<'PY'
import difflib, os, shlex, subprocess, sys, tempfile

repo, binary, mode = sys.argv[1], sys.argv[2], sys.argv[3]
readme = os.path.join(repo, "README.md")
PROMPT = "$ simfluence "
# Subcommands that train, generate or write files, and options naming an output.
WRITING_SUBCOMMANDS = {"demo", "train", "synth", "fit", "merge", "report"}
OUTPUT_OPTIONS = {"-o", "--output", "--out", "--predictions", "--intervals"}

with open(readme, encoding="utf-8", newline="") as f:
    lines = f.read().split("\n")

def blocks():
    """(index of the command line, index of the closing fence) of every fenced block."""
    i = 0
    while i < len(lines):
        if lines[i].startswith("```"):
            fence = lines[i][: len(lines[i]) - len(lines[i].lstrip("`"))]
            j = i + 1
            while j < len(lines) and lines[j].rstrip() != fence:
                j += 1
            if j == len(lines):
                sys.exit(f"README.md:{i + 1}: code block never closed")
            yield i + 1, j
            i = j + 1
        else:
            i += 1

def why_skipped(args):
    """None when the command only reads from Examples/, else the reason it is not run."""
    if not args or args[0] in WRITING_SUBCOMMANDS:
        return "its subcommand writes or trains"
    for a in args:
        if a.split("=", 1)[0] in OUTPUT_OPTIONS:
            return f"it writes ({a})"
    paths = [a.split("=", 1)[-1] for a in args if "/" in a]
    if not paths:
        return "it reads nothing from Examples/"
    outside = [p for p in paths if not p.startswith("Examples/") or ".." in p.split("/")]
    if outside:
        return f"it reads outside Examples/ ({outside[0]})"
    return None

checked, failures, replacements = 0, 0, []
for start, end in blocks():
    if start >= end or not lines[start].startswith(PROMPT):
        if start < end and lines[start].startswith("$ "):
            print(f"README.md:{start + 1}: not run, not a \"{PROMPT.strip()}\" command: {lines[start]}")
        continue
    command, body = lines[start], start + 1
    while command.endswith("\\") and body < end:   # a command continued over several lines
        command = command[:-1].rstrip() + " " + lines[body].strip()
        body += 1
    args = shlex.split(command[len(PROMPT):])
    reason = why_skipped(args)
    if reason:
        print(f"README.md:{start + 1}: not run, {reason}: {command}")
        continue
    checked += 1
    expected = "".join(line + "\n" for line in lines[body:end])
    run = subprocess.run([binary] + args, cwd=repo, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=900)
    if run.returncode != 0:
        sys.stdout.write(run.stderr.decode("utf-8", "replace"))
        print(f"README.md:{start + 1}: the command failed (exit {run.returncode}): {command}")
        failures += 1
        continue
    actual = run.stdout.decode("utf-8")
    if actual and not actual.endswith("\n") or any(l.startswith("```") for l in actual.split("\n")):
        print(f"README.md:{start + 1}: the output cannot be shown in a fenced block (no final newline, or a ``` line)")
        failures += 1
        continue
    if actual == expected:
        print(f"README.md:{start + 1}: output matches: {command}")
        continue
    if mode == "--write":
        replacements.append((body, end, actual.split("\n")[:-1] if actual else []))
        print(f"README.md:{start + 1}: rewritten with the real output: {command}")
        continue
    failures += 1
    sys.stdout.writelines(difflib.unified_diff(
        expected.splitlines(keepends=True), actual.splitlines(keepends=True),
        fromfile=f"README.md:{body + 1} (sample output of: {command})", tofile="actual output"))
    print(f"README.md:{start + 1}: the sample output differs from the command's output.\n"
          f"  If the change is intended, run: .ci/readme-samples.sh PATH-TO-simfluence --write")

if replacements:
    for body, end, new in sorted(replacements, reverse=True):
        lines[body:end] = new
    fd, tmp = tempfile.mkstemp(prefix=".README.md.", dir=repo)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write("\n".join(lines))
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, os.stat(readme).st_mode & 0o7777)
        os.replace(tmp, readme)
    except BaseException:
        os.unlink(tmp)
        raise
    print(f"rewrote {len(replacements)} block(s) of README.md")
if checked == 0:
    sys.exit("README samples: no block to check (expected at least the evaluate sample)")
if failures:
    sys.exit(f"README samples: {failures} of {checked} block(s) failed")
print(f"README samples: {checked} block(s) checked")
PY
