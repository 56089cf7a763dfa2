/**
 * Retention on a backup repository: {@link io.resilientkvm.importer.retention.RetentionPolicy}
 * (from the resilient parameters), a pure {@link io.resilientkvm.importer.retention.RetentionPlanner}
 * and the {@link io.resilientkvm.importer.retention.Pruner} that removes whole chains under the
 * repository's exclusive lock. See docs/history.md.
 */
package io.resilientkvm.importer.retention;
