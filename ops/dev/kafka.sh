#!/usr/bin/env bash
# A single-node Apache Kafka broker (KRaft, broker+controller in one JVM) for
# development and tests, run from Apache's own jars on Maven Central: no Docker,
# no tarball. Needs Java 17, Maven (first fetch only) and Node.js (readiness probe).
#
#   ops/dev/kafka.sh fetch           copy the jars into .cache/kafka/<version>/lib (once per pom.xml)
#   ops/dev/kafka.sh start [--fresh] start and wait until the broker answers
#   ops/dev/kafka.sh stop            SIGTERM, then SIGKILL after KAFKA_STOP_TIMEOUT s; keeps the data
#   ops/dev/kafka.sh status          prints the state; exit 0 only when running and answering
#   ops/dev/kafka.sh reset           stop, then delete the data and the log
#
# Data lives in .cache/kafka/run-<port>/ (server.properties, data/, kafka.log,
# kafka.pid). `start` reuses that data when it is already formatted, so
# stop + start is a broker restart that keeps every topic and message (what an
# outage test needs). `start --fresh` (what test/run-tests.js uses) and `reset`
# throw the old data away; a fresh start formats a new data dir with a new
# random cluster id.
#
# KAFKA_VERSION picks the Kafka release (default 4.4.0; the 3.x line, e.g. 3.9.2,
# still works): each version's jars have a folder of their own, so versions can
# be switched without a new download. 4.x logs through Log4j 2 (log4j2.properties),
# 3.x through reload4j (log4j.properties). Data formatted by one version is not
# reused by another: `start --fresh` or `reset` first.
#
# Environment: KAFKA_VERSION (4.4.0), KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093), KAFKA_CACHE_DIR
# (.cache/kafka), KAFKA_HEAP_OPTS (-Xms256m -Xmx512m), KAFKA_JVM_OPTS
# (-XX:TieredStopAtLevel=1: C1 only starts about 1 s faster and uses less memory;
# set it empty for the full JIT), KAFKA_START_TIMEOUT (90 s), KAFKA_STOP_TIMEOUT
# (30 s), JAVA_HOME.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/ops/dev/kafka"
HOST=127.0.0.1
PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
VERSION="${KAFKA_VERSION:-4.4.0}"
MAJOR="${VERSION%%.*}"
CACHE="${KAFKA_CACHE_DIR:-$ROOT/.cache/kafka}"
JARS="$CACHE/$VERSION"
LIB="$JARS/lib"
LIB_STAMP="$JARS/lib.stamp" # sha-256 of the pom.xml the jars came from
RUN="$CACHE/run-$PORT"
DATA="$RUN/data"
CONFIG="$RUN/server.properties"
PIDFILE="$RUN/kafka.pid"
LOG="$RUN/kafka.log"
FORMAT_LOG="$RUN/format.log"
FORMATTED="$RUN/formatted" # written only after StorageTool succeeded
DATA_VERSION="$RUN/version" # the Kafka version that formatted $DATA
START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
EXTRA_JVM_OPTS="${KAFKA_JVM_OPTS--XX:TieredStopAtLevel=1}"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

say() { printf '[kafka] %s\n' "$*"; }
fail() { printf '[kafka] error: %s\n' "$*" >&2; exit 1; }

