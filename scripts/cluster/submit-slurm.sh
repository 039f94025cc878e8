#!/usr/bin/env bash
# Submit an Evident campaign to Slurm as a job array of SHARDS tasks, plus a merge job that
# runs once every task has ended (whatever its exit status).
#
#   scripts/cluster/submit-slurm.sh INSTANCES.csv OUTDIR SHARDS [extra campaign args...]
#
# e.g. scripts/cluster/submit-slurm.sh ../shared/benchmarks/acasxu/instances.csv \
#          /scratch/$USER/acas 8 --timeout-scale 2 --truth ../shared/benchmarks/ground_truth.csv
#
# Task K writes OUTDIR/shard-K.csv, its log goes to OUTDIR/logs/shard-K.log, and the merge
# job writes OUTDIR/merged.csv (log OUTDIR/logs/merge.log). Extra arguments go to every
# shard's `evident campaign` (the rows carry the truth, so the merge needs none).
# Running the same command again with the same OUTDIR resumes: finished instances are kept.
#
# Environment:
#   EVIDENT            evident binary (default: `evident` on PATH); made absolute
#   SBATCH_OPTS        extra sbatch options for the array, split on spaces
#                      (e.g. "--partition=long --time=12:00:00 --cpus-per-task=4")
#   MERGE_SBATCH_OPTS  extra sbatch options for the merge job
#   THROTTLE           run at most this many tasks at once (--array=0-(N-1)%THROTTLE)
#   MERGED             file name of the merged results in OUTDIR (default merged.csv)
#   NO_MERGE=1         do not queue the merge job; print the merge command instead
# It prints the job ids as `array job: ID` and `merge job: ID`.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
[ $# -ge 3 ] || { usage >&2; exit 2; }
case "$1" in -h | --help) usage; exit 0 ;; esac

here=$(cd "$(dirname "$0")" && pwd)
script="$here/slurm-campaign.sbatch"

INSTANCES=$1
OUTDIR=$2
SHARDS=$3
shift 3
[[ "$SHARDS" =~ ^[1-9][0-9]*$ ]] || { echo "submit-slurm: SHARDS must be a positive integer, not '$SHARDS'" >&2; exit 2; }
[ -f "$INSTANCES" ] || { echo "submit-slurm: no such instances csv: $INSTANCES" >&2; exit 2; }
command -v sbatch >/dev/null || { echo "submit-slurm: sbatch not found (is Slurm installed here?)" >&2; exit 2; }

EVIDENT=${EVIDENT:-evident}
if ! resolved=$(command -v "$EVIDENT"); then
    echo "submit-slurm: evident binary not found: $EVIDENT (set EVIDENT)" >&2
    exit 2
fi
EVIDENT=$(readlink -f "$resolved")
INSTANCES=$(readlink -f "$INSTANCES")
mkdir -p "$OUTDIR/logs"
OUTDIR=$(readlink -f "$OUTDIR")

merge_args=()

sbatch_opts=()
[ -z "${SBATCH_OPTS:-}" ] || read -r -a sbatch_opts <<<"$SBATCH_OPTS"
merge_opts=()
[ -z "${MERGE_SBATCH_OPTS:-}" ] || read -r -a merge_opts <<<"$MERGE_SBATCH_OPTS"

export EVIDENT INSTANCES OUTDIR SHARDS
array="0-$((SHARDS - 1))${THROTTLE:+%$THROTTLE}"

# --parsable prints "ID" or "ID;CLUSTER".
out=$(CAMPAIGN_STEP=shard sbatch --parsable --export=ALL --chdir="$PWD" \
    --array="$array" --output="$OUTDIR/logs/shard-%a.log" \
    "${sbatch_opts[@]}" "$script" "$@")
array_id=${out%%;*}
echo "array job: $array_id ($SHARDS tasks, --array=$array; logs $OUTDIR/logs/shard-K.log)"

merge_cmd=("$EVIDENT" campaign merge)
for ((k = 0; k < SHARDS; k++)); do merge_cmd+=("$OUTDIR/shard-$k.csv"); done
merge_cmd+=(--out "$OUTDIR/${MERGED:-merged.csv}" "${merge_args[@]}")

if [ "${NO_MERGE:-0}" = 1 ]; then
    echo "merge job: none (NO_MERGE=1); once the array has ended, run:"
    printf '  %q' "${merge_cmd[@]}"
    printf '\n'
    exit 0
fi

out=$(CAMPAIGN_STEP=merge sbatch --parsable --export=ALL --chdir="$PWD" \
    --dependency="afterany:$array_id" --kill-on-invalid-dep=yes \
    --job-name=evident-merge --cpus-per-task=1 --mem=2G --time=00:30:00 \
    --output="$OUTDIR/logs/merge.log" \
    "${merge_opts[@]}" "$script" "${merge_args[@]}")
merge_id=${out%%;*}
echo "merge job: $merge_id (after all of $array_id; writes $OUTDIR/${MERGED:-merged.csv}, log $OUTDIR/logs/merge.log)"
