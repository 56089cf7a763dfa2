package io.resilientkvm.drill.guest;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.commons.compress.archivers.cpio.CpioArchiveEntry;
import org.apache.commons.compress.archivers.cpio.CpioArchiveOutputStream;
import org.apache.commons.compress.archivers.cpio.CpioConstants;

/**
 * The initramfs as the kernel unpacks it: a cpio archive in the "newc" format (the caller
 * compresses it), with every parent folder listed before its files and {@code /dev/console}
 * present, so that init has a console before it mounts devtmpfs.
 */
final class Initramfs {
    private record Entry(byte[] content, int mode) {
    }

    private final Map<String, Entry> files = new TreeMap<>();

    void file(String path, byte[] content, int permissions) {
        files.put(path, new Entry(content, permissions));
    }

    /** {@code binary} at {@code path} and its shared libraries (and loader) at their host paths. */
    void binary(String path, Path binary, List<Path> libraries) throws IOException {
        file(path, Files.readAllBytes(binary), 0755);
        for (Path lib : libraries) {
            // Files.readAllBytes follows the symbolic link (libfoo.so.1 -> libfoo.so.1.2.3) to the content.
            file(lib.toString().substring(1), Files.readAllBytes(lib), 0755);
        }
    }

    void writeTo(OutputStream out) throws IOException {
        TreeMap<String, Boolean> dirs = new TreeMap<>();
        for (String dir : List.of("dev", "proc", "sys", "run", "tmp", "mnt", "bin", "sbin", "etc")) {
            dirs.put(dir, true);
        }
        for (String f : files.keySet()) {
            for (int i = f.indexOf('/'); i > 0; i = f.indexOf('/', i + 1)) {
                dirs.put(f.substring(0, i), true);
            }
        }
        CpioArchiveOutputStream cpio = new CpioArchiveOutputStream(out, CpioConstants.FORMAT_NEW);
        long inode = 1;
        for (String d : dirs.keySet()) {
            CpioArchiveEntry e = new CpioArchiveEntry(CpioConstants.FORMAT_NEW, d, 0);
            e.setMode(CpioConstants.C_ISDIR | 0755);
            e.setNumberOfLinks(2);
            e.setInode(inode++);
            e.setTime(0);
            cpio.putArchiveEntry(e);
            cpio.closeArchiveEntry();
        }
        CpioArchiveEntry console = new CpioArchiveEntry(CpioConstants.FORMAT_NEW, "dev/console", 0);
        console.setMode(CpioConstants.C_ISCHR | 0600);
        console.setRemoteDeviceMaj(5);
        console.setRemoteDeviceMin(1);
        console.setNumberOfLinks(1);
        console.setInode(inode++);
        console.setTime(0);
        cpio.putArchiveEntry(console);
        cpio.closeArchiveEntry();
        for (Map.Entry<String, Entry> f : files.entrySet()) {
            CpioArchiveEntry e = new CpioArchiveEntry(CpioConstants.FORMAT_NEW, f.getKey(), f.getValue().content().length);
            e.setMode(CpioConstants.C_ISREG | f.getValue().mode());
            e.setNumberOfLinks(1);
            e.setInode(inode++);
            e.setTime(0);
            cpio.putArchiveEntry(e);
            cpio.write(f.getValue().content());
            cpio.closeArchiveEntry();
        }
        cpio.finish(); // writes the TRAILER!!! entry; the caller closes the stream
    }
}
