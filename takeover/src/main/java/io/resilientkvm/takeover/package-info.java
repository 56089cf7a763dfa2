/**
 * Promotion of a clone through ZooKeeper, with fencing of the old main.
 */
package io.resilientkvm.takeover;
