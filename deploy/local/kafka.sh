#!/usr/bin/env bash
# Apache Kafka (KRaft, combined broker+controller nodes) for local development,
# tests and CI, from Maven Central jars: no Docker, no tarball. One node, or a
# three-node cluster next to it.
#
#   deploy/local/kafka.sh install        fetch the broker jars into the cache (once)
#   deploy/local/kafka.sh start          install if needed, format storage once, start
#                                        in the background, wait until it answers;
#                                        last line printed: the bootstrap address
#   deploy/local/kafka.sh stop           SIGTERM, wait up to 30 s, then SIGKILL
#   deploy/local/kafka.sh status         exit 0 if running and answering, else 1
#   deploy/local/kafka.sh logs [-f|N]    tail the broker log (follow, or last N lines)
#
#   deploy/local/kafka.sh cluster start  three nodes (ids 1-3, each broker + controller);
#                                        waits until every one answers and all three
#                                        are registered; last line: the bootstrap list
#   deploy/local/kafka.sh cluster stop   SIGTERM to all three, wait, SIGKILL leftovers
#   deploy/local/kafka.sh cluster status exit 0 if all three run and answer, else 1
#   deploy/local/kafka.sh broker start|stop|kill|status|logs ID [-f|N]
#                                        one node of the cluster: start it again (waits
#                                        until the cluster lists it), stop it (SIGTERM,
#                                        controlled shutdown), kill it (SIGKILL: a crash)
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
# Single node with a SASL_SSL listener (SCRAM-SHA-512) next to PLAINTEXT, which
# stays for the broker's own traffic and readiness checks on 127.0.0.1:
#   CANDOUR_KAFKA_SASL_SSL_PORT    port of the SASL_SSL listener (unset: none)
#   CANDOUR_KAFKA_SSL_KEYSTORE     PEM file: the broker's PKCS#8 key, then its certificate chain
#   CANDOUR_KAFKA_SSL_TRUSTSTORE   PEM CA file; when set, clients must present a certificate
#   CANDOUR_KAFKA_SCRAM_USERS      file of "name=password" lines: SCRAM-SHA-512 users,
#                                  created when the storage is formatted (first start)
#   CANDOUR_KAFKA_SUPER_USERS      ";"-separated user names; when set, ACLs are enforced
#                                  (StandardAuthorizer) and these users bypass them
# Cluster (ports are remembered in <local>/kafka-cluster/ports.env at start):
#   CANDOUR_KAFKA_CLUSTER_PORTS             PLAINTEXT ports of nodes 1,2,3 (default 19092,19093,19094)
#   CANDOUR_KAFKA_CLUSTER_CONTROLLER_PORTS  CONTROLLER ports       (default 19192,19193,19194)
#   CANDOUR_KAFKA_CLUSTER_HEAP_OPTS         JVM heap per node      (default "-Xms128m -Xmx512m")
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
# What differs between the single node and a cluster node (see select_node).
NODE_ID=1
VOTERS="1@$HOST:$CONTROLLER_PORT"
CLUSTER_SIZE=1
SASL_SSL_PORT="${CANDOUR_KAFKA_SASL_SSL_PORT:-}"

CLUSTER_STATE="$LOCAL_DIR/kafka-cluster"
CLUSTER_PORTS_FILE="$CLUSTER_STATE/ports.env"
CLUSTER_NODES=(1 2 3)
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

replication_properties() {
    local replicas=1 in_sync=1 why="# single node: every internal topic has one replica"
    if ((CLUSTER_SIZE > 1)); then
        replicas=3
        in_sync=2
        why="# three nodes, as in production: three replicas of everything, two in sync for
# every acks=all write, and never a leader that may lack acknowledged records"
    fi
    cat <<EOF
$why
offsets.topic.replication.factor=$replicas
transaction.state.log.replication.factor=$replicas
transaction.state.log.min.isr=$in_sync
share.coordinator.state.topic.replication.factor=$replicas
share.coordinator.state.topic.min.isr=$in_sync
default.replication.factor=$replicas
min.insync.replicas=$in_sync
EOF
    if ((CLUSTER_SIZE > 1)); then
        echo "unclean.leader.election.enable=false"
    fi
}

