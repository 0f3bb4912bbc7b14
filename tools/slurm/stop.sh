#!/usr/bin/env bash
# Stop what tools/slurm/start.sh started: cancel all jobs, then the daemons by their pid files
# (never by name).  A daemon left as a zombie (state Z, no init reaping it) counts as stopped.
S=${SLURM_TMP:-/tmp/scalable-tui-slurm}
[ -s "$S/slurmctld.pid" ] && scancel --user="$(id -un)" 2>/dev/null || true
alive() { [ -e "/proc/$1" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }
for f in "$S/slurmd.pid" "$S/slurmctld.pid" "$S/slurmdbd.pid" /run/mysqld/mariadb.pid /run/munge/munged.pid; do
  [ -s "$f" ] || continue
  pid=$(cat "$f")
  if alive "$pid" && kill "$pid" 2>/dev/null; then
    for i in $(seq 40); do alive "$pid" || break; sleep 0.25; done
    alive "$pid" && { kill -9 "$pid" 2>/dev/null || true; }
    echo "stopped $(basename "$f" .pid) pid $pid"
  fi
  rm -f "$f"
done
exit 0
