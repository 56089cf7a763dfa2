package io.resilientkvm.drill.guest;

import io.resilientkvm.engine.error.OperatorException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPOutputStream;

/**
 * Writes the tiny guest's gzipped initramfs: its init, busybox, the virtio modules in load
 * order, the host's mke2fs and e2fsck with their libraries, and qemu-ga when the host has
 * every library it needs.
 */
final class GuestInitramfsWriter {
    /** What went in: the modules in load order, and whether the guest agent did (or why not). */
    record Written(List<Path> modules, boolean agent, String agentNote) {
    }

    private GuestInitramfsWriter() {
    }

    static Written write(Path initrd, byte[] init, GuestPackages.Extracted p, Path mke2fs, Path e2fsck)
            throws IOException, OperatorException {
        String kernelVersion = p.kernelVersion();
        boolean agentDownloaded = p.agentDownloaded();
        Initramfs initramfs = new Initramfs();
        initramfs.file("init", init, 0755);
        initramfs.file("bin/busybox", Files.readAllBytes(p.root().resolve("bin/busybox")), 0755);
        List<Path> modules = GuestImageBuilder.moduleOrder(p.root().resolve("lib/modules").resolve(kernelVersion));
        StringBuilder list = new StringBuilder();
        for (Path m : modules) {
            String name = m.getFileName().toString().replaceFirst("\\.ko$", "");
            initramfs.file("lib/modules/" + name + ".ko", Files.readAllBytes(m), 0644);
            list.append(name).append('\n');
        }
        initramfs.file("etc/modules", list.toString().getBytes(StandardCharsets.UTF_8), 0644);
        initramfs.binary("sbin/mkfs.ext4", mke2fs, HostTools.libraries(mke2fs));
        initramfs.binary("sbin/e2fsck", e2fsck, HostTools.libraries(e2fsck));
        Path conf = Path.of("/etc/mke2fs.conf");
        if (Files.isRegularFile(conf)) {
            initramfs.file("etc/mke2fs.conf", Files.readAllBytes(conf), 0644);
        }
        boolean agent = false;
        String agentNote = "";
        Path qga = p.root().resolve("usr/sbin/qemu-ga");
        if (!agentDownloaded || !Files.isRegularFile(qga)) {
            agentNote = "apt-get download qemu-guest-agent failed";
        } else {
            List<String> missing = new ArrayList<>();
            List<Path> libs = HostTools.libraries(qga, missing);
            if (missing.isEmpty()) {
                initramfs.binary("usr/sbin/qemu-ga", qga, libs);
                agent = true;
            } else {
                agentNote = "qemu-ga needs libraries this host lacks: " + String.join(", ", missing);
            }
        }
        try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(initrd))) {
            initramfs.writeTo(out);
        }
        return new Written(modules, agent, agentNote);
    }
}
