#!/usr/bin/env bash
# CI check of the cluster path, for real: installs Slurm from Debian packages, starts a
# single-node cluster on localhost (munged, slurmctld, slurmd), submits a sweep as a job array
# with a dependent merge job, waits, and checks that the merged results equal a
# single-machine run byte for byte. Every daemon it starts is stopped by PID on exit.
#
#   scripts/ci/slurm-sweep-test.sh SPATTEN_BINARY SPEC SHARDS
set -euo pipefail

spatten=$(realpath "${1:?usage: slurm-sweep-test.sh SPATTEN_BINARY SPEC SHARDS}")
spec=$(realpath "${2:?}")
shards=${3:?}
repo=$(cd "$(dirname "$0")/../.." && pwd)

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    echo "== installing slurm and munge"
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d   # keep package services down
    chmod +x /usr/sbin/policy-rc.d
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
    rm -f /usr/sbin/policy-rc.d
fi

work=$(mktemp -d /tmp/spatten-slurm.XXXXXX)
chmod 755 "$work"
pids=()
stop_daemons() {
    for pidfile in "$work"/slurmd.pid "$work"/slurmctld.pid "$work"/munge/munged.pid; do
        [ -f "$pidfile" ] || continue
        pid=$(cat "$pidfile")
        case "$(cat /proc/"$pid"/comm 2>/dev/null)" in
            slurmd|slurmctld|munged) kill "$pid" 2>/dev/null || true ;;
        esac
    done
    for _ in $(seq 50); do
        alive=0
        for pidfile in "$work"/slurmd.pid "$work"/slurmctld.pid "$work"/munge/munged.pid; do
            [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && alive=1
        done
        [ $alive = 0 ] && break
        sleep 0.2
    done
}
trap stop_daemons EXIT

echo "== starting munged"
mkdir -p "$work/munge"
chown munge:munge "$work/munge"
chmod 700 "$work/munge"
dd if=/dev/urandom bs=1 count=1024 of="$work/munge/munge.key" status=none
chown munge:munge "$work/munge/munge.key"
chmod 400 "$work/munge/munge.key"
socket="$work/munge/munge.socket"
runuser -u munge -- munged --key-file="$work/munge/munge.key" --socket="$socket" \
    --pid-file="$work/munge/munged.pid" --log-file="$work/munge/munged.log" \
    --seed-file="$work/munge/munged.seed"
for _ in $(seq 50); do
    munge -S "$socket" -n 2>/dev/null | unmunge -S "$socket" >/dev/null 2>&1 && break
    sleep 0.2
done
munge -S "$socket" -n | unmunge -S "$socket" >/dev/null

echo "== starting slurmctld and slurmd"
host=$(hostname)
cpus=$(nproc)
mkdir -p "$work/state" "$work/spool" "$work/log"
chown -R slurm:slurm "$work/state" 2>/dev/null || true
cat > "$work/slurm.conf" <<CONF
ClusterName=spatten-ci
SlurmctldHost=$host(127.0.0.1)
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
SlurmUser=root
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SchedulerParameters=batch_sched_delay=0
EnforcePartLimits=ALL
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
NodeName=$host CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$work/slurm.conf"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 100); do
    scontrol ping 2>/dev/null | grep -q UP && sinfo -h -o %t 2>/dev/null | grep -q idle && break
    sleep 0.2
done
sinfo

echo "== single-machine reference run"
"$spatten" sweep "$spec" --out "$work/single" --jobs 2 --quiet

echo "== submitting $shards shards and a merge job"
cd "$repo"
SPATTEN="$spatten" scripts/slurm/submit.sh "$spec" "$work/cluster" "$shards"
for _ in $(seq 600); do
    [ -z "$(squeue -h -o %i)" ] && break
    sleep 0.5
done
if [ -n "$(squeue -h -o %i)" ]; then
    squeue; echo "jobs did not finish"; exit 1
fi
cat "$work/cluster/logs/merge.out" 2>/dev/null || true
if ! cmp "$work/single/results.csv" "$work/cluster/merged/results.csv"; then
    echo "FAIL: merged cluster results differ from the single-machine run"
    for f in "$work"/cluster/logs/*.out; do echo "--- $f"; cat "$f"; done
    exit 1
fi
echo "slurm sweep: 1 passed, 0 failed"
