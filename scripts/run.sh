#!/usr/bin/env bash
# Runs the web server, one Celery worker and beat in the foreground (what `make run` ends with), prints the
# admin URL, login and API token once the web server answers and the worker is ready, and on Ctrl-C or SIGTERM
# stops all three and waits for them: the worker with Celery's warm shutdown (it finishes its task), escalating
# only if it hangs.
set -uo pipefail

VENV=${VENV:-.venv}
PORT=${PORT:-8000}
# How long the worker may take to finish its current task after a stop before it is told to stop at once
# (Celery's cold shutdown; a grading or training task it drops is redelivered, its claim handed back).
STOP_GRACE_SECONDS=${STOP_GRACE_SECONDS:-30}
URL="http://127.0.0.1:${PORT}"

pids=()
stopping=0

alive() {
  local pid
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null && return 0
  done
  return 1
}

wait_for_exit() {
  # Polls instead of `wait`: a second Ctrl-C must not interrupt the wait and leave processes behind.
  local deadline=$((SECONDS + $1))
  while alive && ((SECONDS < deadline)); do
    sleep 0.2
  done
}

stop() {
  ((stopping)) && return
  stopping=1
  echo "stopping web, worker and beat ..." >&2
  kill -TERM "${pids[@]}" 2>/dev/null
  wait_for_exit "$STOP_GRACE_SECONDS"
  if alive; then
    echo "still running after ${STOP_GRACE_SECONDS}s: cold shutdown" >&2
    kill -QUIT "${pids[@]}" 2>/dev/null
    wait_for_exit 10
  fi
  if alive; then
    kill -KILL "${pids[@]}" 2>/dev/null
  fi
  wait 2>/dev/null
}

trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM

started_at=$(date +%s)
"$VENV/bin/celery" -A grader worker -Q grading,training,webhooks --concurrency 1 --loglevel INFO &
pids+=($!)
# Beat logs every task it sends (several a minute); warnings are what matters on a laptop. No pidfile: one left by
# a killed run would refuse the next start.
"$VENV/bin/celery" -A grader beat --loglevel WARNING --pidfile= &
pids+=($!)
"$VENV/bin/gunicorn" grader.wsgi --bind "127.0.0.1:${PORT}" --workers 2 --access-logfile - &
pids+=($!)

for _ in $(seq 1 240); do
  if "$VENV/bin/python" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)" \
    "${URL}/healthz" 2>/dev/null; then
    # Last, so the login and token do not scroll away under the services' start-up output: it waits for this
    # run's worker to be ready (its banner printed, its pool process loading the model).
    "$VENV/bin/python" manage.py demo_banner --url "$URL" --wait-for-worker-since "$started_at" --wait-timeout 60
    break
  fi
  alive || break
  sleep 0.5
done

# One service gone (a port in use, a crash) stops the others rather than leaving half a system running.
wait -n "${pids[@]}"
echo "a service exited" >&2
stop
exit 1
