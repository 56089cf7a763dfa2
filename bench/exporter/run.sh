#!/usr/bin/env bash
# bench/exporter/run.sh: bin/exporter against a bare QMP blockdev-backup, on one live QEMU.
#
# usage: [SIZE_GIB=4] [WRITE_MIB=256] [WORKDIR=DIR] [KEEP=1] bench/exporter/run.sh
#   SIZE_GIB   size of the random-data source disk (default 4; needs ~2x that free in WORKDIR)
#   WRITE_MIB  MiB written (4 MiB chunks, spread offsets) before the incremental (default 256)
#   WORKDIR    work directory (default: a mktemp dir, removed at exit unless KEEP=1)
#   KEEP=1     keep WORKDIR
# Runs: bare full, exporter full, bare full, exporter full (best of each), then WRITE_MIB of
# writes and one exporter incremental. Page cache is NOT dropped: all runs share the same warm
# cache state. QEMU is always killed at exit.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
EXPORTER="$ROOT/bin/exporter"
BARE="$HERE/bare_backup.py"
SIZE_GIB=${SIZE_GIB:-4}
WRITE_MIB=${WRITE_MIB:-256}
KEEP=${KEEP:-0}
if [ -n "${WORKDIR:-}" ]; then mkdir -p "$WORKDIR"; OWN_WORKDIR=0
else WORKDIR=$(mktemp -d /tmp/bench-exporter.XXXXXX); OWN_WORKDIR=1; fi

PIDFILE="$WORKDIR/qemu.pid"
cleanup() {
  if [ -f "$PIDFILE" ]; then
    local p; p=$(cat "$PIDFILE" 2>/dev/null || true)
    if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
      kill "$p" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$p" 2>/dev/null || true
    fi
  fi
  if [ "$KEEP" = 1 ]; then echo "kept $WORKDIR"
  elif [ "$OWN_WORKDIR" = 1 ]; then rm -rf "$WORKDIR"
  else rm -rf "$WORKDIR"/{src.qcow2,src.raw,bare-*.qcow2,repo-*,qmp*.sock,qemu.pid,*.time,*.json}; fi
}
trap cleanup EXIT INT TERM

now() { date +%s.%N; }
secs() { python3 -c "import sys; print('%.3f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$2"; }
minof() { python3 -c "import sys; print('%.3f' % min(map(float, sys.argv[1:])))" "$@"; }
log() { echo "[bench] $*" >&2; }

HAVE_TIME=0; command -v /usr/bin/time >/dev/null && [ -x /usr/bin/time ] && HAVE_TIME=1

DISK="$WORKDIR/src.qcow2"; SOCK1="$WORKDIR/qmp1.sock"; SOCK2="$WORKDIR/qmp2.sock"
log "workdir $WORKDIR; making a ${SIZE_GIB} GiB disk of random data"
head -c "$((SIZE_GIB * 1024 * 1024 * 1024))" /dev/urandom > "$WORKDIR/src.raw"
qemu-img convert -O qcow2 "$WORKDIR/src.raw" "$DISK"
rm -f "$WORKDIR/src.raw"

if [ -w /dev/kvm ]; then ACCEL=kvm; else ACCEL=tcg; fi
qemu-system-x86_64 -nodefaults -display none -machine pc -accel "$ACCEL" -m 128 \
  -blockdev driver=file,filename="$DISK",node-name=d-file \
  -blockdev driver=qcow2,file=d-file,node-name=d-fmt \
  -device virtio-blk-pci,drive=d-fmt,id=virtio0 \
  -qmp unix:"$SOCK1",server=on,wait=off -qmp unix:"$SOCK2",server=on,wait=off \
  -daemonize -pidfile "$PIDFILE"
for _ in $(seq 50); do [ -S "$SOCK1" ] && [ -S "$SOCK2" ] && break; sleep 0.1; done
log "qemu pid $(cat "$PIDFILE"), accel $ACCEL"

# JVM start baseline: bin/exporter --help (JVM + CLI parsing, no QMP), best of 2
J=()
for _ in 1 2; do t0=$(now); "$EXPORTER" --help >/dev/null; J+=("$(secs "$t0" "$(now)")"); done
JVM=$(minof "${J[@]}")

# run_exporter LEVEL REPO TAG -> sets EXP_WALL, EXP_RSS; writes $WORKDIR/TAG.json
run_exporter() {
  local level=$1 repo=$2 tag=$3 t0 t1
  t0=$(now)
  if [ "$HAVE_TIME" = 1 ]; then
    /usr/bin/time -v -o "$WORKDIR/$tag.time" "$EXPORTER" --qmp "$SOCK2" --target "$repo" --level "$level" --json > "$WORKDIR/$tag.json"
  else
    "$EXPORTER" --qmp "$SOCK2" --target "$repo" --level "$level" --json > "$WORKDIR/$tag.json"
  fi
  t1=$(now)
  EXP_WALL=$(secs "$t0" "$t1")
  if [ "$HAVE_TIME" = 1 ]; then
    EXP_RSS=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORKDIR/$tag.time")
  else EXP_RSS="not measured (GNU time missing)"; fi
}
# job seconds and file as reported by the exporter's --json (first disk)
json_field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); d=d[0] if isinstance(d,list) else d; print(d.get(sys.argv[2],''))" "$1" "$2"; }