[[ "$VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "KAFKA_VERSION=$VERSION: expected a release such as 4.4.0 or 3.9.2"
# Logging backend (a pom.xml profile) and its configuration, by major version.
if [ "$MAJOR" -ge 4 ]; then
  LOGGING_PROFILE=log4j2
  LOGGING_OPT="-Dlog4j2.configurationFile=$HERE/log4j2.properties"
elif [ "$MAJOR" -eq 3 ]; then
  LOGGING_PROFILE=reload4j
  LOGGING_OPT="-Dlog4j.configuration=file:$HERE/log4j.properties"
else
  fail "KAFKA_VERSION=$VERSION: this script runs Kafka 3.x (KRaft) or newer"
fi
# The JVM flags of Kafka's bin/kafka-run-class.sh, minus JMX and GC logging.
JVM_OPTS=(-XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
  -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true
  "$LOGGING_OPT" "-Dkafka.logs.dir=$RUN")

now() { if [ -n "${EPOCHREALTIME:-}" ]; then echo "${EPOCHREALTIME/,/.}"; else date +%s; fi; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
past() { awk -v a="$1" -v b="$(now)" -v s="$2" 'BEGIN { exit !(b - a >= s) }'; }

sha256() { if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1"; else shasum -a 256 "$1"; fi | cut -d' ' -f1; }

# Serialises fetch/start/stop/reset of concurrent callers (e.g. two test runs).
# fd 9 must not leak into the broker, or the broker would hold the lock.
take_lock() {
  mkdir -p "$CACHE"
  command -v flock >/dev/null 2>&1 || return 0
  exec 9>"$CACHE/.lock"
  flock -w 600 9 || fail "another ops/dev/kafka.sh holds $CACHE/.lock"
}

answers() { node "$HERE/probe.js" "$HOST" "$PORT" 1000; }

need_java() {
  command -v "$JAVA" >/dev/null 2>&1 || fail "java not found: Java 17 is needed (apt-get install openjdk-17-jre-headless)"
  local version major
  version="$("$JAVA" -version 2>&1 | awk -F'"' '/version/ { print $2; exit }')"
  major="${version%%.*}"
  [ "$major" = 1 ] && major="$(echo "$version" | cut -d. -f2)"
  [ "${major:-0}" -ge 17 ] 2>/dev/null || fail "java $version is too old: Java 17 or newer is needed"
  command -v node >/dev/null 2>&1 || fail "node not found: the readiness probe needs Node.js"
}

jars_current() {
  [ -f "$LIB_STAMP" ] && [ "$(cat "$LIB_STAMP")" = "$(sha256 "$HERE/pom.xml")" ] &&
    compgen -G "$LIB/kafka_2.13-*.jar" >/dev/null
}

fetch() {
  if jars_current; then
    [ "${1:-}" = verbose ] && say "jars already in $LIB"
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || fail "mvn not found: Maven is needed to fetch the Kafka jars (apt-get install maven)"
  local t0 tmp
  t0="$(now)"
  mkdir -p "$JARS"
  # Jars of the layout before one folder per version: nothing uses them any more.
  rm -rf "${CACHE:?}/lib" "$CACHE/lib.stamp" "$CACHE/fetch.log"
  tmp="$JARS/lib.tmp.$$"
  say "fetching the Kafka $VERSION broker jars from Maven Central into $LIB"
  rm -rf "$tmp"
  # Into a temporary folder first, so that an interrupted fetch never looks complete.
  if ! mvn -B -Dstyle.color=never -f "$HERE/pom.xml" "$DEPENDENCY_PLUGIN:copy-dependencies" \
    -Dkafka.version="$VERSION" -P "$LOGGING_PROFILE" \
    -DincludeScope=runtime -DoutputDirectory="$tmp" </dev/null >"$JARS/fetch.log" 2>&1 9>&-; then
    rm -rf "$tmp"
    grep -E 'ERROR|FAIL' "$JARS/fetch.log" | tail -n 20 >&2
    fail "mvn could not fetch the Kafka $VERSION jars; is Maven Central reachable? (log: $JARS/fetch.log)"
  fi
  rm -rf "$LIB"
  mv "$tmp" "$LIB"
  sha256 "$HERE/pom.xml" >"$LIB_STAMP"
  say "fetched Kafka $VERSION: $(find "$LIB" -name '*.jar' | wc -l | tr -d ' ') jars ($(du -sh "$LIB" | cut -f1)) in $(since "$t0") s"
}

# The pid of the broker this script started for $PORT, if it is alive. The
# command line must name our config, so a recycled pid is never mistaken for it.
broker_pid() {
  local pid args
  [ -f "$PIDFILE" ] || return 1
  pid="$(cat "$PIDFILE")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  if [ -r "/proc/$pid/cmdline" ]; then args="$(tr '\0' ' ' <"/proc/$pid/cmdline")"; else args="$(ps -p "$pid" -o args= 2>/dev/null || true)"; fi
  case "$args" in *"kafka.Kafka $CONFIG"*) echo "$pid" ;; *) return 1 ;; esac
}

# Alive and not a zombie: a broker that died during start-up is a zombie child
# of this script until it exits, and kill -0 still succeeds on it.
alive() {
  local state
  kill -0 "$1" 2>/dev/null || return 1
  if [ -r "/proc/$1/stat" ]; then state="$(awk '{ print $3 }' "/proc/$1/stat")"; else state="$(ps -p "$1" -o stat= 2>/dev/null || true)"; fi
  case "$state" in Z*) return 1 ;; *) return 0 ;; esac
}

