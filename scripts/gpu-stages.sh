# Sourced by scripts/gpu-check.sh and scripts/gpu-e2e.sh on the device machine, after they set BUDGET (seconds
# for the whole run): $OUT (created), $G (.gpu, what gpu-pack.sh prepared), $W (scratch), and
#   stage NAME TIMEOUT_S CMD...   runs CMD bounded by TIMEOUT_S and by what is left of BUDGET (skipped under
#                                 10 s), output in $OUT/NAME.log, "NAME rc=N Ts" appended to $OUT/stages.txt.
#   sanitizer_stages MEM RACE T   compute-sanitizer memcheck (stage MEM) and racecheck (stage RACE) on
#                                 `$W/ts_cuda_tool test --quick`, T seconds each
OUT=${OUT:-/tmp/taylorseer-gpu-out}
mkdir -p "$OUT"
G=.gpu
W=/tmp/taylorseer-gpu
mkdir -p "$W"
START=$(date +%s)
: > "$OUT/stages.txt"
left() { echo $((BUDGET - ($(date +%s) - START))); }
stage() {  # stage NAME TIMEOUT_S CMD... ; output to $OUT/NAME.log
  local name=$1 limit=$2
  shift 2
  local l
  l=$(left)
  if [ "$limit" -gt "$l" ]; then limit=$l; fi
  if [ "$limit" -lt 10 ]; then
    echo "$name skipped (out of time)" | tee -a "$OUT/stages.txt"
    return 99
  fi
  local t0 rc
  t0=$(date +%s)
  echo "== $name (limit ${limit}s)"
  timeout -k 5 "$limit" "$@" > "$OUT/$name.log" 2>&1
  rc=$?
  echo "$name rc=$rc $(($(date +%s) - t0))s" | tee -a "$OUT/stages.txt"
  tail -n 4 "$OUT/$name.log" | sed 's/^/   | /'
  return $rc
}

sanitizer_stages() {
  local cs
  cs=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer /opt/nvidia/*/compute-sanitizer 2>/dev/null | head -1)
  if [ -z "$cs" ]; then
    echo "sanitizer skipped (compute-sanitizer not on PATH)" | tee -a "$OUT/stages.txt"
    return 0
  fi
  stage "$1" "$3" "$cs" --tool memcheck --leak-check no --error-exitcode 3 "$W/ts_cuda_tool" test --quick
  stage "$2" "$3" "$cs" --tool racecheck --error-exitcode 3 "$W/ts_cuda_tool" test --quick
}
