#!/usr/bin/env bash
# End-to-end test of the Slurm scripts on a real, single-node Slurm brought up on this
# machine from Debian's packages (slurm-wlm, munge), without systemd:
#   1. install slurm-wlm and munge if missing; create /etc/munge/munge.key if missing;
#   2. start munged, slurmctld and slurmd directly, with a private munge socket, ports,
#      slurm.conf, state and spool folders in a fresh temp folder;
#   3. run a trivial 2-task array job to check Slurm itself;
#   4. run a small campaign (5 test + 6 ACAS Xu instances) as a 2-shard array through
#      submit-slurm.sh, with its dependent merge job;
#   5. run the same csv with a plain local `evident campaign` and compare the merged Slurm
#      results with it row for row (index,benchmark,onnx,vnnlib,timeout,result);
#   6. requeue one finished task after cutting its shard file short, and check that it
#      resumes (runs only the missing instances) and ends with the same rows;
#   7. stop every daemon it started, also on failure or Ctrl-C.
# It prints PASS or FAIL last and exits 0 only on PASS.
#
# Environment: EVIDENT (default REPO/.build/release/evident), BENCHMARKS (default
# REPO/../shared/benchmarks), KEEP=1 to keep the temp folder after a pass (it is always
# kept after a failure). Needs root (re-runs itself with sudo otherwise).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
EVIDENT=${EVIDENT:-$repo/.build/release/evident}
BENCHMARKS=${BENCHMARKS:-$repo/../shared/benchmarks}

if [ "$(id -u)" != 0 ]; then
    exec sudo --preserve-env=EVIDENT,BENCHMARKS,KEEP "$0" "$@"
fi

say() { printf '\n== %s\n' "$*"; }
die() { echo "test-slurm-local: $*" >&2; exit 1; }

[ -x "$EVIDENT" ] || die "no evident binary at $EVIDENT (set EVIDENT)"
EVIDENT=$(readlink -f "$EVIDENT")
[ -d "$BENCHMARKS/test" ] && [ -d "$BENCHMARKS/acasxu" ] || die "benchmarks not found in $BENCHMARKS"
BENCHMARKS=$(readlink -f "$BENCHMARKS")
"$EVIDENT" campaign --help >/dev/null 2>&1 || die "$EVIDENT has no working 'campaign' command"

# ---------------------------------------------------------------------------------------
say "packages"
need=()
command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null || need+=(slurm-wlm)
command -v munged >/dev/null || need+=(munge)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
fi
echo "slurm-wlm $(dpkg-query -W -f='${Version}' slurm-wlm 2>/dev/null || echo '?'), munge $(dpkg-query -W -f='${Version}' munge 2>/dev/null || echo '?')"

# ---------------------------------------------------------------------------------------
# A previous run that was killed hard (no trap) may have left its daemons behind: stop
# those, and only those (their command lines or environment name that run's folder).
last=/tmp/evident-slurm-test.last
if [ -f "$last" ]; then
    old=$(cat "$last")
    if [ -n "$old" ] && [ -f "$old/pids" ]; then
        while read -r pid; do
            if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$old"; then
                echo "stopping leftover process $pid of an earlier run ($old)"
                kill "$pid" 2>/dev/null || true
            fi
        done <"$old/pids"
    fi
fi

WORK=$(mktemp -d /tmp/evident-slurm-test.XXXXXX)
chmod 0755 "$WORK" # munged wants every folder above its socket to be searchable
echo "$WORK" >"$last"
CONF=$WORK/slurm.conf
export SLURM_CONF=$CONF
job_ids=()
daemon_pids=()
status=FAIL

