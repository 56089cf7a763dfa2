package io.resilientkvm.engine.params;

/** An NBD server the VM boots from as a CD-ROM ({@code nbd-host}/{@code nbd-port}). */
public record NbdDrive(String host, int port) {
}
