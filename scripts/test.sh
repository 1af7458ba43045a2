#!/usr/bin/env bash
# Runs the whole test suite: SQLite always, and the MongoDB half against
# SecantusDB (a MongoDB-wire-compatible test server from PyPI) started here on
# a free 127.0.0.1 port and stopped on exit, even on failure.
#
#   scripts/test.sh                  # everything
#   BCS_STORAGE_TEST_MONGODB_URI=mongodb://host:port/?directConnection=true scripts/test.sh
#                                    # use a MongoDB you run yourself
#   BCS_STORAGE_TEST_MONGODB=skip scripts/test.sh   # SQLite only
#   (BCS_STORAGE_TEST_MONGODB=required, which CI sets, makes every test that
#   would run on MongoDB fail when no MongoDB is configured)
# Extra arguments go to `cargo test` (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."

server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$server_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT INT TERM

# The real clients the Kubernetes-view tests drive: kubectl (Debian's
# package when the machine has none) and the Python `kubernetes` client in
# a venv; and schemathesis, which checks the server against its own API
# document (tests/all/openapi.rs). Each venv is reinstalled when its
# requirements file changes.
if ! command -v kubectl >/dev/null 2>&1; then
  echo "== installing kubectl (Debian package kubernetes-client)"
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq kubernetes-client >/dev/null
fi
python_venv() {
  local venv="$1" req="$2" stamp="$1/.requirements"
  if [ ! -x "$venv/bin/python" ] || ! cmp -s "$req" "$stamp"; then
    echo "== installing $req into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
    cp "$req" "$stamp"
  fi
}
python_venv target/kube-venv tests/clients/requirements.txt
python_venv target/schemathesis-venv tests/clients/schemathesis.txt

# The console's browser test (tests/all/ui.rs): Debian's chromium, and
# playwright-core pinned by tests/ui/package-lock.json, installed under
# target/ui-node (again when the lock file changes).
if [ ! -x /usr/bin/chromium ]; then
  echo "== installing chromium (Debian package)"
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
fi
if ! cmp -s tests/ui/package-lock.json target/ui-node/package-lock.json \
    || [ ! -d target/ui-node/node_modules/playwright-core ]; then
  echo "== installing playwright-core into target/ui-node"
  mkdir -p target/ui-node
  cp tests/ui/package.json tests/ui/package-lock.json target/ui-node/
  (cd target/ui-node && npm ci --no-audit --no-fund --loglevel=error)
fi
export BCS_STORAGE_TEST_UI=required

if [ "${BCS_STORAGE_TEST_MONGODB:-}" != "skip" ] && [ -z "${BCS_STORAGE_TEST_MONGODB_URI:-}" ]; then
  venv="target/secantus-venv"
  if [ ! -x "$venv/bin/secantusd-py" ]; then
    echo "== installing SecantusDB into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --pre 'SecantusDB==0.7.0b3'
  fi
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$venv/bin/secantusd-py" --host 127.0.0.1 --port "$port" --storage-path :memory: \
    > target/secantus.log 2>&1 &
  server_pid=$!
  for _ in $(seq 1 150); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
      echo "SecantusDB exited at start:"; cat target/secantus.log; exit 1
    fi
    sleep 0.2
  done
  export BCS_STORAGE_TEST_MONGODB_URI="mongodb://127.0.0.1:$port/?directConnection=true"
  echo "== SecantusDB on 127.0.0.1:$port (pid $server_pid)"
fi

if [ -n "${BCS_STORAGE_TEST_MONGODB_URI:-}" ]; then
  # A test that would run on MongoDB fails, rather than passes on SQLite
  # alone, if the URI is lost on the way.
  export BCS_STORAGE_TEST_MONGODB=required
  echo "== running the suite on SQLite and MongoDB ($BCS_STORAGE_TEST_MONGODB_URI)"
else
  echo "== running the suite on SQLite only"
fi
cargo test --locked "$@"
