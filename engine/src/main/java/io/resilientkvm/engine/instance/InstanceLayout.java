package io.resilientkvm.engine.instance;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * Where an instance keeps its files, under one directory:
 * <pre>
 * etc/            .data-disk-amount, .data-disk-ids, vnc.passwd
 * run/            qmp.sock (the supervisor's), qmp-backup.sock (the exporter's), vnc.sock, qga.sock, qemu.pid
 * log/            qemu.log
 * disks/          virtual.qcow2 (the main disk)
 * external/       legacy external disks: dataN/kvm_virtual_disk.FORMAT
 * srv/guest/      document root of the guest file server (authorized_key, data)
 * srv/backup/     the exporter's repository (main node)
 * </pre>
 */
public record InstanceLayout(Path root) {
    /** Unix socket paths longer than this do not fit in sockaddr_un. */
    public static final int MAX_SOCKET_PATH = 107;

    public InstanceLayout {
        root = Objects.requireNonNull(root, "root").toAbsolutePath().normalize();
    }

    public Path etc() {
        return root.resolve("etc");
    }

    public Path run() {
        return root.resolve("run");
    }

    public Path log() {
        return root.resolve("log");
    }

    public Path qmpSocket() {
        return run().resolve("qmp.sock");
    }

    /** A second QMP monitor for the exporter: QEMU serves one client per monitor socket. */
    public Path backupQmpSocket() {
        return run().resolve("qmp-backup.sock");
    }

    public Path vncSocket() {
        return run().resolve("vnc.sock");
    }

    public Path guestAgentSocket() {
        return run().resolve("qga.sock");
    }

    public Path pidFile() {
        return run().resolve("qemu.pid");
    }

    public Path qemuLog() {
        return log().resolve("qemu.log");
    }

    /** What the VM keeper (engine.watchdog.VmKeeper) of each QEMU writes: pauses, resumes, kills. */
    public Path vmKeeperLog() {
        return log().resolve("vm-keeper.log");
    }

    public Path mainDisk() {
        return root.resolve("disks").resolve("virtual.qcow2");
    }

    public Path vncPasswordFile() {
        return etc().resolve("vnc.passwd");
    }

    public Path guestDocumentRoot() {
        return root.resolve("srv").resolve("guest");
    }

    public Path backupRepository() {
        return root.resolve("srv").resolve("backup");
    }

    /** The directories to create before QEMU starts. */
    public List<Path> directories() {
        return List.of(etc(), run(), log(), mainDisk().getParent(), guestDocumentRoot(), backupRepository());
    }
}
