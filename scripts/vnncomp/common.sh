# Shared definitions of the VNN-COMP scripts (sourced, not run).
# shellcheck shell=bash

# The repository root: this folder is scripts/vnncomp/ under it. (Few processes are started
# here and in run_instance.sh: on a loaded machine each costs milliseconds of the timeout.)
VNNCOMP_DIR="$(readlink -f "${BASH_SOURCE[0]}")"
VNNCOMP_DIR="${VNNCOMP_DIR%/*}"
REPO_ROOT="${VNNCOMP_DIR%/*/*}"
SCRIPT_NAME="${0##*/}"

# The verifier: $EVIDENT overrides the release build of the repository.
EVIDENT="${EVIDENT:-$REPO_ROOT/.build/release/evident}"

# run_instance.sh records "RUN_PID GUARD_PID GUARD_START TMP_RESULTS" of every running
# instance in a file here (GUARD_PID: the timeout(1) process that runs evident);
# prepare_instance.sh ends the processes of records that are still alive.
STATE_DIR="${TMPDIR:-/tmp}/evident-vnncomp-$EUID"

# The start time (clock ticks since boot) of process $1, empty if it does not exist: with the
# pid it names one process, even after the pid has been reused.
proc_start() {
    local stat fields
    { read -r stat < "/proc/$1/stat"; } 2> /dev/null || return 0
    read -r -a fields <<< "${stat##*) }"
    printf '%s' "${fields[19]:-}"
}

log() {
    printf '[%s] %s\n' "$SCRIPT_NAME" "$*"
}

fail() {
    printf '[%s] error: %s\n' "$SCRIPT_NAME" "$*" >&2
    exit 1
}

check_version() {
    [ "${1:-}" = "v1" ] || fail "expected first argument (version string) 'v1', got '${1:-}'"
}

# Ends the processes recorded by earlier run_instance.sh calls, each by its pid and only if
# it is still the process recorded (the run_instance.sh script; the timeout(1) guard with
# the recorded start time, and the evident it runs), so nothing else is touched.
kill_leftovers() {
    local record run_pid guard_pid guard_start tmp_results children pid n
    [ -d "$STATE_DIR" ] || return 0
    for record in "$STATE_DIR"/run.*.pid; do
        [ -f "$record" ] || continue
        run_pid="" guard_pid="" guard_start="" tmp_results=""
        read -r run_pid guard_pid guard_start tmp_results < "$record" || true
        if [ -n "$run_pid" ] && [ -r "/proc/$run_pid/cmdline" ] &&
            tr '\0' ' ' < "/proc/$run_pid/cmdline" | grep -q 'run_instance\.sh'; then
            log "ending leftover run_instance.sh (pid $run_pid)"
            kill -TERM "$run_pid" 2> /dev/null || true
        fi
        if [ -n "$guard_pid" ] && [ -n "$guard_start" ] && [ "$(proc_start "$guard_pid")" = "$guard_start" ]; then
            children="$(cat "/proc/$guard_pid/task/$guard_pid/children" 2> /dev/null || true)"
            children="${children% }"
            log "ending leftover evident (timeout pid $guard_pid, evident pid ${children:-?})"
            kill -TERM "$guard_pid" 2> /dev/null || true  # timeout(1) passes it on to evident
            n=0
            while [ "$(proc_start "$guard_pid")" = "$guard_start" ] && [ "$n" -lt 20 ]; do
                sleep 0.1
                n=$((n + 1))
            done
            if [ "$(proc_start "$guard_pid")" = "$guard_start" ]; then
                for pid in $children; do
                    kill -KILL "$pid" 2> /dev/null || true
                done
                kill -KILL "$guard_pid" 2> /dev/null || true
            fi
        fi
        if [ -n "$tmp_results" ]; then
            rm -f "$tmp_results"
        fi
        rm -f "$record"
    done
}
