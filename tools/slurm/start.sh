#!/usr/bin/env bash
# Start a private single-node Slurm on this machine (Debian/Ubuntu, run as root), for tests and demos.
#
#   tools/slurm/start.sh            munge + slurmctld + slurmd (no accounting: sacct says "disabled")
#   WITH_DBD=1 tools/slurm/start.sh also a private MariaDB + slurmdbd, so sacct works
#
# Everything it starts is its own and lives under $SLURM_TMP (default /tmp/scalable-tui-slurmd):
# config ($S/etc/slurm.conf: clients need SLURM_CONF=$S/etc/slurm.conf), state, logs, pid files,
# its own munged (own key and socket), its own MariaDB data directory, and ports of its own
# (SLURM_PORT_BASE, default 16817: slurmctld, +1 slurmd, +2 slurmdbd, +3 MariaDB).  Nothing in
# /etc/slurm, /etc/munge or the system MariaDB is written or touched.
#
# Safety: a Slurm, munged or MariaDB that this tool did not start (a site's Slurm, another test
# setup) is never stopped, reconfigured or used.  When a slurmctld or slurmd of someone else runs
# here, the script refuses (exit 3) with the reason: two slurmd on one node would share the cgroup
# hierarchy.  Someone else's munged, MariaDB or slurmdbd is left alone (ours use other sockets/ports).
#
# Installs Debian's packages when they are missing (apt-get update first).  Idempotent: when the
# daemons of a previous start are alive (checked by pid file AND by their command line naming
# $SLURM_TMP) and the node answers, it only prints "already running" and the node line.
# Exit status: 0 ready; 2 cannot run here (not root, no apt-get, install failed);
# 3 a Slurm not started by this tool runs here; 1 start failed.
# Stop with tools/slurm/stop.sh (only what this script started, by pid file and ownership check).
set -euo pipefail
S=${SLURM_TMP:-/tmp/scalable-tui-slurmd}
WITH_DBD=${WITH_DBD:-0}
BASE=${SLURM_PORT_BASE:-16817}
export SLURM_CONF="$S/etc/slurm.conf"
export DEBIAN_FRONTEND=noninteractive
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tools/slurm/common.sh
. "$HERE/common.sh"
cant() { echo "slurm-start: cannot run Slurm here: $*" >&2; exit 2; }
fail() { echo "slurm-start: $*" >&2; for f in "$S"/log/*.log; do [ -s "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }; done; exit 1; }
node_ready() { timeout 5 sinfo -h -o %T 2>/dev/null | grep -Eqx 'idle|mixed|allocated'; }

[ "$(id -u)" = 0 ] || cant "needs root (installs packages and runs slurmd as root)"

# A Slurm that is not ours?  Refuse before touching anything.
foreign=$(foreign_daemons slurmctld slurmd)
if [ -n "$foreign" ]; then
  echo "slurm-start: a Slurm not started by this tool is running here ($foreign)." >&2
  echo "slurm-start: refusing to start a second one or to stop/reconfigure it; stop it yourself or run the tests elsewhere." >&2
  exit 3
fi

# Already running (from an earlier start with the same SLURM_TMP)?
if owned_alive "$S/run/slurmctld.pid" && owned_alive "$S/run/slurmd.pid" && node_ready; then
  if [ "$WITH_DBD" != 1 ] || owned_alive "$S/run/slurmdbd.pid"; then
    echo "slurm-start: already running ($S)"; sinfo -h -o '%P %a %D %T %N'; exit 0
  fi
fi
# Anything left over from a half-dead earlier start of ours is stopped first (pid file + ownership).
"$HERE/stop.sh" >/dev/null || true

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
  # the packages' own daemons may have been started by their postinst: not ours, and in the way
  foreign=$(foreign_daemons slurmctld slurmd)
  [ -z "$foreign" ] || { echo "slurm-start: the packages started a Slurm of their own ($foreign); refusing" >&2; exit 3; }
fi

mkdir -p "$S/etc" "$S/state" "$S/spool" "$S/log" "$S/run" "$S/munge"
chmod 755 "$S" "$S/etc"
chown -R slurm:slurm "$S/state" "$S/spool" "$S/log" "$S/run"; chmod 755 "$S/run"
chown munge:munge "$S/munge"; chmod 755 "$S/munge"  # clients must reach the socket; the key is 0400
if [ ! -s "$S/munge/munge.key" ]; then
  dd if=/dev/urandom bs=1 count=1024 of="$S/munge/munge.key" status=none
  chown munge:munge "$S/munge/munge.key"; chmod 400 "$S/munge/munge.key"
fi
MUNGE_SOCKET="$S/munge/munge.socket"

MEM=$(( $(free -m | awk '/^Mem:/{print $2}') - 1024 ))
# nproc honours OMP_NUM_THREADS, which a Dask nanny sets to 1 in its own process (pre-spawn-environ):
# ask for the real count, or Slurm would be configured with one CPU.
CPUS=${SLURM_CPUS:-$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)}
ACCT=accounting_storage/none
[ "$WITH_DBD" = 1 ] && ACCT=accounting_storage/slurmdbd
# cgroup v1 memory+freezer mounted (hybrid): real cgroup OOM kills.  Otherwise Slurm polls and kills.
if [ -d /sys/fs/cgroup/memory ] && [ -d /sys/fs/cgroup/freezer ]; then
  PT=proctrack/cgroup; TP=task/cgroup; JAP=NoOverMemoryKill
  printf 'CgroupPlugin=cgroup/v1\nCgroupMountpoint=/sys/fs/cgroup\nConstrainCores=no\nConstrainRAMSpace=yes\nConstrainSwapSpace=no\n' > "$S/etc/cgroup.conf"
else
  PT=proctrack/linuxproc; TP=task/none; JAP=OverMemoryKill; rm -f "$S/etc/cgroup.conf"
fi
cat > "$S/etc/slurm.conf" <<CONF
# written by scalable-tui tools/slurm/start.sh: a private test Slurm (SLURM_CONF=$S/etc/slurm.conf)
ClusterName=scalabletui
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$BASE
SlurmdPort=$((BASE + 1))
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
CredType=cred/munge
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/run/slurmctld.pid
SlurmdPidFile=$S/run/slurmd.pid
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
AccountingStoragePort=$((BASE + 2))
# with slurmdbd + munge, the "password" is the munge socket to use (ours, not /run/munge)
AccountingStoragePass=$MUNGE_SOCKET
AccountingStoreFlags=job_script
JobCompType=jobcomp/filetxt
JobCompLoc=$S/log/jobcomp.txt
ReturnToService=2
MinJobAge=600
CommunicationParameters=NoInAddrAny
KillWait=10
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
chmod 644 "$S/etc/slurm.conf"

owned_alive "$S/munge/munged.pid" || runuser -u munge -- /usr/sbin/munged --socket="$MUNGE_SOCKET" \
  --key-file="$S/munge/munge.key" --pid-file="$S/munge/munged.pid" --log-file="$S/munge/munged.log" \
  --seed-file="$S/munge/munged.seed" || fail "munged did not start"

if [ "$WITH_DBD" = 1 ]; then
  DBPORT=$((BASE + 3)); DBSOCK="$S/mysqlrun/mysqld.sock"
  mkdir -p "$S/mysql" "$S/mysqlrun"; chown mysql:mysql "$S/mysql" "$S/mysqlrun"
  db() { mariadb --no-defaults --socket="$DBSOCK" -uroot "$@"; }
  if [ ! -d "$S/mysql/mysql" ]; then
    mariadb-install-db --no-defaults --user=mysql --datadir="$S/mysql" --skip-test-db \
      --auth-root-authentication-method=socket >"$S/log/mariadb-install.log" 2>&1 || fail "mariadb-install-db failed"
  fi
  if ! owned_alive "$S/mysqlrun/mariadb.pid"; then
    nohup /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$S/mysql" --bind-address=127.0.0.1 \
          --port="$DBPORT" --socket="$DBSOCK" --pid-file="$S/mysqlrun/mariadb.pid" --skip-log-bin \
          --innodb-buffer-pool-size=32M > "$S/log/mariadb.log" 2>&1 &
  fi
  for i in $(seq 120); do db -e 'select 1' >/dev/null 2>&1 && break; sleep 0.25; done
  db -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db; CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurmpw'; GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';" \
    || fail "mariadb did not start"
  printf 'AuthType=auth/munge\nAuthInfo=socket=%s\nDbdHost=localhost\nDbdAddr=127.0.0.1\nDbdPort=%s\nSlurmUser=slurm\nLogFile=%s/log/slurmdbd.log\nPidFile=%s/run/slurmdbd.pid\nStorageType=accounting_storage/mysql\nStorageHost=127.0.0.1\nStoragePort=%s\nStorageLoc=slurm_acct_db\nStorageUser=slurm\nStoragePass=slurmpw\n' \
    "$MUNGE_SOCKET" $((BASE + 2)) "$S" "$S" "$DBPORT" > "$S/etc/slurmdbd.conf"
  chown slurm:slurm "$S/etc/slurmdbd.conf"; chmod 600 "$S/etc/slurmdbd.conf"
  /usr/sbin/slurmdbd || fail "slurmdbd did not start"
  for i in $(seq 60); do timeout 5 sacctmgr -n list cluster >/dev/null 2>&1 && break; sleep 0.25; done
  timeout 10 sacctmgr -i add cluster scalabletui >/dev/null 2>&1 || true
fi

# -c: start with a clean state (job ids restart from 1 on each start).
/usr/sbin/slurmctld -c -f "$SLURM_CONF" || fail "slurmctld did not start"
/usr/sbin/slurmd -N localhost -f "$SLURM_CONF" || fail "slurmd did not start"
for i in $(seq 120); do node_ready && break; owned_alive "$S/run/slurmctld.pid" || fail "slurmctld exited"; sleep 0.25; done
node_ready || fail "the node did not become idle: $(timeout 5 sinfo -h -o '%T %E' 2>&1)"
echo "slurm-start: started ($S); clients need SLURM_CONF=$SLURM_CONF"
sinfo -h -o '%P %a %D %T %N'
