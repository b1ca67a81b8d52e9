#!/usr/bin/env bash
# Runs every command of the README's CLI example block (the first ```sh block after
# "## The command-line tool") with the built binary, in a scratch folder, and fails on the first
# command that fails. Keeps the README's examples honest.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:?usage: readme-examples.sh PATH-TO-simfluence}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
ln -s "$repo/Examples" "$work/Examples"
python3 - "$repo/README.md" > "$work/examples.sh" <<'PY'
import sys
text = open(sys.argv[1], encoding="utf-8").read()
block = text[text.index("## The command-line tool"):]
block = block[block.index("```sh\n") + 6:]
block = block[:block.index("\n```")]
commands, current = [], ""
for line in block.splitlines():
    if line.startswith("#") or line.startswith("alias") or not line.strip():
        continue
    current += line.rstrip("\\").rstrip() + " " if line.endswith("\\") else line
    if not line.endswith("\\"):
        commands.append(current.strip()); current = ""
for c in commands:
    print(c)
PY
count=0
while IFS= read -r cmd; do
    count=$((count + 1))
    echo "+ $cmd"
    (cd "$work" && eval "\"$bin\"${cmd#simfluence}") > "$work/out.txt" 2>&1 || { cat "$work/out.txt"; echo "README example failed: $cmd"; exit 1; }
done < "$work/examples.sh"
echo "README examples: $count commands passed"
