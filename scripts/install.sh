#!/usr/bin/env bash
# Builds simfluence in release mode and installs the executable into PREFIX/bin (default
# $HOME/.local; PREFIX=/usr/local as root), so that `simfluence` runs from any folder and in
# scripts. The first build fetches the package dependencies (swift-argument-parser,
# swift-numerics) once and takes about 2 minutes on 2 cores; later builds are incremental.
#
#   scripts/install.sh                 # into $HOME/.local/bin
#   PREFIX=/opt/simfluence scripts/install.sh
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
prefix="${PREFIX:-$HOME/.local}"
cd "$repo"
echo "building simfluence (release)..." >&2
swift build -c release --product simfluence >&2
bin="$(swift build -c release --show-bin-path)"
mkdir -p "$prefix/bin"
# The executable finds its resources (the digits data, the glosses) in bundles beside it.
for bundle in "$bin"/*.resources; do
  [ -e "$bundle" ] || continue
  rm -rf "$prefix/bin/$(basename "$bundle")"
  cp -R "$bundle" "$prefix/bin/"
done
install -m 0755 "$bin/simfluence" "$prefix/bin/simfluence.tmp"
mv -f "$prefix/bin/simfluence.tmp" "$prefix/bin/simfluence"
echo "installed $prefix/bin/simfluence ($("$prefix/bin/simfluence" --version))" >&2
case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *) echo "note: $prefix/bin is not on your PATH; add it, e.g. export PATH=\"$prefix/bin:\$PATH\"" >&2 ;;
esac
