package io.resilientkvm.engine.qemu;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resilientkvm.engine.instance.InstanceLayout;
import io.resilientkvm.engine.instance.VmHost;
import io.resilientkvm.engine.params.KvmParameters;
import io.resilientkvm.engine.params.NbdDrive;
import io.resilientkvm.engine.params.NumaNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.UUID;

/**
 * The QEMU argv of an instance: a pure function of its parameters, its host and its directories,
 * so that {@code bin/kvm cmdline} shows exactly what {@code bin/kvm run} starts.
 *
 * <p>Disks are attached with {@code -blockdev} (JSON, so paths with commas are safe) and a
 * {@code -device} with a stable id; the guest file server is reached through a {@code guestfwd}
 * relay; VNC takes its password from a secret file, never from the command line.
 */
public final class QemuCommandLine {
    /** Guest address of the file server, as in the seed system. */
    public static final String GUEST_FILE_SERVER = "10.0.2.100";
    /** NAT host port = this + guest port. */
    public static final int NAT_PORT_OFFSET = 10000;
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * @param instance     the instance name ({@code -name}, and the seed of stable MAC addresses)
     * @param cpuModel     {@code -cpu}, see {@link CpuModelProbe}
     * @param vncPassword  the file holding the VNC password
     */
    public record Inputs(String instance, KvmParameters params, VmHost host, InstanceLayout layout, List<DiskAttachment> disks,
            Accelerator accelerator, String cpuModel, Path vncPassword) {
        public Inputs {
            Objects.requireNonNull(instance, "instance");
            Objects.requireNonNull(params, "params");
            Objects.requireNonNull(host, "host");
            Objects.requireNonNull(layout, "layout");
            disks = List.copyOf(disks);
            Objects.requireNonNull(accelerator, "accelerator");
            Objects.requireNonNull(cpuModel, "cpuModel");
            Objects.requireNonNull(vncPassword, "vncPassword");
        }
    }

    private QemuCommandLine() {
    }

    public static List<String> build(Inputs in) {
        KvmParameters p = in.params();
        InstanceLayout layout = in.layout();
        List<String> a = new ArrayList<>();
        a.add(in.host().qemuBinary());
        a.addAll(List.of("-name", in.instance() + ",debug-threads=on"));
        a.addAll(List.of("-nodefaults", "-no-user-config", "-display", "none", "-msg", "timestamp=on"));
        a.addAll(List.of("-machine", "pc", "-accel", in.accelerator().qemuName(), "-cpu", in.cpuModel()));
        a.addAll(List.of("-m", Integer.toString(p.ramSizeMiB())));
        a.addAll(List.of("-smp", p.cpuTopology().smp(p.cpuCount())));
        numa(a, p);
        a.addAll(List.of("-qmp", "unix:" + layout.qmpSocket() + ",server=on,wait=off"));
        a.addAll(List.of("-qmp", "unix:" + layout.backupQmpSocket() + ",server=on,wait=off"));
        a.addAll(List.of("-pidfile", layout.pidFile().toString()));
        guestAgent(a, in.host().guestAgentSocket().orElse(layout.guestAgentSocket()));
        in.host().boot().ifPresent(b -> {
            // Direct kernel boot (a test and drill fixture): the guest's serial console goes to log/console.log.
            a.addAll(List.of("-kernel", b.kernel().toString(), "-initrd", b.initrd().toString(), "-append", b.append()));
            a.addAll(List.of("-chardev", "file,id=console0,path=" + layout.log().resolve("console.log"), "-serial", "chardev:console0"));
        });
        // A direct kernel boot takes bootindex 0 itself (QEMU refuses a disk claiming it too).
        disks(a, in.disks(), in.host().boot().isEmpty());
        p.nbd().ifPresent(n -> cdrom(a, n, 1, 0));
        p.nbd2().ifPresent(n -> cdrom(a, n, 2, 1));
        if (p.useNat()) {
            a.addAll(List.of("-netdev", userNetwork(p, in.host())));
            a.addAll(List.of("-device", "virtio-net-pci,netdev=nat0,id=nic0,mac=" + mac(in.instance(), 0)));
        }
        if (p.useTap()) {
            a.addAll(List.of("-netdev", "tap,id=tap0,ifname=" + in.host().tapInterface() + ",script=no,downscript=no"
                    + (p.enableVhost() ? ",vhost=on" : "")));
            a.addAll(List.of("-device", "virtio-net-pci,netdev=tap0,id=nic1,mac=" + mac(in.instance(), 1)));
        }
        vnc(a, in, p);
        return List.copyOf(a);
    }