sasl_ssl_properties() {
    local keystore="${CANDOUR_KAFKA_SSL_KEYSTORE:-}" truststore="${CANDOUR_KAFKA_SSL_TRUSTSTORE:-}"
    [[ -f "$keystore" ]] || die "CANDOUR_KAFKA_SASL_SSL_PORT needs CANDOUR_KAFKA_SSL_KEYSTORE (a PEM file of key and certificate chain)"
    cat <<EOF

# SASL_SSL listener: TLS with the PEM key store, SCRAM-SHA-512 logins
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=$(realpath "$keystore")
EOF
    if [[ -n "$truststore" ]]; then
        [[ -f "$truststore" ]] || die "CANDOUR_KAFKA_SSL_TRUSTSTORE=$truststore is not a file"
        cat <<EOF
listener.name.sasl_ssl.ssl.truststore.type=PEM
listener.name.sasl_ssl.ssl.truststore.location=$(realpath "$truststore")
listener.name.sasl_ssl.ssl.client.auth=required
EOF
    fi
    if [[ -n "${CANDOUR_KAFKA_SUPER_USERS:-}" ]]; then
        local users="User:ANONYMOUS" name names
        IFS=';' read -ra names <<<"$CANDOUR_KAFKA_SUPER_USERS"
        for name in "${names[@]}"; do users+=";User:$name"; done
        cat <<EOF

# ACLs enforced; ANONYMOUS is the PLAINTEXT and CONTROLLER listeners' principal
# (the broker itself, on 127.0.0.1)
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=$users
EOF
    fi
}

write_server_properties() {
    mkdir -p "$DATA" "$LOGS"
    local listeners="PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT"
    local advertised="PLAINTEXT://$HOST:$PORT"
    local protocols="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    if [[ -n "$SASL_SSL_PORT" ]]; then
        listeners+=",SASL_SSL://$HOST:$SASL_SSL_PORT"
        advertised+=",SASL_SSL://$HOST:$SASL_SSL_PORT"
        protocols+=",SASL_SSL:SASL_SSL"
    fi
    cat >"$PROPS" <<EOF
# Generated by deploy/local/kafka.sh on every start: edit the script, not this file.
process.roles=broker,controller
node.id=$NODE_ID
controller.quorum.voters=$VOTERS
listeners=$listeners
advertised.listeners=$advertised
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=$protocols
log.dirs=$DATA

$(replication_properties)

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
    if [[ -n "$SASL_SSL_PORT" ]]; then
        sasl_ssl_properties >>"$PROPS"
    fi
}

