#!/usr/bin/env bash
# Replication lag of an incremental (default 256 MiB, 3 rounds) from the main's published manifest
# to both clones holding it verified, all real (QEMU, exporter, backup server, ZooKeeper, two
# importers), against a bare fetch of the same file in the same run.
# Usage: bench/importer/lag.sh [INC_MIB] [ROUNDS]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
mvn -B -q -DskipTests install >/dev/null
mvn -B -q -pl it-tests test-compile dependency:build-classpath -Dmdep.outputFile=target/bench.cp -Dmdep.includeScope=test >/dev/null
java -cp "it-tests/target/test-classes:$(cat it-tests/target/bench.cp)" io.resilientkvm.it.ReplicationLagBench "${1:-256}" "${2:-3}" 2>/dev/null | grep -E "^(round|[0-9]+ )"
