#!/usr/bin/env bash
# The recipe study and graph-size diagnosis of docs/training.md and docs/graph.md, as run
# on one lent H200 (16 cores) in one call: every run below trains at once, one process and
# one CPU thread each, capped at MINUTES of training wall time, then the graph models are
# measured at 10..30 nodes. Results (curves, configs, small models) are packed into $OUT.
#
#   OUT=/tmp/out DEVICE=cuda MINUTES=5.5 [RUNS_FILE=...] bash benchmarks/tools/campaigns/gpu_recipe_study.sh
#   OUT=/tmp/out DEVICE=cpu MINUTES=0.05 SMOKE=1 bash benchmarks/tools/campaigns/gpu_recipe_study.sh
set -u
OUT=${OUT:?set OUT}; DEVICE=${DEVICE:-cuda}; MINUTES=${MINUTES:-6.3}; SMOKE=${SMOKE:-0}
PYTHON=${PYTHON:-python3}
WORK=${WORK:-/tmp/campaign}
HARD_LIMIT=${HARD_LIMIT:-$(python3 -c "print(int(${MINUTES} * 60 * 1.15 + 60))")}
mkdir -p "$WORK" "$OUT"
export OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1

# RUNS_FILE: one run a line, "name|task|preset|overrides (space separated)"
RUNS=$(grep -v '^#' "${RUNS_FILE:-$(dirname "$0")/recipe_study.runs}")
if [ "$SMOKE" = 1 ]; then
  SMOKE_SETS="task.size=4 solver.energy.hidden=16 train.batch_size=8 train.replay_batch_size=8 train.iterations=6"
  GRAPH_SMOKE="train.batch_size=8 train.replay_batch_size=2 train.iterations=6"
fi

echo "== start $(date -u) on $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null || echo cpu)"
while IFS='|' read -r name task preset sets; do
  [ -z "$name" ] && continue
  args=()
  for s in $sets; do args+=(--set "$s"); done
  if [ "$SMOKE" = 1 ]; then
    case $task in addition|inverse|completion) extra=$SMOKE_SETS ;; *) extra=$GRAPH_SMOKE ;; esac
    for s in $extra; do args+=(--set "$s"); done
    args+=(--eval-problems 16)
  fi
  timeout "$HARD_LIMIT" $PYTHON -m benchmarks.speed.time_to_quality --task "$task" --preset "$preset" \
    --device "$DEVICE" --out "$WORK/$name" --max-minutes "$MINUTES" "${args[@]}" \
    > "$WORK/$name.log" 2>&1 &
done <<< "$RUNS"
wait
echo "== trained $(date -u)"

for dir in "$WORK"/sp-* "$WORK"/cc-*; do
  [ -f "$dir/run/config.json" ] || continue
  n=${SIZE_PROBLEMS:-200}; [ "$SMOKE" = 1 ] && n=4
  $PYTHON -m benchmarks.diagnostics.graph_size "$dir/run" --sizes 10,15,20,25,30 -n $n --device "$DEVICE" \
    --json > "$dir/sizes.json" 2> "$dir/sizes.log" &
done
wait
echo "== measured $(date -u)"

for dir in "$WORK"/*/; do
  name=$(basename "$dir")
  echo "-- $name: $(tail -1 "$WORK/$name.log")"
done
cd "$WORK"
tar czf "$OUT/curves.tar.gz" --exclude='state.safetensors' --exclude='model.safetensors' ./*.log ./*/
tar cf "$OUT/graph_models.tar" ./sp-*/run/model.safetensors ./sp-*/run/config.json \
  ./cc-*/run/model.safetensors ./cc-*/run/config.json 2>/dev/null
for group in ${SHIP:-add-fast inv-fast comp-fast add-fast-ema}; do
  [ -f "$group/run/model.safetensors" ] && tar cf "$OUT/$group.tar" "$group/run/model.safetensors" "$group/run/config.json"
done
ls -la "$OUT"
echo "== done $(date -u)"
