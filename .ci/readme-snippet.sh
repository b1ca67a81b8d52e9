#!/usr/bin/env bash
# Checks that the README's library example is the code the test suite compiles and runs.
# Usage: readme-snippet.sh
#
# The ```swift block under "## Library" in README.md, without its `import` lines, must equal the
# lines between "// BEGIN README snippet" and "// END README snippet" in
# Tests/SimfluenceTests/ReadmeLibrarySnippet.swift, whitespace included once each side's common
# indentation is removed (leading and trailing blank lines aside); and each of the block's
# `import` lines must be at the top of that file. `swift test` compiles and runs the marked code
# (test readmeLibrarySnippetRunsOnTheShippedLog), so together they keep the README's example
# compiling against the current API. On a difference it prints a unified diff and how to fix it,
# and exits 1.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
exec python3 -u - "$repo" <<'PY'
import difflib, os, re, sys, textwrap

repo = sys.argv[1]
README = "README.md"
SWIFT = "Tests/SimfluenceTests/ReadmeLibrarySnippet.swift"
BEGIN, END = "// BEGIN README snippet", "// END README snippet"
HOW_TO_FIX = f"""
How to fix: both copies must hold the same code.
  - After an API change, edit the ```swift block under "## Library" in {README}, then paste its
    code, without the `import` lines and indented 4 spaces, between the markers
    "{BEGIN}" and "{END}" in
    {SWIFT} (or edit that file first and copy the marked
    lines back into the README, unindented).
  - Check with .ci/readme-snippet.sh, and with swift test --filter ReadmeLibrarySnippet (which
    compiles the marked code and runs it on Examples/tiny-gptdynamics)."""

def fail(message):
    print(message + "\n" + HOW_TO_FIX)
    sys.exit(1)

def trim(lines):
    """Common indentation removed (whitespace-exact otherwise), blank lines at either end dropped."""
    lines = textwrap.dedent("".join(l + "\n" for l in lines)).split("\n")[:-1]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines

readme = open(os.path.join(repo, README), encoding="utf-8").read().split("\n")
try:
    section = readme.index("## Library")
except ValueError:
    fail(f'{README} has no "## Library" section')
start = next((i for i in range(section + 1, len(readme))
              if readme[i].startswith("## ") or readme[i].startswith("```swift")), None)
if start is None or not readme[start].startswith("```swift"):
    fail(f'{README}: no ```swift block under "## Library"')
end = next((i for i in range(start + 1, len(readme)) if readme[i].strip() == "```"), None)
if end is None:
    fail(f"{README}:{start + 1}: the ```swift block is never closed")
block = readme[start + 1:end]
imports = [l.strip() for l in block if re.match(r"\s*(@testable\s+)?import\s", l)]
readme_code = trim([l for l in block if not re.match(r"\s*(@testable\s+)?import\s", l)])

swift = open(os.path.join(repo, SWIFT), encoding="utf-8").read().split("\n")
begins = [i for i, l in enumerate(swift) if l.strip() == BEGIN]
ends = [i for i, l in enumerate(swift) if l.strip() == END]
if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
    fail(f'{SWIFT}: expected one "{BEGIN}" line followed by one "{END}" line')
swift_code = trim(swift[begins[0] + 1:ends[0]])
swift_imports = {l.strip() for l in swift[:begins[0]] if re.match(r"\s*(@testable\s+)?import\s", l)}
missing = [i for i in imports if i not in swift_imports]
if missing:
    fail(f"{SWIFT}: lacks the README snippet's import line(s): {', '.join(missing)}")

if readme_code != swift_code:
    diff = difflib.unified_diff([l + "\n" for l in readme_code], [l + "\n" for l in swift_code],
                                fromfile=f"{README}:{start + 2} (## Library, without imports)",
                                tofile=f"{SWIFT}:{begins[0] + 2} (between the markers, dedented)")
    sys.stdout.writelines(diff)
    fail("The README's library snippet and the code the tests compile differ.")
print(f"README library snippet: {len(readme_code)} lines, identical to {SWIFT}")
PY
