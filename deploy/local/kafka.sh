#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft, combined broker+controller) for local
# development and CI, from Maven Central jars: no Docker, no tarball.
#
#   deploy/local/kafka.sh install        fetch the broker jars into the cache (once)
#   deploy/local/kafka.sh start          install if needed, format storage once, start
#                                        in the background, wait until it answers;
#                                        last line printed: the bootstrap address
#   deploy/local/kafka.sh stop           SIGTERM, wait up to 30 s, then SIGKILL
#   deploy/local/kafka.sh status         exit 0 if running and answering, else 1
#   deploy/local/kafka.sh logs [-f|N]    tail the broker log (follow, or last N lines)
#
# Environment (all optional):
#   CANDOUR_CACHE_DIR              jar cache           (default $HOME/.cache/candour)
#   CANDOUR_LOCAL_DIR              state (data, logs)  (default <repo>/.candour/local)
#   CANDOUR_KAFKA_PORT             PLAINTEXT port      (default 9092)
#   CANDOUR_KAFKA_CONTROLLER_PORT  CONTROLLER port     (default 9093)
#   CANDOUR_KAFKA_START_TIMEOUT    seconds to wait     (default 90)
#   CANDOUR_KAFKA_HEAP_OPTS        JVM heap            (default "-Xms256m -Xmx768m")
#   CANDOUR_M2_REPO                Maven local repo    (default Maven's own, ~/.m2/repository)
#   CANDOUR_PYTHON                 Python with aiokafka (default <repo>/.venv/bin/python)
#   JAVA                           java binary         (default: java on PATH)
set -euo pipefail

KAFKA_VERSION=4.1.1

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
POM="$HERE/kafka/pom.xml"
LOG4J_CONF="$HERE/kafka/log4j2.properties"

CACHE_DIR="$(realpath -m "${CANDOUR_CACHE_DIR:-${HOME:-/tmp}/.cache/candour}")"
KAFKA_HOME="$CACHE_DIR/kafka-$KAFKA_VERSION"
LIBS="$KAFKA_HOME/libs"
MARKER="$KAFKA_HOME/.installed"

LOCAL_DIR="$(realpath -m "${CANDOUR_LOCAL_DIR:-$REPO/.candour/local}")"
STATE="$LOCAL_DIR/kafka"
DATA="$STATE/data"
LOGS="$STATE/logs"
PROPS="$STATE/server.properties"
PIDFILE="$STATE/kafka.pid"
CLUSTER_ID_FILE="$STATE/cluster.id"
STDOUT_LOG="$LOGS/stdout.log"
SERVER_LOG="$LOGS/server.log"

HOST=127.0.0.1
PORT="${CANDOUR_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${CANDOUR_KAFKA_CONTROLLER_PORT:-9093}"
BOOTSTRAP="$HOST:$PORT"
START_TIMEOUT="${CANDOUR_KAFKA_START_TIMEOUT:-90}"
HEAP_OPTS="${CANDOUR_KAFKA_HEAP_OPTS:--Xms256m -Xmx768m}"
PYTHON="${CANDOUR_PYTHON:-$REPO/.venv/bin/python}"
JAVA="${JAVA:-java}"

say() { echo "kafka: $*"; }
die() { echo "kafka: ERROR: $*" >&2; exit 1; }

# ---------------------------------------------------------------- install

