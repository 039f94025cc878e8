#!/usr/bin/env bash
# VNN-COMP run_instance.sh: run_instance.sh v1 CATEGORY ONNX VNNLIB RESULTS_FILE TIMEOUT
#
# Runs `evident verify ONNX VNNLIB --timeout BUDGET --results TMP` and moves the results file
# (first line sat/unsat/unknown/timeout/error; for sat the witness ((X_0 v) ... (Y_0 w) ...)
# follows) into RESULTS_FILE. The file is written to a temporary file in RESULTS_FILE's
# folder and renamed, so RESULTS_FILE is never half-written.
#
# Time: the harness measures this script's wall time and TIMEOUT may be fractional.
# MARGIN = min(1 s, max(0.2 s, TIMEOUT/5), TIMEOUT/2) is kept for starting the processes and
# for the work after evident exits: evident gets BUDGET = TIMEOUT - MARGIN (it counts from
# its own start and overruns by a few milliseconds), and a watchdog (coreutils timeout)
# ends it (SIGTERM, SIGKILL 0.2 s later) at TIMEOUT - MARGIN/2 after its start if it is
# still running; the result is then `timeout`.
# `error` is written when evident exits 2 (bad input), or crashes (any other exit) without
# writing a valid results file, or when its file disagrees with its exit code.
# Exit status: 0 once RESULTS_FILE is written (whatever the verdict), 1 on bad arguments or
# when RESULTS_FILE cannot be written, 143 when ended by a signal.
set -euo pipefail
HERE="$(readlink -f "$0")"
# shellcheck source=common.sh source-path=SCRIPTDIR
source "${HERE%/*}/common.sh"

now_us() {  # microseconds since the epoch, without starting a process where bash can
    if [ -n "${EPOCHREALTIME:-}" ]; then
        local t="${EPOCHREALTIME/[.,]/}"
        printf '%s' "$((10#$t))"
    else
        printf '%s' "$(($(date +%s%N) / 1000))"
    fi
}
START_US="$(now_us)"

check_version "${1:-}"
[ "$#" -eq 6 ] || fail "expected 6 arguments: v1 CATEGORY ONNX VNNLIB RESULTS_FILE TIMEOUT (got $#)"
CATEGORY="$2"
ONNX="$3"
VNNLIB="$4"
RESULTS_FILE="$5"
TIMEOUT="$6"

log "category '$CATEGORY', onnx '$ONNX', vnnlib '$VNNLIB', results '$RESULTS_FILE', timeout $TIMEOUT s"

# MARGIN, BUDGET (evident's --timeout) and WATCHDOG (seconds after evident's start).
TIMES="$(awk -v t="$TIMEOUT" 'BEGIN {
    if (!(t ~ /^([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/ && t + 0 > 0)) exit 1
    m = t / 5; if (m < 0.2) m = 0.2; if (m > 1) m = 1; if (m > t / 2) m = t / 2
    printf "%.3f %.3f %.3f\n", m, t - m, t - m / 2 }')" ||
    fail "TIMEOUT must be a positive number of seconds, got '$TIMEOUT'"
read -r MARGIN BUDGET WATCHDOG <<< "$TIMES"

if [[ "$RESULTS_FILE" == */* ]]; then RESULTS_DIR="${RESULTS_FILE%/*}"; else RESULTS_DIR=.; fi
[ -n "$RESULTS_DIR" ] || RESULTS_DIR=/
[ -d "$RESULTS_DIR" ] || fail "folder of the results file does not exist: $RESULTS_DIR"
TMP_RESULTS="$RESULTS_DIR/.${RESULTS_FILE##*/}.$$.tmp"
: > "$TMP_RESULTS" || fail "cannot create a file in $RESULTS_DIR"
[ -d "$STATE_DIR" ] || mkdir -p "$STATE_DIR"
RECORD="$STATE_DIR/run.$$.pid"
GUARD_PID=""

cleanup() {
    rm -f "$TMP_RESULTS" "$RECORD"
}
on_signal() {
    log "ended by a signal: stopping evident, leaving $RESULTS_FILE as it is"
    if [ -n "$GUARD_PID" ]; then
        kill -TERM "$GUARD_PID" 2> /dev/null || true  # timeout(1) passes it on to evident
    fi
    cleanup
    trap - EXIT
    exit 143
}
trap cleanup EXIT
trap on_signal TERM INT HUP

seconds_since_start() {
    local us=$(($(now_us) - START_US))
    printf '%d.%03d' "$((us / 1000000))" "$((us / 1000 % 1000))"
}

# Writes the one-word results file $1 through the temporary file; $2 says why.
finish() {
    printf '%s\n' "$1" > "$TMP_RESULTS"
    mv -f "$TMP_RESULTS" "$RESULTS_FILE"
    log "result: $1 ($2; $(seconds_since_start) s since start)"
    exit 0
}

if [ ! -x "$EVIDENT" ]; then
    log "evident binary not found or not executable: $EVIDENT (set EVIDENT or run install_tool.sh)" >&2
    finish error "no verifier"
fi

# The watchdog is coreutils timeout(1): it sends SIGTERM to evident at WATCHDOG seconds and
# SIGKILL 0.2 s later, and then exits 124 (137 after SIGKILL). It runs evident in its own
# process group and bounds it even if this script is killed.
log "evident: $EVIDENT; budget $BUDGET s (margin $MARGIN s), watchdog at $WATCHDOG s"
timeout --signal=TERM --kill-after=0.2 "$WATCHDOG" \
    "$EVIDENT" verify "$ONNX" "$VNNLIB" --timeout "$BUDGET" --results "$TMP_RESULTS" &
GUARD_PID=$!
printf '%s %s %s %s\n' "$$" "$GUARD_PID" "$(proc_start "$GUARD_PID")" "$TMP_RESULTS" > "$RECORD"
set +e
wait "$GUARD_PID"
CODE=$?
set -e
GUARD_PID=""
log "evident exit code $CODE, $(seconds_since_start) s since start"

if [ "$CODE" = 124 ] || [ "$CODE" = 137 ]; then
    finish timeout "the watchdog ended evident at $WATCHDOG s"
fi

case "$CODE" in
    0) EXPECTED=unsat ;;
    10) EXPECTED=sat ;;
    20) EXPECTED=unknown ;;
    30) EXPECTED=timeout ;;
    2) finish error "evident rejected the input (exit 2)" ;;
    *) EXPECTED="" ;;
esac

# The first word of evident's file, and for sat whether a witness with X and Y follows.
LINES=()
mapfile -t LINES < "$TMP_RESULTS"
WORD="${LINES[0]:-}"
WORD="${WORD//[[:space:]]/}"
case "$WORD" in
    sat | unsat | unknown | timeout | error) ;;
    *) finish error "evident exit $CODE without a valid results file (first line '$WORD')" ;;
esac
if [ "$WORD" = sat ] && ! [[ "${LINES[*]}" == *"(X_0 "* && "${LINES[*]}" == *"(Y_0 "* ]]; then
    finish error "evident answered sat without a witness"
fi
if [ -z "$EXPECTED" ]; then
    log "warning: evident exit code $CODE (crash?) but it wrote '$WORD'; keeping its file" >&2
elif [ "$WORD" != "$EXPECTED" ]; then
    finish error "evident exit code $CODE means $EXPECTED but its file says $WORD"
fi
mv -f "$TMP_RESULTS" "$RESULTS_FILE"
log "result: $WORD (evident exit $CODE; $(seconds_since_start) s since start)"
