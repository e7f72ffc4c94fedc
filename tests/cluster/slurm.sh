#!/usr/bin/env bash
# A one-host SLURM cluster for the cluster tests: munged, slurmctld and slurmd on localhost.
#
#   tests/cluster/slurm.sh start   install slurm + munge when missing (apt-get, as root), write a
#                                  slurm.conf for this machine, start the daemons, wait for idle
#   tests/cluster/slurm.sh stop    cancel every job, stop the daemons, leave nothing running
#   tests/cluster/slurm.sh env     the line to source: export SLURM_CONF=...
#
# Everything lives in $MUSICGEN_SLURM_DIR (default /tmp/musicgen-slurm): the config, a munge key
# and socket of its own, state, spool and logs, so a system munge or slurm is never touched.
# slurmctld listens on $MUSICGEN_SLURM_PORT (default 6817) and slurmd on the port after it.
# `start` ends with exit 0 and the node idle, or with one line saying why the cluster cannot
# start (the tests then skip with that line as the reason).
set -euo pipefail

DIR="${MUSICGEN_SLURM_DIR:-/tmp/musicgen-slurm}"
CTLD_PORT="${MUSICGEN_SLURM_PORT:-6817}"
SLURMD_PORT=$((CTLD_PORT + 1))
PARTITION=debug
export SLURM_CONF="$DIR/slurm.conf"

fail() { echo "cluster: $*" >&2; exit 1; }

install_packages() {
    local missing=()
    command -v munged >/dev/null || missing+=(munge)
    command -v slurmctld >/dev/null || missing+=(slurmctld)
    command -v slurmd >/dev/null || missing+=(slurmd)
    command -v sbatch >/dev/null || missing+=(slurm-client)
    [ ${#missing[@]} -eq 0 ] && return
    [ "$(id -u)" -eq 0 ] || fail "slurm/munge not installed (${missing[*]}) and not root to apt-get them"
    command -v apt-get >/dev/null || fail "slurm/munge not installed (${missing[*]}) and no apt-get"
    echo "cluster: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=300 update -qq >&2 || fail "apt-get update failed"
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >&2 \
        || fail "apt-get install ${missing[*]} failed"
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

write_config() {
    local host cpus mem
    host="$(hostname -s)"
    cpus="$(nproc)"
    mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))  # MiB, 1 GiB spare
    mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log" "$DIR/munge"
    chmod 700 "$DIR/munge"
    cat >"$SLURM_CONF" <<EOF
# Written by tests/cluster/slurm.sh: one node, one partition, no accounting database.
ClusterName=musicgen
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge/munge.socket
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
KillWait=10
MinJobAge=600
SchedulerParameters=sched_interval=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munge() {
    pid_alive "$DIR/munge/munged.pid" && return
    [ -f "$DIR/munge/munge.key" ] || mungekey --create --keyfile="$DIR/munge/munge.key" \
        || fail "mungekey could not create a key"
    munged --force --socket="$DIR/munge/munge.socket" --key-file="$DIR/munge/munge.key" \
        --pid-file="$DIR/munge/munged.pid" --log-file="$DIR/log/munged.log" \
        --seed-file="$DIR/munge/munged.seed" || fail "munged did not start (see $DIR/log/munged.log)"
}

wait_idle() {
    local deadline=$((SECONDS + ${MUSICGEN_SLURM_START_TIMEOUT:-60})) state=""
    while [ $SECONDS -lt $deadline ]; do
        state="$(sinfo --noheader --partition="$PARTITION" --format=%T 2>/dev/null || true)"
        [ "$state" = idle ] && return
        sleep 0.5
    done
    fail "node not idle after ${MUSICGEN_SLURM_START_TIMEOUT:-60} s (state '${state:-no answer}'); logs in $DIR/log"
}

start() {
    [ "$(uname -s)" = Linux ] || fail "a test cluster needs Linux"
    [ "$(id -u)" -eq 0 ] || fail "starting slurmd needs root (running as $(id -un))"
    install_packages
    write_config
    start_munge
    pid_alive "$DIR/slurmctld.pid" || slurmctld -i || fail "slurmctld did not start (see $DIR/log/slurmctld.log)"
    pid_alive "$DIR/slurmd.pid" || slurmd || fail "slurmd did not start (see $DIR/log/slurmd.log)"
    wait_idle
    echo "cluster: node $(hostname -s) idle in partition $PARTITION ($(nproc) CPUs); SLURM_CONF=$SLURM_CONF"
}

stop_pid() {  # stop_pid FILE: SIGTERM, wait up to 10 s, then SIGKILL
    local pidfile="$1" pid
    [ -f "$pidfile" ] || return 0
    pid="$(cat "$pidfile")"
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

stop() {
    if [ -f "$SLURM_CONF" ] && pid_alive "$DIR/slurmctld.pid"; then
        scancel --full --signal=KILL --partition="$PARTITION" 2>/dev/null || true
        for _ in $(seq 80); do  # KillWait (10 s) and a margin for the jobs to leave
            [ -z "$(squeue --noheader --states=running,completing 2>/dev/null)" ] && break
            sleep 0.25
        done
    fi
    stop_pid "$DIR/slurmd.pid"
    stop_pid "$DIR/slurmctld.pid"
    stop_pid "$DIR/munge/munged.pid"
    echo "cluster: stopped"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    env) echo "export SLURM_CONF=$SLURM_CONF" ;;
    *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
