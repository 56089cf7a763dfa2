#!/usr/bin/env bash
# bench/restore/run.sh: bin/restore against a plain 'qemu-img convert' of the same chain, and the
# instant mode's time for two disk sizes.
#
# usage: [SIZE_GIB=4] [INC_MIB=256] [SMALL_GIB=1] [ROUNDS=3] [WORKDIR=DIR] [KEEP=1] bench/restore/run.sh
#   SIZE_GIB   size of the full backup, random data (default 4; needs ~3x that free in WORKDIR)
#   INC_MIB    MiB of random data in the incremental on top (4 MiB chunks, spread offsets; default 256)
#   SMALL_GIB  size of the second chain for the instant-mode comparison (default 1)
#   ROUNDS     alternating rounds of the materialize comparison (default 3; the best of each is shown)
#   WORKDIR    work directory (default: a mktemp dir, removed at exit unless KEEP=1)
# The chains are laid out as the exporter writes them (FULL + INC backed by a relative name,
# manifests with SHA-256). Runs, in the same warm page-cache state: plain convert, bin/restore
# (full verification), bin/restore --no-verify, plain convert again; best of each pair is shown.
# Then bin/restore --instant on both chains (wall time including the JVM start, and the overlay
# creation time bin/restore reports), against a bare 'qemu-img create -b'.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
RESTORE="$ROOT/bin/restore"
SIZE_GIB=${SIZE_GIB:-4}
INC_MIB=${INC_MIB:-256}
SMALL_GIB=${SMALL_GIB:-1}
ROUNDS=${ROUNDS:-3}
KEEP=${KEEP:-0}
if [ -n "${WORKDIR:-}" ]; then mkdir -p "$WORKDIR"; OWN_WORKDIR=0
else WORKDIR=$(mktemp -d /tmp/bench-restore.XXXXXX); OWN_WORKDIR=1; fi
cleanup() {
  if [ "$KEEP" = 1 ]; then echo "kept $WORKDIR"
  elif [ "$OWN_WORKDIR" = 1 ]; then rm -rf "$WORKDIR"
  else rm -rf "$WORKDIR"/{repo-*,out,*.raw,*.json,chunk.bin}; fi
}
trap cleanup EXIT INT TERM

now() { date +%s.%N; }
secs() { python3 -c "import sys; print('%.3f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$2"; }
minof() { python3 -c "import sys; print('%.3f' % min(map(float, sys.argv[1:])))" "$@"; }
log() { echo "[bench] $*" >&2; }
jget() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }

# manifest FILE DEVICE CHAIN SEQ PARENT TIME VSIZE: writes FILE.json as the exporter does (format 1)
manifest() {
  python3 - "$@" <<'PY'
import hashlib, json, os, sys
f, device, chain, seq, parent, t, vsize = sys.argv[1:]
h = hashlib.sha256()
with open(f, 'rb') as fh:
    for block in iter(lambda: fh.read(1 << 20), b''):
        h.update(block)
m = {"formatVersion": 1, "instance": "bench", "device": device, "chainId": chain, "sequence": int(seq),
     "level": "FULL" if seq == "0" else "INC", "file": os.path.basename(f), "parent": parent or None,
     "bitmap": "qmpbackup-%s-%s" % (device, chain), "virtualSize": int(vsize), "fileSize": os.path.getsize(f),
     "sha256": h.hexdigest(), "createdAt": t, "startedAt": t, "finishedAt": t, "epoch": 0,
     "job": {"bytesTransferred": 0, "durationMillis": 0}}
with open(f + ".json.tmp", 'w') as out:
    json.dump(m, out, indent=2)
os.rename(f + ".json.tmp", f + ".json")
PY
}

