#!/usr/bin/env bash
# Start the loopback scale-out cluster (emulator, 2 APIs, 3 workers on PostgreSQL) and run the
# smoke workload; any arguments go to bench/cluster.py (e.g. --shape sqlite, --jobs 200, --hold).
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m bench.cluster "$@"
