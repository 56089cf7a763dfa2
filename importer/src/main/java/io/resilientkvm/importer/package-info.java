/**
 * Clone nodes: pulling, verifying and storing backups with history, retention and restore.
 */
package io.resilientkvm.importer;
