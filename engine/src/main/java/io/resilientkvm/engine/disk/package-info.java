/**
 * Disks: the {@code qemu-img} wrapper, streaming image download, disk provisioning and the
 * data-disk registry that refuses external-disk changes which could attach the wrong data.
 */
package io.resilientkvm.engine.disk;
