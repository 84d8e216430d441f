#!/usr/bin/env bash
# Checks a host before the service starts on it (`npm run validate:deployment`):
# the Node.js version, the build output, the configuration, the backend, the TLS
# files, the file-descriptor limit and the ports. One line per check, green
# (OK), yellow (WARN) or red (FAIL) with what to do; exit 1 on any red, else 0.
#
# Run it as the service runs: same user, same environment (the settings, e.g.
# /etc/ingest/ingest.env, and NODE_ENV), same limits (LimitNOFILE), from the
# installation folder, before starting (a running service holds its ports).
# docs/operations.md, "Before starting: validate the deployment", shows how.
#
# The rules live in the service: the configuration is checked by its own
# validation (dist/src/primary/validate-env.js) and the other checks by probes
# compiled from src/primary/deployment/, which read the configuration through
# the service's loader. This script only runs them and shows their verdicts.
#
# Environment: NODE (the node binary to check and run; default: node on PATH),
# NO_COLOR (no colours even on a terminal).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
NODE="${NODE:-node}"
PROBES=dist/src/primary/deployment

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
  GREEN=$'\e[32m' YELLOW=$'\e[33m' RED=$'\e[31m' DIM=$'\e[2m' RESET=$'\e[0m'
else
  GREEN='' YELLOW='' RED='' DIM='' RESET=''
fi

REDS=0

# report LEVEL CHECK MESSAGE: one line; LEVEL is green, yellow, red or skip.
report() {
  case "$1" in
    green) printf '%sOK  %s  %-8s %s\n' "$GREEN" "$RESET" "$2" "$3" ;;
    yellow) printf '%sWARN%s  %-8s %s\n' "$YELLOW" "$RESET" "$2" "$3" ;;
    red)
      printf '%sFAIL%s  %-8s %s\n' "$RED" "$RESET" "$2" "$3"
      REDS=$((REDS + 1))
      ;;
    *) printf '%sSKIP  %-8s %s%s\n' "$DIM" "$2" "$3" "$RESET" ;;
  esac
}

# The Node.js that will run the service: at least package.json's engines
# minimum, and one of the lines the project tests and pins (ops/dev/node.sh).
check_node() {
  local version minimum lines major
  if ! version="$("$NODE" -p 'process.versions.node' 2>/dev/null)"; then
    report red node "no Node.js at \"$NODE\": install Node.js 24 (ops/README.md) or set NODE"
    return 1
  fi
  minimum="$("$NODE" -p 'require("./package.json").engines.node.replace(/^>=\s*/, "")')"
  lines="$(bash ops/dev/node.sh --lines | tr '\n' ' ')"
  lines="${lines% }"
  major="${version%%.*}"
  if [ "$(printf '%s\n%s\n' "$minimum" "$version" | sort -V | head -n 1)" != "$minimum" ]; then
    report red node "Node.js $version is older than $minimum (package.json engines): install Node.js 24 (ops/README.md)"
  elif [[ " $lines " != *" $major "* ]]; then
    report yellow node "Node.js $version is not a supported line (${lines// /, }): the service is tested on those only"
  else
    report green node "Node.js $version (supported lines: ${lines// /, })"
  fi
}

# Every entry point of ops/entry-points.txt exists (read by the build's own
# reader, ops/check-entry-points.js, so that both read the list alike).
check_build() {
  local path listed missing=()
  if ! listed="$("$NODE" -e 'process.stdout.write(require("./ops/check-entry-points.js").listedEntryPoints(".").join("\n"))')"; then
    report red build "could not read ops/entry-points.txt with ops/check-entry-points.js"
    return 1
  fi
  while IFS= read -r path; do
    [ -n "$path" ] || continue
    [ -f "$path" ] || missing+=("$path")
  done <<<"$listed"
  if [ "${#missing[@]}" -gt 0 ]; then
    report red build "missing ${missing[*]}: run \`npm ci\` (it builds) or \`npm run build\` in $ROOT"
    return 1
  fi
  report green build "every entry point of ops/entry-points.txt is in dist/"
}

# The service's own validation; its report's problem lines follow a red line.
check_config() {
  local output status
  output="$("$NODE" dist/src/primary/validate-env.js 2>&1)"
  status=$?
  if [ "$status" -ne 0 ]; then
    report red config "${output%%$'\n'*}: correct the variables below (docs/config.md)"
    printf '%s\n' "$output" | tail -n +2 | sed 's/^/      /'
    return 1
  fi
  if [ "$(printf '%s\n' "$output" | wc -l)" -gt 1 ]; then
    report yellow config "${output%%$'\n'*}, with warnings:"
    printf '%s\n' "$output" | tail -n +2 | sed 's/^/      /'
  else
    report green config "$output"
  fi
}

# probe CHECK FILE [ARG...]: runs dist/src/primary/deployment/FILE.js, which
# prints one "<level> <message>" line.
probe() {
  local check="$1" file="$PROBES/$2.js" output verdict
  shift 2
  output="$("$NODE" "$file" "$@" 2>&1)"
  verdict="$(printf '%s\n' "$output" | grep -E '^(green|yellow|red|skip) ' | tail -n 1)"
  if [ -z "$verdict" ]; then
    report red "$check" "$file printed no verdict: ${output:-nothing}"
    return
  fi
  report "${verdict%% *}" "$check" "${verdict#* }"
}

main() {
  local build_ok=1 limit
  if ! check_node; then
    echo "validate-deployment: nothing else can be checked without Node.js" >&2
    exit 1
  fi
  check_build || build_ok=0
  if [ "$build_ok" -eq 1 ]; then
    check_config
    probe redis probe-redis
    probe kafka probe-kafka
    probe tls probe-tls
    # Node.js raises its soft limit to the hard one, so the hard limit is the one that counts.
    limit="$(ulimit -Hn)"
    probe fds probe-fd-limit "$limit"
    probe ports probe-ports
  else
    for check in config redis kafka tls fds ports; do
      report skip "$check" 'not checked: needs the build output'
    done
  fi
  if [ "$REDS" -gt 0 ]; then
    printf '%s%d check(s) failed%s: fix them before starting the service\n' "$RED" "$REDS" "$RESET"
    exit 1
  fi
  printf '%sready to start%s\n' "$GREEN" "$RESET"
}

main "$@"