    private static void numa(List<String> a, KvmParameters p) {
        List<NumaNode> nodes = p.numa();
        if (nodes.isEmpty()) {
            return;
        }
        // QEMU 7.2 machines need memdev per node; the RAM is split evenly, the rest to the last node.
        int share = p.ramSizeMiB() / nodes.size();
        for (int i = 0; i < nodes.size(); i++) {
            int size = i == nodes.size() - 1 ? p.ramSizeMiB() - share * (nodes.size() - 1) : share;
            a.addAll(List.of("-object", "memory-backend-ram,id=numa" + i + ",size=" + size + "M"));
            StringBuilder n = new StringBuilder("node");
            NumaNode node = nodes.get(i);
            if (node.nodeId() >= 0) {
                n.append(",nodeid=").append(node.nodeId());
            }
            node.cpus().forEach(c -> n.append(",cpus=").append(c));
            n.append(",memdev=numa").append(i);
            a.addAll(List.of("-numa", n.toString()));
        }
    }

    private static void guestAgent(List<String> a, Path socket) {
        a.addAll(List.of("-chardev", "socket,id=qga0,path=" + socket + ",server=on,wait=off"));
        a.addAll(List.of("-device", "virtio-serial-pci,id=serial0"));
        a.addAll(List.of("-device", "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0"));
    }

    private static void disks(List<String> a, List<DiskAttachment> disks, boolean bootIndexes) {
        boolean scsi = disks.stream().anyMatch(d -> "scsi-hd".equals(d.qemuDevice()));
        if (scsi) {
            a.addAll(List.of("-device", "virtio-scsi-pci,id=scsi"));
        }
        for (DiskAttachment d : disks) {
            ObjectNode file = JSON.createObjectNode()
                    .put("driver", "file").put("filename", d.file().toString()).put("node-name", d.fileNodeName())
                    .put("discard", d.discard() ? "unmap" : "ignore");
            file.putObject("cache").put("direct", d.cacheDirect()).put("no-flush", d.cacheNoFlush());
            if (d.readOnly()) {
                file.put("read-only", true);
            }
            ObjectNode format = JSON.createObjectNode()
                    .put("driver", d.format()).put("file", d.fileNodeName()).put("node-name", d.nodeName())
                    .put("discard", d.discard() ? "unmap" : "ignore").put("read-only", d.readOnly());
            format.putObject("cache").put("direct", d.cacheDirect()).put("no-flush", d.cacheNoFlush());
            d.backing().ifPresent(chain -> pinBacking(a, d, chain, format));
            a.addAll(List.of("-blockdev", file.toString(), "-blockdev", format.toString()));
            StringBuilder dev = new StringBuilder(d.qemuDevice()).append(",drive=").append(d.nodeName()).append(",id=").append(d.deviceId());
            if ("scsi-hd".equals(d.qemuDevice())) {
                dev.append(",bus=scsi.0");
            }
            dev.append(",write-cache=").append(d.writeCache() ? "on" : "off");
            if (bootIndexes && d.bootIndex() >= 0) {
                dev.append(",bootindex=").append(d.bootIndex());
            }
            a.addAll(List.of("-device", dev.toString()));
        }
    }

    /**
     * Adds a read-only node for each backing file, the full first (a node must exist before one
     * names it as its backing), and points {@code top} at the nearest; {@code backing: null} ends the chain.
     */
    private static void pinBacking(List<String> a, DiskAttachment d, List<Path> nearestFirst, ObjectNode top) {
        String below = null;
        for (int n = nearestFirst.size(); n >= 1; n--) {
            String name = DiskAttachment.backingNodeName(d.nodeName(), n);
            ObjectNode file = JSON.createObjectNode().put("driver", "file")
                    .put("filename", nearestFirst.get(n - 1).toString()).put("node-name", name + "-file").put("read-only", true);
            ObjectNode format = JSON.createObjectNode().put("driver", "qcow2").put("file", name + "-file")
                    .put("node-name", name).put("read-only", true);
            if (below == null) {
                format.putNull("backing");
            } else {
                format.put("backing", below);
            }
            a.addAll(List.of("-blockdev", file.toString(), "-blockdev", format.toString()));
            below = name;
        }
        if (below == null) {
            top.putNull("backing");
        } else {
            top.put("backing", below);
        }
    }

