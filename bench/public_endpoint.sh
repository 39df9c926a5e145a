#!/usr/bin/env bash
# /public/latest-volume under wrk on loopback, beside nginx serving the same bytes as a static file.
# Prints req/s and p50/p99 latency for both. Bounded: DURATION seconds per run (default 10).
#
#   bench/public_endpoint.sh            # 64 connections, 10 s each
#   CONNECTIONS=128 DURATION=20 WORKERS=2 SERVER=granian bench/public_endpoint.sh
#
# Needs Redis (REDIS_URL, default redis://127.0.0.1:6379/15). PostgreSQL is deliberately not used: the
# app starts with an unreachable DATABASE_URL and loads the document from Redis, as in production when
# PostgreSQL is down. Installs wrk and nginx with apt-get when missing.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
DURATION=${DURATION:-10}
WORKERS=${WORKERS:-1}
SERVER=${SERVER:-uvicorn}  # or granian
APP_PORT=${APP_PORT:-18081}
NGINX_PORT=${NGINX_PORT:-18082}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/15}
export PERPVOL_REDIS_PREFIX=perpvol-bench-$$
export DATABASE_URL=postgresql://bench@127.0.0.1:1/unreachable
export PERPVOL_PUBLIC_RATE_LIMIT=1000000000

need() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
if ! need wrk || ! need nginx; then
    apt-get update -qq && apt-get install -y -qq wrk nginx-light >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

WORK=$(mktemp -d)
APP_PID=""
NGINX_PID=""
cleanup() {
    [ -n "$APP_PID" ] && kill "$APP_PID" 2>/dev/null && wait "$APP_PID" 2>/dev/null || true
    [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null || true
    "$PYTHON" - <<'EOF' || true
import os, redis
redis.Redis.from_url(os.environ["REDIS_URL"]).delete(os.environ["PERPVOL_REDIS_PREFIX"] + ":current")
EOF
    rm -rf "$WORK"
}
trap cleanup EXIT

# A realistic current document (four venues), cached where the workers would put it.
"$PYTHON" - <<'EOF'
import os
from datetime import UTC, datetime
from decimal import Decimal
import redis
from storage.current_cache import current_key, encode
from core.current_volume import VenueFigure, build_current
from core.settings import load_settings

now = datetime.now(UTC)
figures = [
    VenueFigure(name, Decimal(usd), now, now, markets, False, f"{name} tickers")
    for name, usd, markets in [
        ("bybit", "11873456712.123456", 512), ("woox", "412345678.9", 180),
        ("hyperliquid", "8123456789.12", 190), ("paradex", "923456789.5", 110),
    ]
]
doc = build_current(figures, now=now, stale_seconds=86400, data_mode="real", previous={})
settings = load_settings()
redis.Redis.from_url(os.environ["REDIS_URL"]).set(current_key(settings), encode(doc))
EOF

if [ "$SERVER" = granian ]; then
    "$(dirname "$PYTHON")/granian" --interface asgi --factory --host 127.0.0.1 --port "$APP_PORT" \
        --workers "$WORKERS" --log-level warning webapp.asgi:app &
else
    "$PYTHON" -m uvicorn --factory webapp.asgi:app --host 127.0.0.1 --port "$APP_PORT" \
        --workers "$WORKERS" --no-access-log --log-level warning &
fi
APP_PID=$!
URL=http://127.0.0.1:$APP_PORT/public/latest-volume
for _ in $(seq 100); do curl -fsS -o "$WORK/latest-volume.json" "$URL" 2>/dev/null && break; sleep 0.1; done
[ -s "$WORK/latest-volume.json" ] || { echo "the app did not answer on $URL" >&2; exit 1; }

cat >"$WORK/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $WORK; proxy_temp_path $WORK; fastcgi_temp_path $WORK;
    uwsgi_temp_path $WORK; scgi_temp_path $WORK;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location = /public/latest-volume {
            default_type application/json;
            add_header Cache-Control "public, max-age=5, stale-while-revalidate=30";
            add_header Access-Control-Allow-Origin "*";
            alias $WORK/latest-volume.json;
        }
    }
}
EOF
"$NGINX" -c "$WORK/nginx.conf" &
NGINX_PID=$!
for _ in $(seq 50); do curl -fsS -o /dev/null "http://127.0.0.1:$NGINX_PORT/public/latest-volume" && break; sleep 0.1; done

run() {  # name url key -> prints "name req/s p50 p99", keeps req/s in $WORK/key.rps
    local out
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$2")
    local rps p50 p99 non2xx
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
    printf '%-28s %12s %10s %10s %s\n' "$1" "$rps" "$p50" "$p99" "${non2xx:+non-2xx: $non2xx}"
    echo "$rps" >"$WORK/$3.rps"
}

echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s on loopback; $(nproc) cores; body $(wc -c <"$WORK/latest-volume.json") bytes"
printf '%-28s %12s %10s %10s\n' target req/s p50 p99
curl -fsS -o /dev/null "$URL"  # warm
run "perpvol ($SERVER x$WORKERS)" "$URL" app
run "nginx static file" "http://127.0.0.1:$NGINX_PORT/public/latest-volume" nginx
awk -v app="$(cat "$WORK/app.rps")" -v ngx="$(cat "$WORK/nginx.rps")" \
    'BEGIN {printf "perpvol / nginx throughput: %.0f%% (target >= 35%%, p99 < 15ms)\n", 100 * app / ngx}'
