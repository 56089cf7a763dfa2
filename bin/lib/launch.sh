#!/usr/bin/env bash
# Shared launcher of the bin/ commands: runs a main class of a built module's jar, building that
# module (and only what it needs) first when its jar is missing.
# Usage (from a bin/ script): exec "$(dirname "$0")/lib/launch.sh" MAIN_CLASS "$@"
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MAIN=$1
shift

# The module whose jar runs each main class; the only place to change when a command moves to
# another module. A module run from here builds MODULE/target/resilient-kvm-MODULE.jar and copies
# its runtime dependencies to MODULE/target/lib (see cli/pom.xml). bin/drill runs the drill
# module's jar (it carries every other module); the others the cli's.
case "$MAIN" in
  io.resilientkvm.drill.*) MODULE=drill ;;
  *) MODULE=cli ;;
esac

JAR="$ROOT/$MODULE/target/resilient-kvm-$MODULE.jar"
# Reactor build of this module and the modules it depends on: nothing installed in ~/.m2, no test
# run (-DskipTests skips Surefire and Failsafe). The tests are still compiled: some modules depend
# on another's test-jar (engine's TestVm...), which -Dmaven.test.skip=true would not create.
BUILD=(mvn -B -pl "$MODULE" -am package -DskipTests)

if [ ! -f "$JAR" ]; then
  if ! command -v mvn >/dev/null 2>&1; then
    echo "resilient-kvm is not built yet and mvn was not found: install Maven 3.8 or later (apt-get install maven)" >&2
    exit 1
  fi
  echo "resilient-kvm is not built yet; building $MODULE and what it needs, without tests (${BUILD[*]}):" >&2
  LOG=$(mktemp "${TMPDIR:-/tmp}/resilient-kvm-build.XXXXXX")
  # A short build: the quick JIT alone (C1) spends far less CPU than C2 would (14-20 s instead of
  # 41-68 s on a loaded 2-core machine). The caller's MAVEN_OPTS come last and win.
  export MAVEN_OPTS="-XX:TieredStopAtLevel=1 ${MAVEN_OPTS:-}"
  START=$(date +%s)
  # Maven's "Building <module> [n/m]" lines show the progress; the whole output goes to $LOG.
  set +e
  (cd "$ROOT" && "${BUILD[@]}") 2>&1 | tee "$LOG" \
    | sed -un 's/^\[INFO\] Building \(resilient-kvm .*[^ ]\) *\(\[[0-9]*\/[0-9]*\]\)$/  \2 \1/p' >&2
  STATUS=${PIPESTATUS[0]}
  set -e
  if [ "$STATUS" -ne 0 ] || [ ! -f "$JAR" ]; then
    grep -E '^\[ERROR\]' "$LOG" | head -n 20 >&2 || true
    echo "the build failed after $(( $(date +%s) - START )) s; Maven's whole output is in $LOG" >&2
    exit 1
  fi
  rm -f "$LOG"
  echo "built in $(( $(date +%s) - START )) s" >&2
elif [ -n "$(find "$ROOT" -path "$ROOT/*/src/main/*" -newer "$JAR" -type f -print -quit 2>/dev/null)" ]; then
  echo "note: sources changed since the last build; run '${BUILD[*]}' in $ROOT to use them" >&2
fi
if ! command -v java >/dev/null 2>&1; then
  echo "java not found: install a Java 17 runtime (apt-get install openjdk-17-jre-headless)" >&2
  exit 1
fi
# shellcheck disable=SC2086 # RKVM_JAVA_OPTS holds several options on purpose
exec java ${RKVM_JAVA_OPTS:-} -cp "$JAR:$ROOT/$MODULE/target/lib/*" "$MAIN" "$@"
