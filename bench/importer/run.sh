#!/usr/bin/env bash
# bench/importer/run.sh: transfer of one backup from the main's backup server to two clones
# (two concurrent fetchers, loopback) against a plain copy of the same file, in the same run.
#
# usage: [SIZE_GIB=4] [ROUNDS=2] [DROP=0] [WORKDIR=DIR] [KEEP=1] bench/importer/run.sh
#   SIZE_GIB  size of the random-data backup file (default 4; needs ~3x that free in WORKDIR)
#   ROUNDS    rounds of (plain copy, fetch); the best of each is reported (default 2)
#   DROP=1    drop the page cache (root, /proc/sys/vm/drop_caches) before each measurement;
#             default: warm it instead by reading the source once before each measurement
#   WORKDIR   work directory (default: a mktemp dir, removed at exit unless KEEP=1)
#   FETCH_JAVA_OPTS  JVM options of the fetching JVM (default -Xmx128m: a bounded heap shows
#             that memory does not grow with the file; without it the JVM's heap merely grows
#             with garbage up to a quarter of the RAM)
# Plain copy = two concurrent `cp SRC copyN` then `sync copy1 copy2` (fsync of both files),
# the same bytes written and synced as two fetches (each fetch fsyncs its file and its folder);
# coreutils cp may copy in the kernel (copy_file_range), so `cat SRC > copyN` (through user
# space, like any network transfer) is measured too.
# Fetch time is measured inside the fetching JVM (FETCH line) and as the process wall time
# (JVM start included); peak RSS is the fetching JVM's (GNU time).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SIZE_GIB=${SIZE_GIB:-4}
ROUNDS=${ROUNDS:-2}
DROP=${DROP:-0}
KEEP=${KEEP:-0}
if [ -n "${WORKDIR:-}" ]; then mkdir -p "$WORKDIR"; OWN_WORKDIR=0
else WORKDIR=$(mktemp -d /tmp/bench-importer.XXXXXX); OWN_WORKDIR=1; fi

SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [ "$KEEP" = 1 ]; then echo "kept $WORKDIR"
  elif [ "$OWN_WORKDIR" = 1 ]; then rm -rf "$WORKDIR"
  else rm -rf "$WORKDIR"/{main,clone-*,copy-*,token,cp.txt,*.time,server.out,fifo}; fi
}
trap cleanup EXIT INT TERM

now() { date +%s.%N; }
secs() { python3 -c "import sys; print('%.3f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$2"; }
minof() { python3 -c "import sys; print('%.3f' % min(map(float, sys.argv[1:])))" "$@"; }
log() { echo "[bench] $*" >&2; }
[ -x /usr/bin/time ] || { echo "GNU time (/usr/bin/time) is needed for the peak RSS" >&2; exit 2; }

log "building (offline) and resolving the test classpath"
(cd "$ROOT" && mvn -B -o -q -pl importer -am test-compile dependency:build-classpath \
  -Dmdep.outputFile="$WORKDIR/cp.txt" -Dmdep.includeScope=test >/dev/null)
CP="$ROOT/importer/target/test-classes:$ROOT/importer/target/classes:$(cat "$WORKDIR/cp.txt")"
JAVA=(java -cp "$CP")
FETCH_JAVA_OPTS=${FETCH_JAVA_OPTS:--Xmx128m}
BENCH=io.resilientkvm.importer.transfer.TransferBench

STAMP=$(date -u +%Y%m%dT%H%M%S.000Z)
CHAIN="$WORKDIR/main/virtio0/$STAMP"
SRC="$CHAIN/FULL-$STAMP.qcow2"
mkdir -p "$CHAIN"
log "workdir $WORKDIR; making a ${SIZE_GIB} GiB backup file of random data"
head -c "$((SIZE_GIB * 1024 * 1024 * 1024))" /dev/urandom > "$SRC"
BYTES=$(stat -c %s "$SRC")
log "hashing it into its manifest"
"${JAVA[@]}" "$BENCH" prepare "$SRC"
MANIFEST="$SRC.json"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$WORKDIR/token"

log "starting the backup server (its own JVM)"
mkfifo "$WORKDIR/fifo"
"${JAVA[@]}" "$BENCH" serve "$WORKDIR/main" "$WORKDIR/token" < "$WORKDIR/fifo" > "$WORKDIR/server.out" 2>&1 &
SERVER_PID=$!
exec 9> "$WORKDIR/fifo"   # keeps the server's stdin open until the script exits
for _ in $(seq 300); do grep -q '^PORT ' "$WORKDIR/server.out" 2>/dev/null && break; sleep 0.1; done
PORT=$(awk '/^PORT / {print $2}' "$WORKDIR/server.out")
[ -n "$PORT" ] || { cat "$WORKDIR/server.out" >&2; exit 1; }
log "server pid $SERVER_PID on 127.0.0.1:$PORT"