write_log4j_conf() {
    # Kept in the repo; regenerated only when missing so local edits survive.
    [[ -f "$LOG4J_CONF" ]] && return 0
    say "writing $LOG4J_CONF"
    cat >"$LOG4J_CONF" <<'EOF'
# log4j2 configuration for the local Kafka broker (deploy/local/kafka.sh).
# File appender: INFO and up in ${kafka.logs.dir}/server.log (rolled at 20 MB, 3 kept).
# Console appender (captured in stdout.log): WARN and up only.
# Chatty loggers are turned down so the log stays readable.
name = candour-local-kafka
status = warn
dest = err
# keep logging through the broker's own shutdown (log4j's hook would stop it first)
shutdownHook = disable

property.logdir = ${sys:kafka.logs.dir:-logs}
property.pattern = [%d{ISO8601}] %p %m (%c)%n

appender.console.type = Console
appender.console.name = STDOUT
appender.console.target = SYSTEM_OUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = ${pattern}
appender.console.filter.threshold.type = ThresholdFilter
appender.console.filter.threshold.level = WARN

appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = ${logdir}/server.log
appender.file.filePattern = ${logdir}/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = ${pattern}
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3

rootLogger.level = INFO
rootLogger.appenderRef.console.ref = STDOUT
rootLogger.appenderRef.file.ref = FILE

# quiet down the noisiest parts of the broker
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.cleaner.name = kafka.log.LogCleaner
logger.cleaner.level = WARN
logger.logcleaner.name = org.apache.kafka.storage.internals.log.LogCleaner
logger.logcleaner.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = WARN
logger.appinfo.name = org.apache.kafka.common.utils.AppInfoParser
logger.appinfo.level = WARN
logger.metadataloader.name = org.apache.kafka.image.loader
logger.metadataloader.level = WARN
logger.zstd.name = com.github.luben.zstd
logger.zstd.level = WARN
# per-partition chatter (x50 for __consumer_offsets) and background reapers
logger.coordruntime.name = org.apache.kafka.coordinator.common.runtime
logger.coordruntime.level = WARN
logger.groupshard.name = org.apache.kafka.coordinator.group.GroupCoordinatorShard
logger.groupshard.level = WARN
logger.partition.name = kafka.cluster.Partition
logger.partition.level = WARN
logger.logmanager.name = kafka.log.LogManager
logger.logmanager.level = WARN
logger.unifiedlog.name = org.apache.kafka.storage.internals.log
logger.unifiedlog.level = WARN
logger.replication.name = org.apache.kafka.controller.ReplicationControlManager
logger.replication.level = WARN
logger.partitionchange.name = org.apache.kafka.controller.PartitionChangeBuilder
logger.partitionchange.level = WARN
logger.purgatory.name = org.apache.kafka.server.purgatory
logger.purgatory.level = WARN
logger.quota.name = kafka.server.ClientQuotaManager$ThrottledChannelReaper
logger.quota.level = WARN
logger.n2c.name = kafka.server.NodeToControllerRequestThread
logger.n2c.level = WARN
logger.timer.name = org.apache.kafka.server.util.timer
logger.timer.level = WARN
logger.fetcher.name = kafka.server.ReplicaFetcherManager
logger.fetcher.level = WARN
logger.alterlogdirs.name = kafka.server.ReplicaAlterLogDirsManager
logger.alterlogdirs.level = WARN
EOF
}

pom_version() {
    sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n1
}

pom_hash() {
    sha256sum "$POM" | cut -d' ' -f1
}

installed() {
    [[ -f "$MARKER" ]] && [[ "$(cat "$MARKER")" == "$(pom_hash)" ]] \
        && compgen -G "$LIBS/kafka_2.13-$KAFKA_VERSION.jar" >/dev/null
}

cmd_install() {
    [[ "$(pom_version)" == "$KAFKA_VERSION" ]] \
        || die "kafka.version in $POM ($(pom_version)) differs from KAFKA_VERSION=$KAFKA_VERSION in $0"
    write_log4j_conf
    if installed; then
        say "Kafka $KAFKA_VERSION already installed in $LIBS"
        return 0
    fi
    command -v mvn >/dev/null || die "mvn not found (Maven 3.8+ needed to fetch the broker jars)"
    mkdir -p "$KAFKA_HOME"
    # Serialise concurrent installs into the same cache.
    exec 9>"$KAFKA_HOME/.install.lock"
    flock 9
    if installed; then
        say "Kafka $KAFKA_VERSION already installed in $LIBS"
        exec 9>&-
        return 0
    fi
    say "installing Kafka $KAFKA_VERSION jars from Maven Central into $LIBS ..."
    local t0=$SECONDS tmp="$KAFKA_HOME/libs.tmp.$$"
    rm -rf "$tmp"
    local mvn_args=(-B -q -Dstyle.color=never -f "$POM" dependency:copy-dependencies
        -DincludeScope=runtime "-DoutputDirectory=$tmp")
    if [[ -n "${CANDOUR_M2_REPO:-}" ]]; then
        mvn_args+=("-Dmaven.repo.local=$CANDOUR_M2_REPO")
    fi
    # mvn's output (errors only with -q; Maven 3.8 also emits stray ANSI resets)
    # goes to a log that is shown on failure
    local mvn_log="$KAFKA_HOME/install.log"
    if ! mvn "${mvn_args[@]}" >"$mvn_log" 2>&1; then
        sed -e 's/\x1b\[[0-9;]*m//g' "$mvn_log" | tail -n 40 >&2
        rm -rf "$tmp"
        die "mvn dependency:copy-dependencies failed (full output: $mvn_log)"
    fi
    [[ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ]] || die "kafka_2.13-$KAFKA_VERSION.jar missing after mvn"
    rm -rf "$LIBS"
    mv "$tmp" "$LIBS"
    pom_hash >"$MARKER"
    exec 9>&-
    say "installed $(find "$LIBS" -name '*.jar' | wc -l) jars ($(du -sh "$LIBS" | cut -f1)) in $((SECONDS - t0))s"
}

