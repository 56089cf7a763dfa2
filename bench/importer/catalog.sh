#!/usr/bin/env bash
# bench/importer/catalog.sh: a clone's reconcile with 200, 2,000 and 20,000 published manifests
# (chains of 200, all held by the clone), real ZooKeeper (Curator TestingServer) and the real
# importer: ZooKeeper reads of the first round and of a steady-state round (Curator's tracer on
# the clone's client), and that round's time. The reads of a steady round must not grow with
# the history. Usage: bench/importer/catalog.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CP_FILE=$(mktemp /tmp/bench-catalog-cp.XXXXXX)
trap 'rm -f "$CP_FILE"' EXIT
(cd "$ROOT" && mvn -B -o -q -pl importer -am test-compile dependency:build-classpath \
  -Dmdep.outputFile="$CP_FILE" -Dmdep.includeScope=test >/dev/null)
CP="$ROOT/importer/target/test-classes:$ROOT/importer/target/classes:$ROOT/engine/target/test-classes:$(cat "$CP_FILE")"
java -cp "$CP" io.resilientkvm.importer.service.CatalogReconcileBench 2>/dev/null | grep "^catalog "