prepare_cache() {
  if [ "$DROP" = 1 ]; then sync; echo 3 > /proc/sys/vm/drop_caches
  else cat "$SRC" > /dev/null; fi
}

COPY_T=(); CAT_T=(); FETCH_T=(); WALL_T=(); RSS=()
for round in $(seq "$ROUNDS"); do
  prepare_cache
  log "round $round: plain copy to two targets"
  t0=$(now)
  cp "$SRC" "$WORKDIR/copy-1" & c1=$!
  cp "$SRC" "$WORKDIR/copy-2" & c2=$!
  wait "$c1"; wait "$c2"
  sync "$WORKDIR/copy-1" "$WORKDIR/copy-2"
  COPY_T+=("$(secs "$t0" "$(now)")")
  rm -f "$WORKDIR"/copy-*

  prepare_cache
  log "round $round: cat to two targets"
  t0=$(now)
  cat "$SRC" > "$WORKDIR/copy-1" & c1=$!
  cat "$SRC" > "$WORKDIR/copy-2" & c2=$!
  wait "$c1"; wait "$c2"
  sync "$WORKDIR/copy-1" "$WORKDIR/copy-2"
  CAT_T+=("$(secs "$t0" "$(now)")")
  rm -f "$WORKDIR"/copy-*

  prepare_cache
  log "round $round: fetch to two clones"
  t0=$(now)
  /usr/bin/time -v -o "$WORKDIR/fetch-$round.time" java $FETCH_JAVA_OPTS -cp "$CP" "$BENCH" fetch "http://127.0.0.1:$PORT" \
    "$WORKDIR/token" "$MANIFEST" "$WORKDIR/clone-1" "$WORKDIR/clone-2" > "$WORKDIR/fetch-$round.out"
  WALL_T+=("$(secs "$t0" "$(now)")")
  FETCH_T+=("$(awk '/^FETCH / {print $2}' "$WORKDIR/fetch-$round.out")")
  RSS+=("$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORKDIR/fetch-$round.time")")
  for c in 1 2; do cmp -s "$SRC" "$WORKDIR/clone-$c/virtio0/$STAMP/FULL-$STAMP.qcow2" \
    || { echo "clone $c differs from the source" >&2; exit 1; }; done
  log "round $round: cp ${COPY_T[-1]} s, cat ${CAT_T[-1]} s, fetch ${FETCH_T[-1]} s (process ${WALL_T[-1]} s), peak RSS ${RSS[-1]} KiB"
  rm -rf "$WORKDIR"/clone-*
done

python3 - "$SIZE_GIB" "$BYTES" "$(minof "${COPY_T[@]}")" "$(minof "${FETCH_T[@]}")" "$(minof "${WALL_T[@]}")" \
  "$(printf '%s\n' "${RSS[@]}" | sort -n | tail -1)" "$DROP" "${COPY_T[*]}" "${FETCH_T[*]}" "${WALL_T[*]}" \
  "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(minof "${CAT_T[@]}")" "${CAT_T[*]}" "$FETCH_JAVA_OPTS" <<'PY'
import sys
(size, nbytes, copy, fetch, wall, rss, drop, copies, fetches, walls, cores, load, cat, cats, opts) = sys.argv[1:]
nbytes, copy, fetch, wall, cat = int(nbytes), float(copy), float(fetch), float(wall), float(cat)
total = 2 * nbytes / 1e6
rows = [
 ("backup file", "%s GiB random data (%d bytes), 2 clones, loopback HTTP, %s cores, load %s" % (size, nbytes, cores, load)),
 ("cache state", "dropped before each measurement" if drop == "1" else "warm: source read once before each measurement"),
 ("plain copy x2 s (best)", "%.3f   [runs: %s]   %.0f MB/s" % (copy, copies, total / copy)),
 ("plain cat x2 s (best)", "%.3f   [runs: %s]   %.0f MB/s" % (cat, cats, total / cat)),
 ("fetch x2 s (best, in JVM)", "%.3f   [runs: %s]   %.0f MB/s" % (fetch, fetches, total / fetch)),
 ("fetch x2 s (best, process)", "%.3f   [runs: %s]   %.0f MB/s" % (wall, walls, total / wall)),
 ("fetch throughput / cp", "%.0f %% (in JVM), %.0f %% (process)" % (100 * copy / fetch, 100 * copy / wall)),
 ("fetch throughput / cat", "%.0f %% (in JVM), %.0f %% (process)" % (100 * cat / fetch, 100 * cat / wall)),
 ("fetching JVM peak RSS", "%s KiB (options: %s)" % (rss, opts)),
]
for k, v in rows:
    print("%-28s %s" % (k, v))
PY
