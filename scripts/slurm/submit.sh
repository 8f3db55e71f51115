#!/usr/bin/env bash
# Submits a sharded precompute as a Slurm array plus the merge that waits for it (docs/scale.md).
#
#   scripts/slurm/submit.sh DATA OUT SHARDS [sbatch options for the array...]
#   e.g. scripts/slurm/submit.sh /shared/photos /shared/cache/photos 16 --cpus-per-task=4 --time=2:00:00
#
# Prints "ARRAY_JOB_ID MERGE_JOB_ID". Further precompute flags go in MIXHEAD_PRECOMPUTE_ARGS.
set -euo pipefail
[[ $# -ge 3 ]] || { echo "usage: submit.sh DATA OUT SHARDS [sbatch options...]" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
data=$1 out=$2 shards=$3
shift 3
[[ "$shards" =~ ^[1-9][0-9]*$ ]] || { echo "submit.sh: SHARDS must be a whole number ≥ 1, got '$shards'" >&2; exit 2; }
mkdir -p "$out/logs"
export MIXHEAD_DATA=$data MIXHEAD_OUT=$out MIXHEAD_SHARDS=$shards
array=$(sbatch --parsable --array="0-$((shards - 1))" --output="$out/logs/precompute-%A_%a.out" "$@" "$here/precompute-array.sbatch")
array=${array%%;*}
merge=$(sbatch --parsable --dependency="afterok:$array" --output="$out/logs/merge-%j.out" "$here/merge.sbatch")
merge=${merge%%;*}
echo "$array $merge"