# ---------------------------------------------------------------- process helpers

# One start/stop at a time per state dir (fd 8; closed for the broker itself).
lock_state() {
    [[ -n "${STATE_LOCKED:-}" ]] && return 0
    mkdir -p "$STATE"
    exec 8>"$STATE/.lock"
    if ! flock -n 8; then
        say "another kafka.sh start/stop is running on $STATE; waiting for it"
        flock 8
    fi
    STATE_LOCKED=1
}

check_java() {
    command -v "$JAVA" >/dev/null || die "java not found (Java 17+ needed; set JAVA=...)"
    local v
    v="$("$JAVA" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)"
    [[ -n "$v" && "$v" -ge 17 ]] || die "Kafka $KAFKA_VERSION needs Java 17+, $JAVA is version ${v:-unknown}"
}

read_pid() {
    [[ -f "$PIDFILE" ]] || return 1
    local pid
    pid="$(tr -dc '0-9' <"$PIDFILE")"
    [[ -n "$pid" ]] || return 1
    echo "$pid"
}

# Alive and not a zombie (an exited child that nobody has reaped yet).
pid_alive() {
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    [[ "${stat%% *}" != Z ]]
}

# Our broker is alive: the pid in the pid file runs kafka.Kafka with our server.properties.
broker_pid() {
    local pid
    pid="$(read_pid)" || return 1
    pid_alive "$pid" || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "kafka.Kafka $PROPS" || return 1
    echo "$pid"
}

answering() { # answering TIMEOUT [PID]
    local args=(--bootstrap "$BOOTSTRAP" --timeout "$1" --quiet)
    [[ -n "${2:-}" ]] && args+=(--pid "$2")
    "$PYTHON" "$HERE/wait_kafka.py" "${args[@]}" >/dev/null
}

show_log_tail() {
    local f
    for f in "$STDOUT_LOG" "$SERVER_LOG"; do
        if [[ -s "$f" ]]; then
            echo "----- last 40 lines of $f -----" >&2
            tail -n 40 "$f" >&2
        fi
    done
}

port_busy() { # port_busy PORT
    "$PYTHON" - "$HOST" "$1" <<'EOF'
import socket, sys
s = socket.socket()
s.settimeout(1)
sys.exit(0 if s.connect_ex((sys.argv[1], int(sys.argv[2]))) == 0 else 1)
EOF
}

# ---------------------------------------------------------------- start

write_server_properties() {
    mkdir -p "$DATA" "$LOGS"
    cat >"$PROPS" <<EOF
# Generated by deploy/local/kafka.sh on every start: edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA

# single node: every internal topic has one replica
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
default.replication.factor=1
min.insync.replicas=1

# fast consumer group joins in tests
group.initial.rebalance.delay.ms=0

num.partitions=3
auto.create.topics.enable=true
delete.topic.enable=true

# small machine (2 cores)
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=168
EOF
}

