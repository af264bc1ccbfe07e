#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for the runner's Slurm tests (run as root).
#
#   scripts/slurm-local.sh         install Debian's slurm-wlm and munge if missing, write the
#                                  config, start munged, slurmctld and slurmd, wait until the
#                                  node is idle
#   scripts/slurm-local.sh stop    stop what it started
#
# The config is the smallest that runs real job arrays: no cgroups (proctrack/linuxproc,
# task/none), CPUs as consumable resources (select/cons_tres), the node's real CPU count and
# memory (from `slurmd -C`).
set -euo pipefail

state=/var/lib/runner-slurm
conf=/etc/slurm/slurm.conf

stop() {
  for daemon in slurmd slurmctld; do
    pkill -x "$daemon" 2>/dev/null || true
  done
  if [ -f "$state/munged.pid" ]; then
    kill "$(cat "$state/munged.pid")" 2>/dev/null || true
    rm -f "$state/munged.pid"
  fi
}

if [ "${1:-start}" = stop ]; then
  stop
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "error: run as root (it installs packages and starts daemons)" >&2
  exit 1
fi

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null \
  || ! command -v sbatch >/dev/null; then
  echo "installing slurm-wlm and munge ..." >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurmctld slurmd slurm-client munge >&2
fi

# Already up: nothing to do.
if sinfo -h -o %T 2>/dev/null | grep -qx idle; then
  exit 0
fi
stop

mkdir -p "$state"/{ctld,d,log} /etc/slurm /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
if [ ! -s /etc/munge/munge.key ]; then
  mkdir -p /etc/munge
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge /etc/munge/munge.key
chmod 0700 /etc/munge
chmod 0400 /etc/munge/munge.key
runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
cp /run/munge/munged.pid "$state/munged.pid"

host="$(hostname -s)"
node="$(slurmd -C | head -n 1)" # NodeName=<host> CPUs=.. Boards=.. ... RealMemory=..
cat >"$conf" <<EOF
ClusterName=runner-local
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
KillWait=30
InactiveLimit=0
MinJobAge=300
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/d
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
$node State=UNKNOWN
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
rm -f /etc/slurm/cgroup.conf

slurmctld -c # -c: start clean, forget jobs of an earlier cluster
slurmd

for _ in $(seq 1 60); do
  if sinfo -h -o %T 2>/dev/null | grep -qx idle; then
    echo "slurm: node $host idle" >&2
    exit 0
  fi
  sleep 1
done
echo "error: the Slurm node did not come up; logs in $state/log" >&2
sinfo >&2 || true
tail -n 20 "$state"/log/*.log >&2 || true
exit 1
