/**
 * Images that came from elsewhere, checked in Java before qemu-img or QEMU opens them: the qcow2
 * header ({@link io.resilientkvm.engine.image.QcowHeader}), what a file must be
 * ({@link io.resilientkvm.engine.image.ImageInspector}) and a backup chain whose every file passed
 * ({@link io.resilientkvm.engine.image.TrustedChain}), and the chain under a VM's disk, given to QEMU
 * as pinned nodes ({@link io.resilientkvm.engine.image.BackingChain}). qemu-img and QEMU follow the references
 * written inside an image (backing file, backing format, external data file), so those are read
 * and compared here first; see docs/history.md, "What a clone trusts".
 */
package io.resilientkvm.engine.image;
