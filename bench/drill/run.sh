#!/usr/bin/env bash
# The guest drill with a 1 GiB and a 16 GiB (sparse) main disk under a steady guest write load
# (the tiny guest's journals on two disks plus its bulk writer): RPO (journal records and seconds
# lost) and RTO (bin/takeover start to the restored guest's HTTP answering, and to its VM answering
# QMP) for each; then the guest's write throughput without and with a backup every 5 s, in one VM.
# Env: SIZES_MIB (default "1024 16384"), ROUNDS (1), BACKUPS (3), WINDOW (30 s per throughput
# window), ACCEL (auto). Builds with `mvn package` (never install); the guest is built at first use.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
SIZES_MIB=${SIZES_MIB:-"1024 16384"}
mvn -B -q -DskipTests package >/dev/null
JAR="drill/target/resilient-kvm-drill.jar:drill/target/lib/*"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for size in $SIZES_MIB; do
  echo "== drill, guest workload with load, ${size} MiB main disk"
  if ! bin/drill --workload guest --guest-load --disk-size "$size" --rounds "${ROUNDS:-1}" --backups "${BACKUPS:-3}" \
      --accel "${ACCEL:-auto}" --json > "$out/drill-$size.json" 2> "$out/drill-$size.log"; then
    echo "drill failed; its steps:"; tail -40 "$out/drill-$size.log"; cat "$out/drill-$size.json"; exit 1
  fi
  python3 - "$out/drill-$size.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for x in r["rounds"]:
    print("round %d: RPO %d records (%.2f s), RTO %.2f s to the guest's HTTP (%.2f s to QMP), guest bulk writes %.1f MiB/s"
          " while backups ran every 5 s, %d checks passed"
          % (x["round"], x["rpoRecords"], x["rpoSeconds"], x["rtoSeconds"], x["rtoVmSeconds"], x["guestMiBps"],
             sum(1 for c in r["checks"] if c["passed"])))
PY
  grep -E "accelerator|RPO:" "$out/drill-$size.log" | sed 's/^/  /'
done
for size in $SIZES_MIB; do
  echo "== guest write throughput, $((size / 1024)) GiB disk, ${WINDOW:-30} s windows"
  java -cp "$JAR" io.resilientkvm.drill.guest.GuestLoadBench "$((size / 1024))" "${WINDOW:-30}" "${ACCEL:-auto}" 2>/dev/null
done
echo "reference: Proxmox VE HA documents about 2 minutes from a node failure to the guest running again"
