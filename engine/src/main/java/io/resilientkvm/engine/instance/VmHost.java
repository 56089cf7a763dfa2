package io.resilientkvm.engine.instance;

import io.resilientkvm.engine.disk.DownloadLimits;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * What the host gives a VM, fixed per node rather than per instance: the addresses NAT port
 * forwards listen on, the tap interface, the VNC endpoint and the QEMU binary.
 *
 * @param ipv4             host IPv4 address of the NAT forwards ({@code hostfwd})
 * @param ipv6             host IPv6 address of the forwards, empty for none (QEMU 7.2's user
 *                         network cannot listen on IPv6; {@code PortTunnel} relays these ports)
 * @param tapInterface     host tap interface for {@code use-tap}
 * @param vncListen        {@code unix}, {@code none} or {@code ADDRESS:PORT}
 * @param vncPasswordFile  the VNC password, or the instance's {@code etc/vnc.passwd}
 * @param boot             a kernel QEMU boots directly (test and drill fixture), empty to boot the main disk
 * @param downloads        what {@code virtual-hard-drive-url} may do on this node (size cap, deadline, file: roots)
 */
public record VmHost(String ipv4, String ipv6, String tapInterface, String vncListen, Optional<Path> vncPasswordFile,
        String qemuBinary, AcceleratorChoice accelerator, Optional<Path> guestAgentSocket, Optional<DirectBoot> boot,
        DownloadLimits downloads) {
    public VmHost {
        Objects.requireNonNull(boot, "boot");
        Objects.requireNonNull(downloads, "downloads");
        Objects.requireNonNull(ipv4, "ipv4");
        Objects.requireNonNull(ipv6, "ipv6");
        Objects.requireNonNull(tapInterface, "tapInterface");
        Objects.requireNonNull(vncListen, "vncListen");
        Objects.requireNonNull(qemuBinary, "qemuBinary");
        Objects.requireNonNull(accelerator, "accelerator");
    }

    /** A host whose VMs boot from their main disk, with the default {@link DownloadLimits} (no file: URL, 1 TiB, 2 h). */
    public VmHost(String ipv4, String ipv6, String tapInterface, String vncListen, Optional<Path> vncPasswordFile,
            String qemuBinary, AcceleratorChoice accelerator, Optional<Path> guestAgentSocket) {
        this(ipv4, ipv6, tapInterface, vncListen, vncPasswordFile, qemuBinary, accelerator, guestAgentSocket, Optional.empty(),
                DownloadLimits.DEFAULT);
    }

    /** The same host, its VMs booting {@code directBoot}'s kernel. */
    public VmHost withBoot(DirectBoot directBoot) {
        return new VmHost(ipv4, ipv6, tapInterface, vncListen, vncPasswordFile, qemuBinary, accelerator, guestAgentSocket,
                Optional.of(directBoot), downloads);
    }

    /** This host with other download limits. */
    public VmHost withDownloads(DownloadLimits limits) {
        return new VmHost(ipv4, ipv6, tapInterface, vncListen, vncPasswordFile, qemuBinary, accelerator, guestAgentSocket,
                boot, limits);
    }

    /** Loopback everything, VNC on a unix socket, accelerator chosen at start: what a single machine needs. */
    public static VmHost loopback() {
        return new VmHost("127.0.0.1", "::1", "tap0", "unix", Optional.empty(), "qemu-system-x86_64", AcceleratorChoice.AUTO,
                Optional.empty());
    }
}