# The Kafka version that formatted the data in $RUN (and so runs on it).
data_version() { cat "$DATA_VERSION" 2>/dev/null || echo unknown; }

cluster_id() { # what StorageTool random-uuid prints: base64url of 16 random bytes, not starting with '-'
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    [ "${id:0:1}" != - ] && break
  done
  echo "$id"
}

write_config() {
  cat >"$CONFIG" <<EOF
# Written by ops/dev/kafka.sh on every start: change the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA
# One broker: every internal topic with one replica, one partition (a 50-partition
# __consumer_offsets would make the first consumer group join slow).
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
# Tests: no 3 s wait before the first rebalance; topics may be created on first use.
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
# The log cleaner (compaction of __consumer_offsets) takes 128 MiB of heap by default.
log.cleaner.dedupe.buffer.size=33554432
EOF
  if [ "$MAJOR" -ge 4 ]; then
    # Share groups (KIP-932, 4.1+) keep their state in an internal topic that
    # wants 3 replicas by default.
    cat >>"$CONFIG" <<EOF
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
EOF
  fi
}

format_storage() {
  local t0 id
  t0="$(now)"
  id="$(cluster_id)"
  rm -rf "$DATA" "$FORMATTED" "$DATA_VERSION"
  mkdir -p "$DATA"
  if ! "$JAVA" -Xmx256m -XX:TieredStopAtLevel=1 "${JVM_OPTS[@]}" -cp "$LIB/*" \
    kafka.tools.StorageTool format -t "$id" -c "$CONFIG" >"$FORMAT_LOG" 2>&1 </dev/null 9>&-; then
    grep -v '^[[:space:]]' "$FORMAT_LOG" | tail -n 20 >&2
    fail "formatting $DATA failed (log: $FORMAT_LOG)"
  fi
  echo "$VERSION" >"$DATA_VERSION"
  echo "$id" >"$FORMATTED"
  say "formatted $DATA for Kafka $VERSION (cluster id $id) in $(since "$t0") s"
}

terminate() { # pid: SIGTERM (Kafka's shutdown hook stops cleanly), SIGKILL after STOP_TIMEOUT
  local pid="$1" t0 t1
  t0="$(now)"
  kill -TERM "$pid" 2>/dev/null || true
  while broker_pid >/dev/null; do
    if past "$t0" "$STOP_TIMEOUT"; then
      say "still running after ${STOP_TIMEOUT} s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      t1="$(now)"
      while broker_pid >/dev/null; do
        past "$t1" 10 && fail "pid $pid survived SIGKILL"
        sleep 0.1
      done
      break
    fi
    sleep 0.1
  done
  rm -f "$PIDFILE"
  say "stopped pid $pid in $(since "$t0") s"
}