stop_pid() { # TERM, then KILL after 10 s
    local pid=$1 i
    kill "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.2
    done
    kill -9 "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$? pid i e
    set +e
    trap - EXIT INT TERM
    say "teardown"
    if [ ${#job_ids[@]} -gt 0 ] && [ -n "$(squeue -h -j "$(IFS=,; echo "${job_ids[*]}")" 2>/dev/null)" ]; then
        echo "cancelling jobs ${job_ids[*]}"
        scancel "${job_ids[@]}" 2>/dev/null
        for ((i = 0; i < 30; i++)); do
            [ -z "$(squeue -h 2>/dev/null)" ] && break
            sleep 0.5
        done
    fi
    for ((i = ${#daemon_pids[@]} - 1; i >= 0; i--)); do # slurmd, slurmctld, then munged
        stop_pid "${daemon_pids[i]}"
    done
    # Anything still carrying this run's SLURM_CONF (a job step that outlived slurmd):
    # read with bash builtins only, so that nothing of this script matches.
    for e in /proc/[0-9]*/environ; do
        pid=${e#/proc/}
        pid=${pid%/environ}
        [ "$pid" = $$ ] || [ "$pid" = "$BASHPID" ] && continue
        while IFS= read -r -d '' var; do
            if [ "$var" = "SLURM_CONF=$CONF" ]; then
                echo "stopping stray process $pid"
                kill -9 "$pid" 2>/dev/null
                break
            fi
        done 2>/dev/null <"$e"
    done
    echo "stopped slurmd, slurmctld and munged (pids ${daemon_pids[*]:-none})"
    if [ "$status" = PASS ] && [ "${KEEP:-0}" != 1 ]; then
        rm -rf "$WORK"
        rm -f "$last"
    else
        echo "kept $WORK (logs in $WORK/log, results in $WORK/slurm-out and $WORK/local.csv)"
    fi
    echo
    echo "$status"
    if [ "$status" = PASS ]; then exit 0; fi
    [ "$rc" != 0 ] || rc=1
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM

# ---------------------------------------------------------------------------------------
say "munge"
key=/etc/munge/munge.key
if [ ! -s "$key" ]; then
    echo "creating $key"
    mkdir -p /etc/munge
    mungekey --create --keyfile="$key" 2>/dev/null || dd if=/dev/urandom of="$key" bs=1 count=1024 status=none
    chown munge:munge "$key"
    chmod 0400 "$key"
fi
mkdir -p "$WORK/munge" "$WORK/log" "$WORK/state" "$WORK/spool"
chown munge:munge "$WORK/munge"
chmod 0711 "$WORK/munge" # the socket folder: munged insists that everyone can reach it
SOCKET=$WORK/munge/munge.socket
setpriv --reuid=munge --regid=munge --init-groups \
    munged --foreground --socket="$SOCKET" --key-file="$key" \
    --pid-file="$WORK/munge/munged.pid" --log-file="$WORK/munge/munged.log" \
    --seed-file="$WORK/munge/munged.seed" >"$WORK/log/munged.out" 2>&1 &
daemon_pids+=($!)
echo $! >>"$WORK/pids"
for ((i = 0; ; i++)); do
    if munge -n --socket="$SOCKET" 2>/dev/null | unmunge --socket="$SOCKET" >/dev/null 2>&1; then break; fi
    kill -0 "${daemon_pids[0]}" 2>/dev/null || { cat "$WORK/log/munged.out" "$WORK/munge/munged.log" >&2; die "munged exited"; }
    [ "$i" -lt 50 ] || die "munged did not answer on $SOCKET"
    sleep 0.2
done
echo "munged ${daemon_pids[0]} answers on $SOCKET"

# ---------------------------------------------------------------------------------------
say "slurm"
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=16817
while port_in_use "$port" || port_in_use $((port + 1)); do port=$((port + 2)); done
node=$(hostname -s)
# The node line as slurmd itself sees the hardware (CPUs, sockets, cores, RealMemory).
nodeline=$(slurmd -C | head -n 1)
case "$nodeline" in NodeName=*) ;; *) die "unexpected 'slurmd -C' output: $nodeline" ;; esac
cat >"$CONF" <<EOF
# Written by scripts/cluster/test-slurm-local.sh: a one-node cluster on localhost.
ClusterName=evidenttest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
# Run as root: in a container there is nothing to gain from a separate slurm user.
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCKET
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/log/slurmctld.log
SlurmdLogFile=$WORK/log/slurmd.log
# No cgroups (no systemd, no delegated cgroup tree in a container): plain /proc tracking.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
# Keep finished jobs visible to scontrol for an hour (there is no accounting database).
MinJobAge=3600
$nodeline NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
echo "slurm.conf: $CONF (ports $port/$((port + 1)), node: $nodeline)"
slurmctld -D -f "$CONF" >"$WORK/log/slurmctld.out" 2>&1 &
daemon_pids+=($!)
echo $! >>"$WORK/pids"
slurmd -D -f "$CONF" >"$WORK/log/slurmd.out" 2>&1 &
daemon_pids+=($!)
echo $! >>"$WORK/pids"
for ((i = 0; ; i++)); do
    state=$(sinfo -h -N -n "$node" -o '%T' 2>/dev/null || true)
    [ "$state" = idle ] && break
    for pid in "${daemon_pids[@]}"; do
        kill -0 "$pid" 2>/dev/null || { tail -n 20 "$WORK"/log/*.log "$WORK"/log/*.out >&2; die "a daemon exited (pid $pid)"; }
    done
    [ "$i" -lt 120 ] || { tail -n 20 "$WORK"/log/*.log >&2; die "node $node not idle after 60 s (state: ${state:-none})"; }
    sleep 0.5
done
sinfo

# ---------------------------------------------------------------------------------------
say "smoke test: sbatch --array=0-1 --wrap 'echo ...'"
out=$(cd "$WORK" && timeout 120 sbatch --parsable --wait --array=0-1 --output="$WORK/smoke-%a.out" \
    --wrap 'echo "task $SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_TASK_COUNT on $(hostname -s)"') ||
    die "the trivial array job failed (sbatch said: $out)"
job_ids+=("${out%%;*}")
cat "$WORK/smoke-0.out" "$WORK/smoke-1.out"
grep -q "^task 0 of 2" "$WORK/smoke-0.out" && grep -q "^task 1 of 2" "$WORK/smoke-1.out" ||
    die "the trivial array job printed something unexpected"

# ---------------------------------------------------------------------------------------
say "instances"
# A benchmark folder laid out like shared/benchmarks (links to its test and acasxu
# folders), so that the rows below and ground_truth.csv name the same relative paths.
bench=$WORK/bench
mkdir -p "$bench"
ln -s "$BENCHMARKS/test" "$bench/test"
ln -s "$BENCHMARKS/acasxu" "$bench/acasxu"
cp "$BENCHMARKS/ground_truth.csv" "$bench/ground_truth.csv"
INSTANCES=$bench/instances.csv
# All 5 test instances and 6 ACAS Xu ones that Evident settles in seconds (3 sat, 3 unsat),
# in the ground truth's own `benchmark,onnx,vnnlib,timeout,result` form.
{
    echo "benchmark,onnx,vnnlib,timeout,result"
    awk -F, 'NR > 1 && $1 == "test" { print $1 "," $2 "," $3 "," $4 "," $5 }' "$bench/ground_truth.csv"
    for pick in 1_1,prop_4 1_2,prop_2 1_3,prop_4 1_6,prop_3 1_7,prop_3 1_9,prop_4; do
        net=${pick%,*} prop=${pick#*,}
        awk -F, -v o="acasxu/ACASXU_run2a_${net}_batch_2000.onnx" -v p="acasxu/$prop.vnnlib" \
            '$2 == o && $3 == p { print $1 "," $2 "," $3 "," $4 "," $5 }' "$bench/ground_truth.csv"
    done
} >"$INSTANCES"
rows=$(($(wc -l <"$INSTANCES") - 1))
[ "$rows" = 11 ] || die "expected 11 instances, wrote $rows"
cat "$INSTANCES"
TRUTH=(--truth "$bench/ground_truth.csv")

# ---------------------------------------------------------------------------------------
say "campaign on Slurm: submit-slurm.sh $INSTANCES $WORK/slurm-out 2 ${TRUTH[*]}"
OUTDIR=$WORK/slurm-out
# One core per task here, so that both shards run at the same time on this 2-core node.
submit_log=$WORK/submit.txt
(cd "$WORK" && EVIDENT=$EVIDENT SBATCH_OPTS="--cpus-per-task=1 --mem=1G --time=00:30:00" \
    "$here/submit-slurm.sh" "$INSTANCES" "$OUTDIR" 2 "${TRUTH[@]}") | tee "$submit_log"
array_id=$(awk '$1 == "array" && $2 == "job:" { print $3 }' "$submit_log")
merge_id=$(awk '$1 == "merge" && $2 == "job:" { print $3 }' "$submit_log")
[ -n "$array_id" ] && [ -n "$merge_id" ] || die "could not read the job ids from submit-slurm.sh"
job_ids+=("$array_id" "$merge_id")

wait_for_jobs() { # wait_for_jobs LIMIT_SECONDS ID...: until none of them is in the queue
    local limit=$1 start=$SECONDS seen="" now
    shift
    while :; do
        now=$(squeue -h -j "$(IFS=,; echo "$*")" -o '%i %T %R' 2>/dev/null | sort | tr '\n' ';')
        if [ "$now" != "$seen" ]; then
            [ -z "$now" ] || echo "  [$((SECONDS - start)) s] ${now%;}"
            seen=$now
        fi
        [ -n "$now" ] || return 0
        [ $((SECONDS - start)) -lt "$limit" ] || die "jobs $* still queued after $limit s"
        sleep 2
    done
}
wait_for_jobs 1800 "$array_id" "$merge_id"

# Exit codes from slurmctld's memory of finished jobs (MinJobAge), as "ID STATE CODE".
job_states() {
    scontrol -o show job "$1" | awk '{
        split("", f)
        for (i = 1; i <= NF; i++) { n = index($i, "="); if (n) f[substr($i, 1, n - 1)] = substr($i, n + 1) }
        id = ("ArrayJobId" in f) ? f["ArrayJobId"] "_" f["ArrayTaskId"] : f["JobId"]
        print id, f["JobState"], f["ExitCode"] }' | sort
}
echo "finished:"
job_states "$array_id" | sed 's/^/  /'
job_states "$merge_id" | sed 's/^/  /'
merge_exit=$(job_states "$merge_id" | awk '{ split($3, c, ":"); print c[1] }')

for k in 0 1; do
    echo "--- log of shard $k ($OUTDIR/logs/shard-$k.log)"
    cat "$OUTDIR/logs/shard-$k.log"
done
say "merged summary (log of merge job $merge_id, exit $merge_exit)"
cat "$OUTDIR/logs/merge.log"
[ -f "$OUTDIR/merged.csv" ] || die "the merge job wrote no $OUTDIR/merged.csv"

# ---------------------------------------------------------------------------------------
say "the same campaign locally: evident campaign $INSTANCES --out $WORK/local.csv ${TRUTH[*]}"
set +e
(cd "$WORK" && "$EVIDENT" campaign "$INSTANCES" --out "$WORK/local.csv" "${TRUTH[@]}") 2>&1 | tee "$WORK/local.log"
local_exit=${PIPESTATUS[0]}
set -e
echo "(exit $local_exit)"

# ---------------------------------------------------------------------------------------
say "comparison"
compare() { # compare A.csv B.csv [ROWS]: same rows on the compared columns; prints a table
    python3 - "$@" <<'EOF'
import csv, sys
KEY = ["index", "benchmark", "onnx", "vnnlib", "timeout", "result"]
def load(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if rows and any(k not in rows[0] for k in KEY):
        sys.exit(f"{path}: missing columns {[k for k in KEY if k not in rows[0]]}")
    return rows
a, b = load(sys.argv[1]), load(sys.argv[2])
want = int(sys.argv[3]) if len(sys.argv) > 3 else None
bad = []
for name, rows in ((sys.argv[1], a), (sys.argv[2], b)):
    idx = [r["index"] for r in rows]
    if len(set(idx)) != len(idx):
        bad.append(f"{name}: duplicate index")
    if want is not None and len(rows) != want:
        bad.append(f"{name}: {len(rows)} rows, expected {want}")
ka = sorted((tuple(r[k] for k in KEY) for r in a), key=lambda t: int(t[0]))
kb = sorted((tuple(r[k] for k in KEY) for r in b), key=lambda t: int(t[0]))
print(f"{'index':>5}  {'result A':<9} {'result B':<9} instance")
for i in range(max(len(ka), len(kb))):
    ra = ka[i] if i < len(ka) else None
    rb = kb[i] if i < len(kb) else None
    same = ra == rb
    ref = ra or rb
    print(f"{ref[0]:>5}  {(ra or ('',)*6)[5]:<9} {(rb or ('',)*6)[5]:<9} "
          f"{ref[2]} {ref[3]}{'' if same else '   <-- DIFFERENT'}")
    if not same:
        bad.append(f"row {i}: {ra} vs {rb}")
for line in bad:
    print("MISMATCH:", line)
sys.exit(1 if bad else 0)
EOF
}
fails=()
echo "A = $OUTDIR/merged.csv (Slurm, 2 shards), B = $WORK/local.csv (local)"
compare "$OUTDIR/merged.csv" "$WORK/local.csv" "$rows" || fails+=("merged Slurm results differ from the local run")
# Each shard holds exactly the rows i with i mod 2 == K.
for k in 0 1; do
    python3 - "$OUTDIR/shard-$k.csv" "$k" <<'EOF' || fails+=("shard-$k.csv holds the wrong rows")
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
k = int(sys.argv[2])
idx = sorted(int(r["index"]) for r in rows)
want = list(range(k, 11, 2))
print(f"shard-{k}.csv: indices {idx}" + ("" if idx == want else f", expected {want}"))
sys.exit(0 if idx == want else 1)
EOF
done
if [ "$merge_exit" != "$local_exit" ]; then
    fails+=("merge exit status $merge_exit, local run $local_exit")
fi
case "$local_exit" in
0) ;;
1) echo "note: the campaign reports a wrong answer (exit 1) on both sides" ;;
*) fails+=("the local campaign failed with exit $local_exit") ;;
esac
for t in 0 1; do
    code=$(job_states "$array_id" | awk -v t="${array_id}_$t" '$1 == t { split($3, c, ":"); print c[1] }')
    [ "$code" = "$local_exit" ] || fails+=("shard task $t exited $code, the local run $local_exit")
done

# ---------------------------------------------------------------------------------------
say "resumption: cut shard-1.csv to its first result, requeue task ${array_id}_1"
cp "$OUTDIR/shard-1.csv" "$WORK/shard-1.full.csv"
head -n 2 "$WORK/shard-1.full.csv" >"$OUTDIR/shard-1.csv"
echo "shard-1.csv now has $(($(wc -l <"$OUTDIR/shard-1.csv") - 1)) of $(($(wc -l <"$WORK/shard-1.full.csv") - 1)) results"
scontrol requeue "${array_id}_1"
sleep 1
# A requeued job waits for its BeginTime (Slurm holds it for a short while); let it go now.
scontrol update JobId="${array_id}_1" StartTime=now 2>/dev/null || true
wait_for_jobs 900 "${array_id}_1"
job_states "$array_id" | sed 's/^/  /'
echo "--- log of shard 1 after the requeue (appended to the first run's)"
awk '/^slurm-campaign: job / { text = "" } { text = text $0 "\n" } END { printf "%s", text }' "$OUTDIR/logs/shard-1.log"
grep -q "restart 1" "$OUTDIR/logs/shard-1.log" || fails+=("task 1 did not run again after the requeue")
grep -q "resuming" "$OUTDIR/logs/shard-1.log" || fails+=("task 1 did not resume its shard file")
echo "A = shard-1.csv before the cut, B = shard-1.csv after the resumed task"
compare "$WORK/shard-1.full.csv" "$OUTDIR/shard-1.csv" 5 || fails+=("the resumed shard-1.csv differs from the first run")

# ---------------------------------------------------------------------------------------
say "result"
if [ ${#fails[@]} -eq 0 ]; then
    echo "Slurm (2 shards, merged) and local runs agree on all $rows instances; the requeued task resumed."
    status=PASS
else
    printf 'FAILED: %s\n' "${fails[@]}"
fi