BARE_T=(); EXP_T=(); EXP_JOB=(); RSS=()
for round in 1 2; do
  log "round $round: bare full"
  BARE_T+=("$(python3 "$BARE" full "$SOCK1" "$WORKDIR/bare-$round.qcow2")")
  rm -f "$WORKDIR/bare-$round.qcow2"
  log "round $round: exporter full"
  run_exporter full "$WORKDIR/repo-$round" "full-$round"
  EXP_T+=("$EXP_WALL"); RSS+=("$EXP_RSS")
  EXP_JOB+=("$(json_field "$WORKDIR/full-$round.json" seconds)")
  log "round $round: bare ${BARE_T[-1]} s, exporter ${EXP_WALL} s wall (its own figure: ${EXP_JOB[-1]} s), peak RSS ${EXP_RSS} KiB"
  [ "$round" = 1 ] && rm -rf "$WORKDIR/repo-1"   # keep repo-2 as the chain for the incremental
done

log "writing ${WRITE_MIB} MiB through HMP qemu-io"
WRITE_S=$(python3 "$BARE" write "$SOCK1" "$WRITE_MIB")
log "exporter incremental"
run_exporter inc "$WORKDIR/repo-2" inc
INC_WALL=$EXP_WALL; RSS+=("$EXP_RSS")
INC_JOB=$(json_field "$WORKDIR/inc.json" seconds)
INC_FILE=$(json_field "$WORKDIR/inc.json" file)
case "$INC_FILE" in /*) ;; *) [ -n "$INC_FILE" ] && [ ! -e "$INC_FILE" ] && INC_FILE=$(find "$WORKDIR/repo-2" -name 'INC-*.qcow2' | head -1);; esac
[ -z "$INC_FILE" ] && INC_FILE=$(find "$WORKDIR/repo-2" -name 'INC-*.qcow2' | head -1)
INC_SIZE=$(stat -c %s "$INC_FILE")

BARE_BEST=$(minof "${BARE_T[@]}"); EXP_BEST=$(minof "${EXP_T[@]}"); EXP_JOB_BEST=$(minof "${EXP_JOB[@]}")
RSS_MAX=$(printf '%s\n' "${RSS[@]}" | sort -n | tail -1)
python3 - "$SIZE_GIB" "$BARE_BEST" "$EXP_BEST" "$EXP_JOB_BEST" "$JVM" "$WRITE_MIB" "$WRITE_S" "$INC_WALL" "$INC_JOB" "$INC_SIZE" "$RSS_MAX" "$ACCEL" \
  "${BARE_T[*]}" "${EXP_T[*]}" <<'PY'
import sys
(size, bare, exp, expjob, jvm, wmib, ws, incw, incj, incsz, rss, accel, bares, exps) = sys.argv[1:]
bare, exp, jvm = float(bare), float(exp), float(jvm)
rows = [
 ("disk size", "%s GiB random data (qcow2, allocated), accel %s" % (size, accel)),
 ("cache state", "warm, not dropped; bare and exporter alternate in the same state"),
 ("bare full s (best of 2)", "%.3f   [runs: %s]" % (bare, bares)),
 ("exporter full s (best of 2, wall incl. JVM)", "%.3f   [runs: %s]" % (exp, exps)),
 ("exporter full job s (its --json, best)", expjob),
 ("ratio exporter/bare", "%.2f" % (exp / bare)),
 ("exporter overhead s", "%.3f" % (exp - bare)),
 ("JVM start baseline s (bin/exporter --help, best of 2)", "%.3f" % jvm),
 ("overhead minus JVM start s", "%.3f" % (exp - bare - jvm)),
 ("writes before inc", "%s MiB in %s s (HMP qemu-io, 4 MiB chunks)" % (wmib, ws)),
 ("exporter inc s (wall incl. JVM)", incw),
 ("exporter inc job s (its --json)", incj),
 ("inc file size", "%s bytes (%.1f MiB)" % (incsz, int(incsz) / 1048576)),
 ("peak RSS of exporter JVM (KiB, max of 3 runs)", rss),
]
w = max(len(k) for k, _ in rows)
print("== bench/exporter results ==")
for k, v in rows:
    print("%-*s  %s" % (w, k, v))
PY