wait_ready() { # pid t0: bounded loop of ApiVersions probes; fails fast if the JVM exits
  local pid="$1" t0="$2"
  while :; do
    # Not broker_pid: right after the fork the pid may still be the subshell, before its exec.
    if ! alive "$pid"; then
      rm -f "$PIDFILE"
      tail -n 40 "$LOG" >&2
      fail "the broker exited during start-up (log: $LOG)"
    fi
    if answers; then
      say "Kafka $(data_version) ready on $HOST:$PORT (pid $pid) after $(since "$t0") s; log: $LOG"
      return 0
    fi
    if past "$t0" "$START_TIMEOUT"; then
      tail -n 40 "$LOG" >&2
      terminate "$pid"
      fail "the broker did not answer on $HOST:$PORT within $START_TIMEOUT s (log: $LOG)"
    fi
    sleep 0.2
  done
}

start() {
  local fresh="${1:-}" t0 pid
  [ -z "$fresh" ] || [ "$fresh" = --fresh ] || fail "unknown option: $fresh"
  t0="$(now)"
  need_java
  fetch
  mkdir -p "$RUN"
  if pid="$(broker_pid)"; then
    [ "$(data_version)" = "$VERSION" ] ||
      fail "Kafka $(data_version) already runs on $HOST:$PORT (pid $pid), not $VERSION: stop it first"
    say "already running (pid $pid)"
    wait_ready "$pid" "$t0"
    return 0
  fi
  rm -f "$PIDFILE"
  answers && fail "something else answers on $HOST:$PORT (not started by this script): stop it or set KAFKA_PORT"
  [ "$fresh" = --fresh ] && rm -rf "$DATA" "$FORMATTED" "$LOG" "$FORMAT_LOG"
  write_config
  if [ -f "$FORMATTED" ] && [ -f "$DATA/meta.properties" ]; then
    [ "$(data_version)" = "$VERSION" ] ||
      fail "the data in $DATA was formatted by Kafka $(data_version), not $VERSION: use start --fresh or reset"
    say "reusing the Kafka $VERSION data in $DATA (cluster id $(cat "$FORMATTED"))"
  else
    format_storage
  fi
  printf '\n===== %s: ops/dev/kafka.sh start\n' "$(date '+%Y-%m-%d %H:%M:%S')" >>"$LOG"
  # The broker stays in the caller's process group, so a Ctrl-C on `npm test`
  # stops it too (SIGINT runs Kafka's shutdown hook); SIGHUP is ignored so that
  # closing the terminal that ran `ops/dev/kafka.sh start` does not.
  local heap_opts extra_opts # the two variables hold several options, split at spaces
  read -r -a heap_opts <<<"$HEAP_OPTS"
  read -r -a extra_opts <<<"$EXTRA_JVM_OPTS"
  (
    trap '' HUP
    cd "$RUN"
    exec "$JAVA" "${heap_opts[@]}" "${extra_opts[@]}" "${JVM_OPTS[@]}" -cp "$LIB/*" kafka.Kafka "$CONFIG"
  ) >>"$LOG" 2>&1 </dev/null 9>&- &
  pid=$!
  echo "$pid" >"$PIDFILE"
  wait_ready "$pid" "$t0"
}

stop() {
  local pid
  if ! pid="$(broker_pid)"; then
    rm -f "$PIDFILE"
    answers && fail "a broker answers on $HOST:$PORT but this script did not start it: not stopping it"
    say "not running"
    return 0
  fi
  terminate "$pid"
}

status() {
  local pid
  if pid="$(broker_pid)"; then
    if answers; then
      echo "running (Kafka $(data_version), pid $pid, $HOST:$PORT, data $DATA, log $LOG)"
      return 0
    fi
    echo "not answering (pid $pid is alive but $HOST:$PORT does not answer; log $LOG)"
    return 1
  fi
  if answers; then
    echo "stopped (but a broker this script did not start answers on $HOST:$PORT)"
  else
    echo "stopped"
  fi
  return 1
}

case "${1:-}" in
  fetch) take_lock && fetch verbose ;;
  start) take_lock && start "${2:-}" ;;
  stop) take_lock && stop ;;
  reset) take_lock && stop && rm -rf "$RUN" && say "deleted $RUN" ;;
  status) status ;;
  *)
    echo "usage: $0 fetch|start [--fresh]|stop|status|reset" >&2
    exit 2
    ;;
esac
