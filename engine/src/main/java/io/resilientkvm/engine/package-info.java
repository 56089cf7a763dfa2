/**
 * The VM engine: typed parameters, QEMU command line, disk provisioning, QMP client, process supervision, ZooKeeper layout.
 */
package io.resilientkvm.engine;
