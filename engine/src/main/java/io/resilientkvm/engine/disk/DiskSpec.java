package io.resilientkvm.engine.disk;

import java.nio.file.Path;

/** A disk to attach to the VM: the main disk or an external (data) disk. */
public sealed interface DiskSpec permits MainDisk, ExternalDisk {
    /** The image file. */
    Path path();

    /** The image format ({@code qcow2}, {@code raw}…), or {@code null} to let QEMU detect it. */
    String format();
}
