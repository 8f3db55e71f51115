#!/usr/bin/env bash
# Stops what scripts/slurm/start-local.sh started in STATE_DIR (slurmd, slurmctld, munged), by the
# pids it recorded there, and waits for them to exit. The folder is kept (logs); remove it yourself.
#
#   scripts/slurm/stop-local.sh "$MIXHEAD_SLURM_DIR"
set -uo pipefail
dir=${1:-${MIXHEAD_SLURM_DIR:-}}
[[ -n "$dir" && -d "$dir" ]] || { echo "usage: stop-local.sh STATE_DIR (the folder start-local.sh printed)" >&2; exit 2; }

stop() {
  local name=$1 pidfile=$2 pid
  [[ -f "$pidfile" ]] || return 0
  pid=$(cat "$pidfile" 2>/dev/null) || return 0
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  # Only a process of that name: a stale pid file must not kill a reused pid.
  if [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" != "$name" ]]; then rm -f "$pidfile"; return 0; fi
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }
    sleep 0.2
  done
  echo "stop-local: $name (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null
  rm -f "$pidfile"
}

# Jobs first, while the controller can still be asked.
if [[ -f "$dir/slurm.conf" ]] && command -v scancel >/dev/null 2>&1; then
  SLURM_CONF="$dir/slurm.conf" scancel --user="$(id -un)" >/dev/null 2>&1 || true
fi
stop slurmd "$dir/slurmd.pid"
stop slurmctld "$dir/slurmctld.pid"
stop munged "$dir/munged.pid"
echo "stop-local: stopped the cluster in $dir" >&2
