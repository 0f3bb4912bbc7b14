#!/usr/bin/env bash
# Start a real single-node Slurm on this machine (Debian/Ubuntu, run as root), for tests and demos.
#
#   tools/slurm/start.sh            munge + slurmctld + slurmd (no accounting: sacct says "disabled")
#   WITH_DBD=1 tools/slurm/start.sh also MariaDB + slurmdbd, so sacct works
#
# Installs Debian's packages when they are missing (apt-get update first).  Idempotent: when the
# daemons from a previous start are alive and the node answers, it only prints the node line.
# State, logs and pid files live under $SLURM_TMP (default /tmp/scalable-tui-slurm).
# Exit status: 0 ready; 2 cannot run here (not root, no apt-get, install failed); 1 start failed.
# Stop with tools/slurm/stop.sh (daemons are stopped by pid file, never by name).
set -euo pipefail
S=${SLURM_TMP:-/tmp/scalable-tui-slurm}
WITH_DBD=${WITH_DBD:-0}
export DEBIAN_FRONTEND=noninteractive
cant() { echo "slurm-start: cannot run Slurm here: $*" >&2; exit 2; }
fail() { echo "slurm-start: $*" >&2; for f in "$S"/log/*.log; do [ -s "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }; done; exit 1; }
alive() { [ -s "$1" ] && p=$(cat "$1") && [ -e "/proc/$p" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$p/stat" 2>/dev/null; }
node_ready() { sinfo -h -o %T 2>/dev/null | grep -Eqx 'idle|mixed|allocated'; }

[ "$(id -u)" = 0 ] || cant "needs root (installs packages and runs slurmd as root)"

# Already running (from an earlier start with the same SLURM_TMP)?
if alive "$S/slurmctld.pid" && alive "$S/slurmd.pid" && node_ready; then
  if [ "$WITH_DBD" != 1 ] || alive "$S/slurmdbd.pid"; then
    echo "slurm-start: already running ($S)"; sinfo -h -o '%P %a %D %T %N'; exit 0
  fi
fi
# Anything left over from a half-dead earlier start is stopped first (by pid file).
"$(dirname "$0")/stop.sh" >/dev/null || true

PKGS="munge slurmctld slurmd slurm-client"
[ "$WITH_DBD" = 1 ] && PKGS="$PKGS slurmdbd mariadb-server"
missing=""
for p in $PKGS; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"; done
if [ -n "$missing" ]; then
  command -v apt-get >/dev/null || cant "packages missing ($missing) and no apt-get"
  t0=$(date +%s)
  apt-get update -qq >/dev/null 2>&1 || cant "apt-get update failed (offline?)"
  apt-get install -y -q --no-install-recommends $missing >"${TMPDIR:-/tmp}/slurm-apt.log" 2>&1 \
    || { tail -n 5 "${TMPDIR:-/tmp}/slurm-apt.log" >&2; cant "apt-get install$missing failed"; }
  echo "slurm-start: installed$missing in $(( $(date +%s) - t0 )) s"
fi

mkdir -p "$S/state" "$S/spool" "$S/log" /run/munge /etc/slurm
chown -R slurm:slurm "$S"; chown munge:munge /run/munge
[ -s /etc/munge/munge.key ] || { mungekey -c -k /etc/munge/munge.key; chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }

MEM=$(( $(free -m | awk '/^Mem:/{print $2}') - 1024 ))
# nproc honours OMP_NUM_THREADS, which a Dask nanny sets to 1 in its own process (pre-spawn-environ):
# ask for the real count, or Slurm would be configured with one CPU.
CPUS=${SLURM_CPUS:-$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)}
ACCT=accounting_storage/none
[ "$WITH_DBD" = 1 ] && ACCT=accounting_storage/slurmdbd
# cgroup v1 memory+freezer mounted (hybrid): real cgroup OOM kills.  Otherwise Slurm polls and kills.
if [ -d /sys/fs/cgroup/memory ] && [ -d /sys/fs/cgroup/freezer ]; then
  PT=proctrack/cgroup; TP=task/cgroup; JAP=NoOverMemoryKill
  printf 'CgroupPlugin=cgroup/v1\nCgroupMountpoint=/sys/fs/cgroup\nConstrainCores=no\nConstrainRAMSpace=yes\nConstrainSwapSpace=no\n' > /etc/slurm/cgroup.conf
else
  PT=proctrack/linuxproc; TP=task/none; JAP=OverMemoryKill; rm -f /etc/slurm/cgroup.conf
fi
cat > /etc/slurm/slurm.conf <<CONF
# written by scalable-tui tools/slurm/start.sh
ClusterName=testcluster
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
ProctrackType=$PT
TaskPlugin=$TP
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=5
JobAcctGatherParams=$JAP
AccountingStorageType=$ACCT
AccountingStorageHost=localhost
JobCompType=jobcomp/filetxt
JobCompLoc=$S/log/jobcomp.txt
ReturnToService=2
MinJobAge=600
CommunicationParameters=NoInAddrAny
KillWait=10
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF

alive /run/munge/munged.pid || runuser -u munge -- /usr/sbin/munged || fail "munged did not start"

if [ "$WITH_DBD" = 1 ]; then
  mkdir -p /run/mysqld; chown mysql:mysql /run/mysqld
  if ! alive /run/mysqld/mariadb.pid; then
    nohup /usr/sbin/mariadbd --user=mysql --bind-address=127.0.0.1 --socket=/run/mysqld/mysqld.sock \
          --pid-file=/run/mysqld/mariadb.pid > "$S/log/mariadb.log" 2>&1 &
  fi
  for i in $(seq 120); do mariadb -e 'select 1' >/dev/null 2>&1 && break; sleep 0.25; done
  mariadb -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db; CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmpw'; GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';" \
    || fail "mariadb did not start"
  printf 'AuthType=auth/munge\nDbdHost=localhost\nDbdAddr=127.0.0.1\nSlurmUser=slurm\nLogFile=%s/log/slurmdbd.log\nPidFile=%s/slurmdbd.pid\nStorageType=accounting_storage/mysql\nStorageHost=localhost\nStorageLoc=slurm_acct_db\nStorageUser=slurm\nStoragePass=slurmpw\n' "$S" "$S" > /etc/slurm/slurmdbd.conf
  chown slurm:slurm /etc/slurm/slurmdbd.conf; chmod 600 /etc/slurm/slurmdbd.conf
  /usr/sbin/slurmdbd || fail "slurmdbd did not start"
  for i in $(seq 120); do sacctmgr -n list cluster >/dev/null 2>&1 && break; sleep 0.25; done
  sacctmgr -i add cluster testcluster >/dev/null 2>&1 || true
fi

# -c: start with a clean state (job ids restart from 1 on each start).
/usr/sbin/slurmctld -c || fail "slurmctld did not start"
/usr/sbin/slurmd -N localhost || fail "slurmd did not start"
for i in $(seq 120); do node_ready && break; sleep 0.25; done
node_ready || fail "the node did not become idle: $(sinfo -h -o '%T %E' 2>&1)"
sinfo -h -o '%P %a %D %T %N'