# make_chain REPO GIB WITH_INC: a full of random data (+ an incremental of INC_MIB random MiB)
make_chain() {
  local repo=$1 gib=$2 inc=$3 chain=20261124T100000.000Z dir
  dir="$repo/vda/$chain"; mkdir -p "$dir"
  head -c "$((gib * 1024 * 1024 * 1024))" /dev/urandom > "$WORKDIR/src.raw"
  qemu-img convert -f raw -O qcow2 "$WORKDIR/src.raw" "$dir/FULL-$chain.qcow2"
  rm -f "$WORKDIR/src.raw"
  manifest "$dir/FULL-$chain.qcow2" vda "$chain" 0 "" 2026-11-24T10:00:00Z "$((gib * 1024 * 1024 * 1024))"
  if [ "$inc" = 1 ]; then
    local inc_file="INC-20261124T110000.000Z.qcow2" cmds=() n=$((INC_MIB / 4)) stride i
    qemu-img create -q -f qcow2 -F qcow2 -b "FULL-$chain.qcow2" "$dir/$inc_file"
    head -c $((4 * 1024 * 1024)) /dev/urandom > "$WORKDIR/chunk.bin"
    stride=$((gib * 1024 / n))
    for i in $(seq 0 $((n - 1))); do cmds+=(-c "write -q -s $WORKDIR/chunk.bin $((i * stride))M 4M"); done
    qemu-io -f qcow2 "${cmds[@]}" "$dir/$inc_file"
    manifest "$dir/$inc_file" vda "$chain" 1 "FULL-$chain.qcow2" 2026-11-24T11:00:00Z "$((gib * 1024 * 1024 * 1024))"
    CHAIN_TOP="$dir/$inc_file"
  else
    CHAIN_TOP="$dir/FULL-$chain.qcow2"
  fi
}

OUT="$WORKDIR/out"; mkdir -p "$OUT"
log "workdir $WORKDIR; chain of ${SIZE_GIB} GiB random full + ${INC_MIB} MiB incremental"
make_chain "$WORKDIR/repo-big" "$SIZE_GIB" 1
BIG_TOP=$CHAIN_TOP
sync  # the fresh chain's writeback must not land in the first timed run

# JVM start baseline: bin/restore --help, best of 2
J=(); for _ in 1 2; do t0=$(now); "$RESTORE" --help >/dev/null; J+=("$(secs "$t0" "$(now)")"); done
JVM=$(minof "${J[@]}")

# plain -> prints "convert_seconds convert_plus_fsync_seconds" (bin/restore fsyncs its output before the rename)
plain() {
  local t0 t1; t0=$(now); qemu-img convert -O qcow2 "$BIG_TOP" "$OUT/plain.qcow2"; t1=$(now)
  sync "$OUT/plain.qcow2"; echo "$(secs "$t0" "$t1") $(secs "$t0" "$(now)")"; rm -f "$OUT/plain.qcow2"
}
# tool ARGS... -> prints "wall convert_seconds verify_seconds" (with full verification the hashing runs alongside the convert)
tool() {
  local t0 w; t0=$(now)
  "$RESTORE" --repository "$WORKDIR/repo-big" --output "$OUT/restored.qcow2" --json "$@" > "$WORKDIR/r.json"
  w=$(secs "$t0" "$(now)")
  echo "$w $(jget "$WORKDIR/r.json" seconds) $(jget "$WORKDIR/r.json" verifySeconds)"
  qemu-img compare -q "$OUT/restored.qcow2" "$BIG_TOP" || { echo "restored image differs from the chain" >&2; exit 1; }
  rm -f "$OUT/restored.qcow2"
}

log "materialize: warm-up convert (not counted), then $ROUNDS rounds of: plain, bin/restore --no-verify, bin/restore"
plain >/dev/null  # the first convert after the chain was made is always slow here (allocation, writeback)
PL=(); PLS=(); NW=(); NC=(); VW=(); VC=(); VV=()
for _ in $(seq "$ROUNDS"); do
  read -r a b <<<"$(plain)"; PL+=("$a"); PLS+=("$b")
  read -r a b _ <<<"$(tool --no-verify)"; NW+=("$a"); NC+=("$b")
  read -r a b c <<<"$(tool)"; VW+=("$a"); VC+=("$b"); VV+=("$c")
done
P=$(minof "${PL[@]}"); PS=$(minof "${PLS[@]}")
N_CONV=$(minof "${NC[@]}"); N_WALL=$(minof "${NW[@]}")
V_CONV=$(minof "${VC[@]}"); VWALL=$(minof "${VW[@]}"); VER=$(minof "${VV[@]}")
runs() { python3 -c "import sys; print(', '.join('%.2f' % float(x) for x in sys.argv[1:]))" "$@"; }

