#!/bin/sh
# Installs the engine: the pinned quickjs-ng sdist, verified against quickjs-ng.sha256,
# with quickjs-ng-bytecode.patch applied, compiled with this machine's compiler.
# Usage: build.sh PIP WORKDIR. WORKDIR keeps the sdist (tests/runtime/test_bytecode.py
# checks the patch against it) and the patched source tree.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
pip=$1
work=$2
sdist=$(awk '{print $2}' "$here/quickjs-ng.sha256")
version=${sdist#quickjs_ng-}
version=${version%.tar.gz}

mkdir -p "$work"
if [ ! -f "$work/$sdist" ]; then
    "$pip" download -q --no-binary :all: --no-deps --dest "$work" "quickjs-ng==$version"
fi
(cd "$work" && sha256sum --check --quiet "$here/quickjs-ng.sha256")
rm -rf "$work/src"
mkdir "$work/src"
tar -xzf "$work/$sdist" -C "$work/src" --strip-components=1
patch --quiet --forward --fuzz=0 -p1 -d "$work/src" < "$here/quickjs-ng-bytecode.patch"
"$pip" install -q --no-cache-dir --force-reinstall --no-deps "$work/src"