format_storage() {
    if [[ -f "$DATA/meta.properties" ]]; then
        say "storage already formatted ($DATA)"
        return 0
    fi
    if [[ ! -s "$CLUSTER_ID_FILE" ]]; then
        "$JAVA" -cp "$LIBS/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1 >"$CLUSTER_ID_FILE"
        [[ -s "$CLUSTER_ID_FILE" ]] || die "StorageTool random-uuid failed"
    fi
    say "formatting storage $DATA (cluster id $(cat "$CLUSTER_ID_FILE"))"
    local out
    if ! out="$("$JAVA" -cp "$LIBS/*" -Dlog4j2.configurationFile="$LOG4J_CONF" -Dkafka.logs.dir="$LOGS" \
            kafka.tools.StorageTool format -t "$(cat "$CLUSTER_ID_FILE")" -c "$PROPS" 2>&1)"; then
        echo "$out" >&2
        die "StorageTool format failed"
    fi
}

cmd_start() {
    local pid
    lock_state
    if pid="$(broker_pid)"; then
        if answering 10 "$pid"; then
            say "already running (pid $pid) at $BOOTSTRAP"
            echo "$BOOTSTRAP"
            return 0
        fi
        say "pid $pid is alive but not answering yet; waiting up to ${START_TIMEOUT}s"
        if "$PYTHON" "$HERE/wait_kafka.py" --bootstrap "$BOOTSTRAP" --timeout "$START_TIMEOUT" --pid "$pid"; then
            return 0
        fi
        show_log_tail
        die "broker pid $pid did not answer within ${START_TIMEOUT}s (try: $0 stop && $0 start)"
    fi
    rm -f "$PIDFILE"

    check_java
    cmd_install
    [[ -x "$PYTHON" ]] || die "python not found at $PYTHON (set CANDOUR_PYTHON, needs aiokafka)"
    if port_busy "$PORT"; then
        die "$BOOTSTRAP is already in use by another process (not our broker: no live pid in $PIDFILE)"
    fi
    if port_busy "$CONTROLLER_PORT"; then
        die "$HOST:$CONTROLLER_PORT (controller) is already in use by another process"
    fi

    write_server_properties
    format_storage

    say "starting Kafka $KAFKA_VERSION (KRaft, single node) on $BOOTSTRAP, controller $HOST:$CONTROLLER_PORT"
    say "state in $STATE, log $SERVER_LOG"
    : >"$STDOUT_LOG"
    # Detached (own session, no terminal, stdio to the log) so it outlives this
    # script; every other inherited fd is closed so that no caller's pipe (or our
    # lock, fd 8) stays open for the broker's lifetime.
    (
        for fd in "/proc/$BASHPID/fd/"*; do
            fd="${fd##*/}"
            if ((fd > 2)); then eval "exec $fd>&-"; fi
        done 2>/dev/null
        # shellcheck disable=SC2086 # HEAP_OPTS is a list of JVM flags
        exec setsid nohup "$JAVA" $HEAP_OPTS \
            -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
            -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
            -Dlog4j2.configurationFile="$LOG4J_CONF" -Dkafka.logs.dir="$LOGS" \
            -cp "$LIBS/*" kafka.Kafka "$PROPS" \
            >>"$STDOUT_LOG" 2>&1 </dev/null
    ) &
    pid=$!
    echo "$pid" >"$PIDFILE"
    say "broker pid $pid; waiting up to ${START_TIMEOUT}s for a metadata response"
    if "$PYTHON" "$HERE/wait_kafka.py" --bootstrap "$BOOTSTRAP" --timeout "$START_TIMEOUT" --pid "$pid"; then
        # wait_kafka.py printed the bootstrap address as its last line
        return 0
    fi
    show_log_tail
    if pid_alive "$pid"; then
        say "stopping the broker that did not become ready" >&2
        cmd_stop >&2 || true
    else
        rm -f "$PIDFILE"
    fi
    die "Kafka did not become ready on $BOOTSTRAP"
}

# ---------------------------------------------------------------- stop / status / logs

cmd_stop() {
    local pid
    lock_state
    if ! pid="$(broker_pid)"; then
        rm -f "$PIDFILE"
        say "not running"
        return 0
    fi
    say "stopping broker pid $pid (SIGTERM)"
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 60; i++)); do
        pid_alive "$pid" || break
        sleep 0.5
    done
    if pid_alive "$pid"; then
        say "still alive after 30s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 20; i++)); do
            pid_alive "$pid" || break
            sleep 0.25
        done
    fi
    rm -f "$PIDFILE"
    say "stopped"
}

cmd_status() {
    local pid
    if ! pid="$(broker_pid)"; then
        say "not running"
        return 1
    fi
    if answering 10 "$pid"; then
        say "running (pid $pid)"
        echo "$BOOTSTRAP"
        return 0
    fi
    say "pid $pid is alive but $BOOTSTRAP is not answering"
    return 1
}

cmd_logs() {
    [[ -f "$SERVER_LOG" ]] || die "no log yet at $SERVER_LOG"
    case "${1:-}" in
        -f | --follow) exec tail -n 50 -F "$SERVER_LOG" ;;
        "") tail -n 100 "$SERVER_LOG" ;;
        *) tail -n "$1" "$SERVER_LOG" ;;
    esac
}

case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    logs) shift; cmd_logs "$@" ;;
    *)
        echo "usage: $0 install|start|stop|status|logs [-f|N]" >&2
        exit 2
        ;;
esac
