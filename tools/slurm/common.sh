# Shared by start.sh and stop.sh (sourced; needs $S).  A daemon is "ours" only when its pid file is
# under $S AND its command line or environment names $S: a recycled pid, or a pid file that points
# at someone else's daemon, is never signalled.

# alive PID: the process exists and is not a zombie (stopped daemons linger as zombies under PID 1)
alive() { [ -n "$1" ] && [ -e "/proc/$1" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }

# ours PID: its command line or environment mentions our directory
# (no pipe: under `set -o pipefail` an early `grep -q` exit would make the pipeline fail)
ours() { grep -qaF -- "$S/" "/proc/$1/cmdline" "/proc/$1/environ" 2>/dev/null; }

# owned_alive PIDFILE: the pid file exists, names a live process, and that process is ours
owned_alive() {
  local p
  [ -s "$1" ] || return 1
  p=$(tr -dc '0-9' < "$1")
  alive "$p" && ours "$p"
}

# foreign_daemons NAME...: "name pid N" for each live process of those names that is not ours
foreign_daemons() {
  local d c n out=""
  for d in /proc/[0-9]*; do
    c=$(cat "$d/comm" 2>/dev/null) || continue
    for n in "$@"; do
      if [ "$c" = "$n" ] && alive "${d#/proc/}" && ! ours "${d#/proc/}"; then out="$out${out:+, }$n pid ${d#/proc/}"; fi
    done
  done
  printf '%s' "$out"
}