    private static void cdrom(List<String> a, NbdDrive nbd, int n, int bootIndex) {
        ObjectNode node = JSON.createObjectNode().put("driver", "nbd").put("node-name", "nbd" + n).put("read-only", true);
        node.putObject("server").put("type", "inet").put("host", nbd.host()).put("port", Integer.toString(nbd.port()));
        a.addAll(List.of("-blockdev", node.toString()));
        a.addAll(List.of("-device", "ide-cd,drive=nbd" + n + ",id=cdrom" + n + ",bootindex=" + bootIndex));
    }

    static String userNetwork(KvmParameters p, VmHost host) {
        StringBuilder n = new StringBuilder("user,id=nat0,net=10.0.2.0/24");
        if (p.natRestrict()) {
            // nat-restrict-mode: only hostfwd and guestfwd reach the guest, and it reaches nothing else.
            n.append(",restrict=on");
        }
        for (int port : p.natRules()) {
            n.append(",hostfwd=tcp:").append(host.ipv4()).append(':').append(NAT_PORT_OFFSET + port).append("-:").append(port);
        }
        if (p.guestFiles().enabled()) {
            // guestfwd with a plain chardev carries one connection only; cmd: gets a relay per connection.
            n.append(",guestfwd=tcp:").append(GUEST_FILE_SERVER).append(":80-cmd:bash -c 'exec 3<>/dev/tcp/127.0.0.1/")
                    .append(p.guestFiles().httpdPort()).append("; cat <&3 & cat >&3; wait'");
        }
        return n.toString();
    }

    private static void vnc(List<String> a, Inputs in, KvmParameters p) {
        String listen = in.host().vncListen();
        if ("none".equals(listen)) {
            return;
        }
        a.addAll(List.of("-object", "secret,id=vncpass,format=raw,file=" + optionValue(in.vncPassword().toString())));
        String endpoint;
        if ("unix".equals(listen)) {
            endpoint = "unix:" + optionValue(in.layout().vncSocket().toString());
        } else {
            int colon = listen.lastIndexOf(':');
            int port = Integer.parseInt(listen.substring(colon + 1));
            if (port < 5900) {
                throw new IllegalArgumentException("vnc.listen port " + port + " is below 5900 (VNC displays start at 5900)");
            }
            endpoint = optionValue(listen.substring(0, colon)) + ":" + (port - 5900);
        }
        a.addAll(List.of("-vnc", endpoint + ",password-secret=vncpass"));
        a.addAll(List.of("-k", p.keyboardLayout()));
        a.addAll(List.of("-device", "VGA,id=video0", "-device", "qemu-xhci,id=usb0", "-device", "usb-tablet,id=tablet0,bus=usb0.0"));
    }

    /**
     * A value inside a QEMU option string ({@code key=value,key=value}): QEMU's option parser
     * reads a doubled comma as one literal comma, so a path with a comma can neither be cut
     * short nor add options of its own.
     */
    static String optionValue(String value) {
        return value.replace(",", ",,");
    }

    /** A locally administered MAC derived from the instance name, so the guest keeps its NIC names. */
    static String mac(String instance, int nic) {
        UUID u = UUID.nameUUIDFromBytes((instance + "/nic" + nic).getBytes(StandardCharsets.UTF_8));
        long bits = u.getLeastSignificantBits();
        return String.format("52:54:00:%02x:%02x:%02x", (bits >> 16) & 0xff, (bits >> 8) & 0xff, bits & 0xff);
    }

    /** The host ports NAT listens on for {@code p}, in order. */
    public static List<Integer> natHostPorts(KvmParameters p) {
        return p.useNat() ? p.natRules().stream().map(r -> NAT_PORT_OFFSET + r).toList() : List.of();
    }

}
