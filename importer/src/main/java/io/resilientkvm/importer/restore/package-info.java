/**
 * Restoring a disk from a backup repository at any kept point:
 * {@link io.resilientkvm.importer.restore.Restorer} (materialize or instant overlay),
 * {@link io.resilientkvm.importer.restore.Holds} that protect chains under overlays, and the
 * {@link io.resilientkvm.importer.restore.RepositoryLock} shared by restores and exclusive for a
 * prune. Failures are {@link io.resilientkvm.importer.restore.RestoreProblem}s (typed, with
 * their data, naming no command-line option). See docs/history.md.
 */
package io.resilientkvm.importer.restore;