log "instant: ${SIZE_GIB} GiB chain, then a ${SMALL_GIB} GiB chain"
instant() {
  local repo=$1 t0 w
  rm -f "$OUT/vm.qcow2"
  t0=$(now)
  "$RESTORE" --repository "$repo" --instant --output "$OUT/vm.qcow2" --json > "$WORKDIR/i.json"
  w=$(secs "$t0" "$(now)")
  echo "$w $(jget "$WORKDIR/i.json" seconds) $(jget "$WORKDIR/i.json" verifySeconds)"
  "$RESTORE" --repository "$repo" --release "$OUT/vm.qcow2" --force >/dev/null
}
bare_create() {
  local top=$1 t0; rm -f "$OUT/bare.qcow2"; t0=$(now)
  qemu-img create -q -f qcow2 -F qcow2 -b "$top" "$OUT/bare.qcow2"; secs "$t0" "$(now)"; rm -f "$OUT/bare.qcow2"
}
read -r IB_WALL IB_CREATE IB_VER <<<"$(instant "$WORKDIR/repo-big")"
read -r IB2_WALL IB2_CREATE IB2_VER <<<"$(instant "$WORKDIR/repo-big")"
BB=$(bare_create "$BIG_TOP")
make_chain "$WORKDIR/repo-small" "$SMALL_GIB" 0
SMALL_TOP=$CHAIN_TOP
read -r IS_WALL IS_CREATE IS_VER <<<"$(instant "$WORKDIR/repo-small")"
read -r IS2_WALL IS2_CREATE IS2_VER <<<"$(instant "$WORKDIR/repo-small")"
BS=$(bare_create "$SMALL_TOP")

ms() { python3 -c "import sys; print('%.0f' % (float(sys.argv[1]) * 1000))" "$1"; }
pct() { python3 -c "import sys; print('%.0f' % (100 * float(sys.argv[1]) / float(sys.argv[2])))" "$1" "$2"; }
cat <<REPORT

== bench/restore: ${SIZE_GIB} GiB random full + ${INC_MIB} MiB incremental, $(nproc) cores, page cache warm ==
JVM start (bin/restore --help)                 $(ms "$JVM") ms
materialize (qcow2, best of $ROUNDS alternating rounds; runs in brackets)
  plain qemu-img convert of the chain          ${P} s   [$(runs "${PL[@]}")]
  plain convert + sync of the output           ${PS} s   [$(runs "${PLS[@]}")]
  bin/restore --no-verify: convert+fsync       ${N_CONV} s   ($(pct "$N_CONV" "$PS") % of plain convert + sync) [$(runs "${NC[@]}")]
  bin/restore --no-verify: wall                ${N_WALL} s   (JVM + convert + fsync) [$(runs "${NW[@]}")]
  bin/restore (full verify): convert+fsync     ${V_CONV} s   ($(pct "$V_CONV" "$PS") %; the hashing competes for the cores) [$(runs "${VC[@]}")]
  bin/restore (full verify): SHA-256 + check   ${VER} s   (alongside the convert) [$(runs "${VV[@]}")]
  bin/restore (full verify): wall              ${VWALL} s   ($(pct "$VWALL" "$PS") % of plain convert + sync) [$(runs "${VW[@]}")]
instant mode (overlay + hold; verification 'quick': sizes, qemu-img check, backing names)
  ${SIZE_GIB} GiB chain: overlay created in      $(ms "$(minof "$IB_CREATE" "$IB2_CREATE")") ms, verify $(ms "$(minof "$IB_VER" "$IB2_VER")") ms, wall $(minof "$IB_WALL" "$IB2_WALL") s
  ${SMALL_GIB} GiB chain: overlay created in      $(ms "$(minof "$IS_CREATE" "$IS2_CREATE")") ms, verify $(ms "$(minof "$IS_VER" "$IS2_VER")") ms, wall $(minof "$IS_WALL" "$IS2_WALL") s
  bare qemu-img create -b                      $(ms "$BB") ms (${SIZE_GIB} GiB), $(ms "$BS") ms (${SMALL_GIB} GiB)
REPORT
