#!/usr/bin/env bash
# Shared launcher of the bin/ commands: runs a main class of the built CLI jar.
# Usage (from a bin/ script): exec "$(dirname "$0")/lib/launch.sh" MAIN_CLASS "$@"
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MAIN=$1
shift
# bin/drill runs the drill module's jar (it carries every other module); the others the cli's.
case "$MAIN" in
  io.resilientkvm.drill.*) MODULE=drill ;;
  *) MODULE=cli ;;
esac
JAR="$ROOT/$MODULE/target/resilient-kvm-$MODULE.jar"
if [ ! -f "$JAR" ]; then
  echo "resilient-kvm is not built yet; building it once with: mvn -B -q -DskipTests install" >&2
  if ! (cd "$ROOT" && mvn -B -q -DskipTests install) >&2; then
    echo "the build failed; run 'mvn -DskipTests install' in $ROOT to see why" >&2
    exit 1
  fi
elif [ -n "$(find "$ROOT" -path "$ROOT/*/src/main/*" -newer "$JAR" -type f -print -quit 2>/dev/null)" ]; then
  echo "note: sources changed since the last build; run 'mvn -B -q -DskipTests install' to use them" >&2
fi
if ! command -v java >/dev/null 2>&1; then
  echo "java not found: install a Java 17 runtime (apt-get install openjdk-17-jre-headless)" >&2
  exit 1
fi
# shellcheck disable=SC2086 # RKVM_JAVA_OPTS holds several options on purpose
exec java ${RKVM_JAVA_OPTS:-} -cp "$JAR:$ROOT/$MODULE/target/lib/*" "$MAIN" "$@"
