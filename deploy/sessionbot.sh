#!/bin/sh
# sessionbot's processes, for a container (the image's entrypoint) or a systemd unit.
#
#   sessionbot.sh secrets [FILE]   write the secrets compose.yaml needs into FILE (.env), once
#   sessionbot.sh setup            migrate, make the first bot, import plugins, print Session IDs
#   sessionbot.sh bot [ARGS]       runbroker with the bridge, without a worker (ARGS to runbroker)
#   sessionbot.sh worker [ARGS]    one Celery worker (ARGS to celery worker)
#   sessionbot.sh run [ARGS]       setup, then runbroker with its own worker and the bridge
#   sessionbot.sh health [ready|live|worker]   exit 0 when this container's process is well
#   sessionbot.sh manage ARGS      manage.py ARGS
#
# The commands are the ones `make run` and docs/operations.md give; every setting comes from
# the environment (docs/configuration.md). Also read here: PLUGINS_FILE (the plugins file
# setup imports), WORKER_THREADS, WORKER_QUEUES, WORKER_NAME, HEALTH_URL.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
if [ -x "$here/.venv/bin/python" ]; then
  py="$here/.venv/bin/python"
else
  py=python3
fi

usage() {
  sed -n '4,10s/^# \{0,1\}//p' "$0" >&2
  exit 2
}

# 64 hexadecimal characters from the kernel's random source: safe inside a URL as a password.
random_secret() {
  od -An -N32 -tx1 /dev/urandom | tr -d ' \n'
}

# Add to FILE each secret it lacks (or holds empty); a value already there is kept, so a
# second run changes nothing and the database keeps its password.
secrets_write() {
  file=${1:-$here/.env}
  umask 077
  [ -f "$file" ] || : >"$file"
  added=0
  for name in SECRET_KEY PLUGIN_SECRETS_KEY BRIDGE_TOKEN POSTGRES_PASSWORD REDIS_PASSWORD; do
    if grep -q "^$name=." "$file"; then
      continue
    fi
    kept=$(grep -v "^$name=\$" "$file" || true)
    if [ -n "$kept" ]; then
      printf '%s\n' "$kept" >"$file"
    else
      : >"$file"
    fi
    printf '%s=%s\n' "$name" "$(random_secret)" >>"$file"
    added=$((added + 1))
  done
  chmod 600 "$file"
  echo "sessionbot: $added new secret(s) in $file; values already there were kept"
}

setup() {
  "$py" manage.py migrate --noinput
  # The first bot, from SESSION_MNEMONIC or data/session_mnemonic (new when neither exists),
  # as runbridge would make it: so its Session ID can be printed before anything serves it.
  "$py" manage.py shell --no-imports -v 0 -c 'from bots.services import bot_first_ensure; bot_first_ensure()'
  "$py" manage.py importplugins "${PLUGINS_FILE:-data/plugins.yaml}"
  echo "sessionbot: message this Session ID from the Session app (manage.py bots list):"
  "$py" manage.py bots list
}

worker() {
  # The command runbroker gives its own worker (broker/management/commands/runbroker.py).
  set -- --pool=threads "--concurrency=${WORKER_THREADS:-8}" "--loglevel=${LOG_LEVEL:-INFO}" \
    --without-gossip --without-mingle --without-heartbeat -n "${WORKER_NAME:-worker@%h}" "$@"
  if [ -n "${WORKER_QUEUES:-}" ]; then
    set -- -Q "$WORKER_QUEUES" "$@"
  fi
  exec "$py" -m celery -A sessionbot worker "$@"
}

health() {
  case "${1:-ready}" in
    ready | live)
      url=${HEALTH_URL:-http://127.0.0.1:${PORT:-8000}/${1:-ready}z}
      exec "$py" - "$url" <<'EOF'
import sys
import urllib.request

try:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as response:  # noqa: S310 - our own probe URL
        sys.exit(0 if response.status == 200 else 1)
except Exception as exc:  # noqa: BLE001 - any failure is "not healthy"
    print(f"sessionbot: {sys.argv[1]}: {exc}", file=sys.stderr)
    sys.exit(1)
EOF
      ;;
    worker)
      node=$(echo "${WORKER_NAME:-worker@%h}" | sed "s/%h/$(uname -n)/")
      exec "$py" -m celery -A sessionbot inspect ping --timeout 5 -d "$node"
      ;;
    *) usage ;;
  esac
}

[ $# -ge 1 ] || usage
role=$1
shift
case "$role" in
  secrets) secrets_write "$@" ;;
  setup) setup ;;
  bot) exec "$py" manage.py runbroker --no-worker "$@" ;;
  worker) worker "$@" ;;
  run)
    setup
    exec "$py" manage.py runbroker "$@"
    ;;
  health) health "$@" ;;
  manage) exec "$py" manage.py "$@" ;;
  *) usage ;;
esac