# NUL-separated --add-scram arguments for the users in CANDOUR_KAFKA_SCRAM_USERS.
scram_arguments() {
    local file="${CANDOUR_KAFKA_SCRAM_USERS:-}" line name password
    [[ -n "$file" ]] || return 0
    [[ -f "$file" ]] || die "CANDOUR_KAFKA_SCRAM_USERS=$file is not a file"
    while IFS= read -r line || [[ -n "$line" ]]; do
        [[ -z "$line" || "$line" == \#* ]] && continue
        name="${line%%=*}"
        password="${line#*=}"
        printf '%s\0%s\0' --add-scram "SCRAM-SHA-512=[name=$name,password=$password]"
    done <"$file"
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
    local out scram=()
    mapfile -d '' scram < <(scram_arguments)
    if ! out="$("$JAVA" -cp "$LIBS/*" -Dlog4j2.configurationFile="$LOG4J_CONF" -Dkafka.logs.dir="$LOGS" \
            kafka.tools.StorageTool format -t "$(cat "$CLUSTER_ID_FILE")" -c "$PROPS" "${scram[@]}" 2>&1)"; then
        echo "$out" >&2
        die "StorageTool format failed"
    fi
}

# Start the node of the current STATE in the background; its pid in LAUNCHED_PID.
launch_broker() {
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
    LAUNCHED_PID=$!
    echo "$LAUNCHED_PID" >"$PIDFILE"
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
    launch_broker
    pid=$LAUNCHED_PID
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

# ---------------------------------------------------------------- cluster

CLUSTER_HEAP_OPTS="${CANDOUR_KAFKA_CLUSTER_HEAP_OPTS:--Xms128m -Xmx512m}"

# The cluster's ports: as remembered in ports.env while any node may run, else
# from the environment (or the defaults) when `cluster start` writes them.
load_cluster_ports() { # load_cluster_ports start|existing
    local ports controllers
    if [[ "$1" == existing || ( -f "$CLUSTER_PORTS_FILE" && -n "$(cluster_pids)" ) ]]; then
        [[ -f "$CLUSTER_PORTS_FILE" ]] || die "no cluster in $CLUSTER_STATE (run: $0 cluster start)"
        # shellcheck source=/dev/null
        source "$CLUSTER_PORTS_FILE"
    else
        ports="${CANDOUR_KAFKA_CLUSTER_PORTS:-19092,19093,19094}"
        controllers="${CANDOUR_KAFKA_CLUSTER_CONTROLLER_PORTS:-19192,19193,19194}"
        mkdir -p "$CLUSTER_STATE"
        printf 'ports=%s\ncontrollers=%s\n' "$ports" "$controllers" >"$CLUSTER_PORTS_FILE"
    fi
    IFS=',' read -ra CLUSTER_PORTS <<<"$ports"
    IFS=',' read -ra CLUSTER_CONTROLLER_PORTS <<<"$controllers"
    ((${#CLUSTER_PORTS[@]} == 3 && ${#CLUSTER_CONTROLLER_PORTS[@]} == 3)) \
        || die "a cluster needs three PLAINTEXT and three CONTROLLER ports (got '$ports' and '$controllers')"
    CLUSTER_BOOTSTRAP="$HOST:${CLUSTER_PORTS[0]},$HOST:${CLUSTER_PORTS[1]},$HOST:${CLUSTER_PORTS[2]}"
    VOTERS="1@$HOST:${CLUSTER_CONTROLLER_PORTS[0]},2@$HOST:${CLUSTER_CONTROLLER_PORTS[1]},3@$HOST:${CLUSTER_CONTROLLER_PORTS[2]}"
}

# Pids of the cluster's live nodes, if any (pid files only: ports may not be loaded yet).
cluster_pids() {
    local id pid
    for id in "${CLUSTER_NODES[@]}"; do
        pid="$(tr -dc '0-9' <"$CLUSTER_STATE/node-$id/kafka.pid" 2>/dev/null)" || continue
        [[ -n "$pid" ]] && pid_alive "$pid" && echo "$pid"
    done
    return 0
}

lock_cluster() {
    STATE="$CLUSTER_STATE"
    lock_state
}

# Point every per-node variable (state, ports, properties) at cluster node ID.
select_node() { # select_node ID
    local id="$1"
    [[ "$id" =~ ^[123]$ ]] || die "broker id must be 1, 2 or 3 (got '$id')"
    NODE_ID="$id"
    STATE="$CLUSTER_STATE/node-$id"
    DATA="$STATE/data"
    LOGS="$STATE/logs"
    PROPS="$STATE/server.properties"
    PIDFILE="$STATE/kafka.pid"
    STDOUT_LOG="$LOGS/stdout.log"
    SERVER_LOG="$LOGS/server.log"
    CLUSTER_ID_FILE="$CLUSTER_STATE/cluster.id"
    PORT="${CLUSTER_PORTS[id - 1]}"
    CONTROLLER_PORT="${CLUSTER_CONTROLLER_PORTS[id - 1]}"
    BOOTSTRAP="$HOST:$PORT"
    CLUSTER_SIZE=3
    HEAP_OPTS="$CLUSTER_HEAP_OPTS"
    SASL_SSL_PORT=""
}

# Write the node's properties, format its storage once, launch it (no wait).
launch_node() {
    rm -f "$PIDFILE"
    if port_busy "$PORT"; then
        die "$BOOTSTRAP (node $NODE_ID) is already in use by another process"
    fi
    if port_busy "$CONTROLLER_PORT"; then
        die "$HOST:$CONTROLLER_PORT (node $NODE_ID controller) is already in use by another process"
    fi
    write_server_properties
    format_storage
    launch_broker
    say "node $NODE_ID: pid $LAUNCHED_PID on $BOOTSTRAP, controller $HOST:$CONTROLLER_PORT, log $SERVER_LOG"
}

# Wait until node ID answers and its metadata lists `brokers` live brokers and itself.
wait_node() { # wait_node BROKERS
    local pid
    pid="$(read_pid)" || return 1
    "$PYTHON" "$HERE/wait_kafka.py" --bootstrap "$BOOTSTRAP" --timeout "$START_TIMEOUT" \
        --pid "$pid" --brokers "$1" --node "$NODE_ID" --quiet >/dev/null
}

cmd_cluster_start() {
    local id pid
    lock_cluster
    check_java
    cmd_install
    [[ -x "$PYTHON" ]] || die "python not found at $PYTHON (set CANDOUR_PYTHON, needs aiokafka)"
    load_cluster_ports start
    say "starting a three-node Kafka $KAFKA_VERSION cluster (KRaft, combined nodes) in $CLUSTER_STATE"
    local starting=() formats=()
    for id in "${CLUSTER_NODES[@]}"; do
        select_node "$id"
        if pid="$(broker_pid)"; then
            say "node $id already running (pid $pid) on $BOOTSTRAP"
            continue
        fi
        starting+=("$id")
    done
    # One cluster id for all; the three formats (a JVM each) run side by side.
    if [[ ! -s "$CLUSTER_STATE/cluster.id" ]]; then
        "$JAVA" -cp "$LIBS/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1 >"$CLUSTER_STATE/cluster.id"
        [[ -s "$CLUSTER_STATE/cluster.id" ]] || die "StorageTool random-uuid failed"
    fi
    for id in "${starting[@]}"; do
        select_node "$id"
        write_server_properties
        format_storage &
        formats+=($!)
    done
    for pid in "${formats[@]}"; do
        wait "$pid" || die "formatting a node's storage failed"
    done
    for id in "${starting[@]}"; do
        select_node "$id"
        launch_node
    done
    say "waiting up to ${START_TIMEOUT}s for all three nodes to answer and register"
    for id in "${CLUSTER_NODES[@]}"; do
        select_node "$id"
        if ! wait_node 3; then
            show_log_tail
            say "stopping the cluster that did not become ready" >&2
            cmd_cluster_stop >&2 || true
            die "node $id did not become ready on $BOOTSTRAP"
        fi
    done
    say "cluster ready: $CLUSTER_BOOTSTRAP"
    echo "$CLUSTER_BOOTSTRAP"
}

cmd_cluster_stop() {
    local id pid i pids=()
    lock_cluster
    if [[ -z "$(cluster_pids)" ]]; then
        say "cluster not running"
        return 0
    fi
    load_cluster_ports existing
    # All at once: a node shutting down alone waits for the others' controller quorum.
    for id in "${CLUSTER_NODES[@]}"; do
        select_node "$id"
        if pid="$(broker_pid)"; then
            say "stopping node $id pid $pid (SIGTERM)"
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
        fi
        rm -f "$PIDFILE"
    done
    # The last node standing cannot finish its controlled shutdown: that needs the
    # controller quorum, two of three nodes. Give it a moment to flush, then SIGKILL.
    local alive lone=0
    for ((i = 0; i < 60; i++)); do
        alive=()
        for pid in "${pids[@]}"; do
            pid_alive "$pid" && alive+=("$pid")
        done
        ((${#alive[@]} == 0)) && break
        if ((${#alive[@]} == 1)); then
            lone=$((lone + 1))
            ((lone >= 6)) && break
        fi
        sleep 0.5
    done
    for pid in "${alive[@]}"; do
        say "pid $pid cannot finish a controlled shutdown without a controller quorum: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    done
    say "cluster stopped"
}

cmd_cluster_status() {
    local id pid ok=0
    if [[ ! -f "$CLUSTER_PORTS_FILE" ]]; then
        say "no cluster in $CLUSTER_STATE"
        return 1
    fi
    load_cluster_ports existing
    for id in "${CLUSTER_NODES[@]}"; do
        select_node "$id"
        if ! pid="$(broker_pid)"; then
            say "node $id: not running"
            ok=1
        elif answering 10 "$pid"; then
            say "node $id: running (pid $pid) on $BOOTSTRAP"
        else
            say "node $id: pid $pid alive but $BOOTSTRAP is not answering"
            ok=1
        fi
    done
    ((ok == 0)) && echo "$CLUSTER_BOOTSTRAP"
    return "$ok"
}

cmd_broker() { # cmd_broker start|stop|kill|status|logs ID [args]
    local action="${1:-}" id="${2:-}" pid i
    [[ -n "$id" ]] || die "usage: $0 broker start|stop|kill|status|logs ID"
    case "$action" in
        start | stop | kill) lock_cluster ;;
    esac
    load_cluster_ports existing
    select_node "$id"
    case "$action" in
        start)
            if pid="$(broker_pid)"; then
                say "node $id already running (pid $pid) on $BOOTSTRAP"
            else
                check_java
                launch_node
            fi
            say "waiting up to ${START_TIMEOUT}s for node $id to answer and be listed"
            if ! wait_node 1; then
                show_log_tail
                die "node $id did not come back on $BOOTSTRAP"
            fi
            say "node $id ready"
            echo "$BOOTSTRAP"
            ;;
        stop) cmd_stop ;;
        kill)
            if ! pid="$(broker_pid)"; then
                rm -f "$PIDFILE"
                say "node $id not running"
                return 0
            fi
            say "killing node $id pid $pid (SIGKILL)"
            kill -KILL "$pid" 2>/dev/null || true
            for ((i = 0; i < 40; i++)); do
                pid_alive "$pid" || break
                sleep 0.25
            done
            pid_alive "$pid" && die "pid $pid survived SIGKILL"
            rm -f "$PIDFILE"
            say "node $id killed"
            ;;
        status) cmd_status ;;
        logs) shift 2; cmd_logs "$@" ;;
        *) die "usage: $0 broker start|stop|kill|status|logs ID" ;;
    esac
}

USAGE="usage: $0 install|start|stop|status|logs [-f|N]
       $0 cluster start|stop|status
       $0 broker start|stop|kill|status|logs ID [-f|N]"

case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    logs) shift; cmd_logs "$@" ;;
    cluster)
        case "${2:-}" in
            start) cmd_cluster_start ;;
            stop) cmd_cluster_stop ;;
            status) cmd_cluster_status ;;
            *) echo "$USAGE" >&2; exit 2 ;;
        esac
        ;;
    broker) shift; cmd_broker "$@" ;;
    *)
        echo "$USAGE" >&2
        exit 2
        ;;
esac
