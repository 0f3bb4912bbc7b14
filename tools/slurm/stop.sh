#!/usr/bin/env bash
# Stop what tools/slurm/start.sh started, and nothing else.
#
# Only daemons whose pid file is under $SLURM_TMP AND whose command line or environment names
# $SLURM_TMP are signalled (never by name, never a Slurm/munge/MariaDB someone else started).
# Jobs still queued in OUR controller are cancelled one by one, by job id, through our own
# SLURM_CONF (never `scancel --user`, which would reach any Slurm the user can talk to).
# A daemon left as a zombie (state Z, no init reaping it) counts as stopped.
S=${SLURM_TMP:-/tmp/scalable-tui-slurmd}
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/common.sh"
export SLURM_CONF="$S/etc/slurm.conf"
if owned_alive "$S/run/slurmctld.pid" && [ -s "$SLURM_CONF" ]; then
  ids=$(timeout 20 squeue -h -o %i 2>/dev/null | tr '\n' ' ')
  [ -n "${ids// }" ] && timeout 20 scancel $ids 2>/dev/null && echo "cancelled job(s) $ids on our own Slurm"
fi
for f in "$S/run/slurmd.pid" "$S/run/slurmctld.pid" "$S/run/slurmdbd.pid" "$S/mysqlrun/mariadb.pid" \
         "$S/munge/munged.pid"; do
  name=$(basename "$f" .pid)
  [ -s "$f" ] || continue
  pid=$(tr -dc '0-9' < "$f")
  if alive "$pid" && ! ours "$pid"; then
    echo "not stopping $name pid $pid: it was not started by tools/slurm/start.sh" >&2
    continue  # a recycled pid: leave it, and leave the stale pid file for a human to look at
  fi
  if alive "$pid" && kill "$pid" 2>/dev/null; then
    for i in $(seq 60); do alive "$pid" || break; sleep 0.25; done
    alive "$pid" && { kill -9 "$pid" 2>/dev/null || true; }
    echo "stopped $name pid $pid"
  fi
  rm -f "$f"
done
exit 0
