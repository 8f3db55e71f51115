#!/usr/bin/env bash
# Starts a private single-node Slurm cluster on this machine, for trying the array recipe of
# docs/scale.md (and for `npm run test:scale`). Everything lives in one state folder: its own munge
# key and socket, a slurm.conf for this host, state, spool and logs; nothing under /etc is touched
# and the system's own munge or Slurm, if any, is left alone.
#
#   eval "$(scripts/slurm/start-local.sh [STATE_DIR])"   # exports SLURM_CONF and MIXHEAD_SLURM_DIR
#   sinfo; sbatch ...
#   scripts/slurm/stop-local.sh "$MIXHEAD_SLURM_DIR"
#
# Needs Debian's slurm-wlm (22.05) and munge; run it as root (slurmd starts jobs as the user who
# submitted them; tested as root only). Process tracking is proctrack/linuxproc and task/none, so
# no cgroup setup is needed: a container is fine. If a daemon fails to start, the ones already
# started are stopped again.
# Ports: MIXHEAD_SLURM_PORT (slurmctld) and the next one (slurmd); default 16817.
# Diagnostics go to stderr; stdout carries only the `export` lines.
set -euo pipefail

say() { printf 'start-local: %s\n' "$*" >&2; }
started=0
die() {
  say "$*"
  # Leave nothing half-started behind.
  if [[ $started == 1 ]]; then "$(dirname "$0")/stop-local.sh" "$dir" >/dev/null 2>&1 || true; fi
  exit 1
}

for bin in munged slurmctld slurmd sinfo scontrol; do
  command -v "$bin" >/dev/null 2>&1 || die "$bin not found: install it (Debian: apt-get install -y slurm-wlm munge)"
done

dir=${1:-$(mktemp -d "${TMPDIR:-/tmp}/mixhead-slurm.XXXXXX")}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
chmod 700 "$dir"
mkdir -p "$dir/state" "$dir/spool" "$dir/log"
user=$(id -un)
host=$(hostname -s)
port=${MIXHEAD_SLURM_PORT:-16817}
cpus=$(nproc)
# Whole MiB of memory, less a margin, so slurmd never finds less than it was told.
mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)

for p in "$port" "$((port + 1))"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    die "port $p is in use (another cluster running?); set MIXHEAD_SLURM_PORT to a free port"
  fi
done

# munge: our own key and socket. munged insists the key is private to its owner.
if [[ ! -f "$dir/munge.key" ]]; then
  dd if=/dev/urandom of="$dir/munge.key" bs=1024 count=1 status=none
fi
chmod 400 "$dir/munge.key"
socket="$dir/munge.socket"
started=1
# --force: munged otherwise refuses to run as root or with a socket outside /run/munge.
munged --force --key-file="$dir/munge.key" --socket="$socket" --pid-file="$dir/munged.pid" \
  --log-file="$dir/log/munged.log" --seed-file="$dir/munged.seed" \
  || die "munged did not start; see $dir/log/munged.log"

cat >"$dir/slurm.conf" <<CONF
# Written by scripts/slurm/start-local.sh for host $host.
ClusterName=mixhead
SlurmctldHost=$host(127.0.0.1)
SlurmUser=$user
SlurmdUser=$user
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
PlugStackConfig=$dir/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SlurmctldTimeout=30
SlurmdTimeout=30
KillWait=5
MinJobAge=600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
: >"$dir/plugstack.conf"
export SLURM_CONF="$dir/slurm.conf"

slurmctld -f "$SLURM_CONF" || die "slurmctld did not start; see $dir/log/slurmctld.log"
slurmd -f "$SLURM_CONF" -N "$host" || die "slurmd did not start; see $dir/log/slurmd.log"

# Wait until the node is idle (scheduling starts only then).
for _ in $(seq 1 60); do
  state=$(sinfo -h -N -n "$host" -o '%T' 2>/dev/null || true)
  if [[ "$state" == idle* ]]; then
    say "node $host idle ($cpus CPUs); state in $dir"
    printf 'export SLURM_CONF=%q\nexport MIXHEAD_SLURM_DIR=%q\n' "$SLURM_CONF" "$dir"
    exit 0
  fi
  sleep 1
done
tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
die "node $host did not become idle within 60 s (state: ${state:-unknown}); logs above"
