#!/usr/bin/env bash
# Brings up a one-node SLURM on this machine (munge, slurmctld, slurmd from Debian's slurm-wlm
# and munge packages), so every job script in jobs/ can be tried without a cluster. As root.
#   bash jobs/local-slurm/start.sh      # then: sinfo, sbatch ..., squeue
#   bash jobs/local-slurm/stop.sh
# State lives in $SADDLE_SLURM_DIR (default /tmp/saddle-slurm).
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "start.sh: run as root (it starts munged, slurmctld and slurmd)" >&2; exit 2; }
for b in munged slurmctld slurmd sinfo; do
  command -v "$b" >/dev/null || { echo "start.sh: $b not found: apt-get install slurm-wlm munge" >&2; exit 2; }
done
dir=${SADDLE_SLURM_DIR:-/tmp/saddle-slurm}
mkdir -p "$dir"/{state,spool,log}
host=$(hostname -s)
cpus=$(nproc)
mem=$(awk '/MemTotal/ { print int($2 / 1024 * 0.9) }' /proc/meminfo)

# munge: the munge user must own its key, run directory and logs.
mkdir -p /run/munge /etc/munge /var/lib/munge /var/log/munge
[ -s /etc/munge/munge.key ] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
chmod 0700 /etc/munge /var/lib/munge /var/log/munge
chmod 0400 /etc/munge/munge.key
chmod 0755 /run/munge
pgrep -x munged >/dev/null || su -s /bin/sh munge -c /usr/sbin/munged

# A one-node cluster: linuxproc tracking and no task plugin (no cgroups needed in containers).
conf="$dir/slurm.conf"
cat > "$conf" <<CONF
ClusterName=saddle-local
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# A requeued job waits cred_expire seconds before it may start again (default 120); 10 keeps
# the requeue test short. Real clusters keep their own value.
AuthInfo=cred_expire=10
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SchedulerType=sched/backfill
JobRequeue=1
KillWait=30
MinJobAge=300
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
mkdir -p /etc/slurm
ln -sf "$conf" /etc/slurm/slurm.conf
pgrep -x slurmctld >/dev/null || slurmctld -f "$conf"
pgrep -x slurmd >/dev/null || slurmd -f "$conf"

# slurmd registers after a few seconds.
for _ in $(seq 1 60); do
  state=$(sinfo -h -N -o '%T' 2>/dev/null | head -n 1 || true)
  case "$state" in idle|mixed|allocated) echo "local SLURM up: node $host ($cpus CPUs), partition local"; exit 0 ;; esac
  sleep 1
done
echo "start.sh: the node did not become idle; see $dir/log" >&2
exit 1
