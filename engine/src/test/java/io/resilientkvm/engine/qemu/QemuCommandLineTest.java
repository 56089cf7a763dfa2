package io.resilientkvm.engine.qemu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.resilientkvm.engine.instance.InstanceLayout;
import io.resilientkvm.engine.instance.VmHost;
import io.resilientkvm.engine.params.KvmParameters;
import io.resilientkvm.schemas.JsonDocuments;
import io.resilientkvm.schemas.ParameterValidator;
import io.resilientkvm.schemas.SchemaKind;
import io.resilientkvm.schemas.ValidationReport;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The QEMU argv, parameter by parameter. Pure: no QEMU runs here (see KvmInstanceQemuTest). */
class QemuCommandLineTest {
    private static final InstanceLayout LAYOUT = new InstanceLayout(Path.of("/srv/kvm1"));
    private static final ObjectMapper JSON = new ObjectMapper();

    static KvmParameters params(String json) throws Exception {
        ValidationReport r = ParameterValidator.of(SchemaKind.KVM_INSTANCE).validate(JsonDocuments.parseObject(json, "t"));
        assertTrue(r.valid(), r.violations().toString());
        return KvmParameters.fromEffective(r.effective());
    }

    static List<String> argv(String json) throws Exception {
        return argv(json, VmHost.loopback());
    }

    static List<String> argv(String json, VmHost host) throws Exception {
        KvmParameters p = params(json);
        return QemuCommandLine.build(new QemuCommandLine.Inputs("kvm1", p, host, LAYOUT,
                DiskPlan.of(p, LAYOUT, f -> "raw"), Accelerator.TCG, "max", LAYOUT.vncPasswordFile()));
    }

    /** Values of every occurrence of {@code option}. */
    static List<String> values(List<String> argv, String option) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < argv.size() - 1; i++) {
            if (argv.get(i).equals(option)) {
                out.add(argv.get(i + 1));
            }
        }
        return out;
    }

    static String value(List<String> argv, String option) {
        List<String> v = values(argv, option);
        assertEquals(1, v.size(), option + " in " + argv);
        return v.get(0);
    }

    @Test
    void memoryAndCpusFollowRamSizeCpuCountAndCpuOptions() throws Exception {
        List<String> a = argv("{\"ram-size\": 2048, \"cpu-count\": 4, \"cpu-options\": \"cores=2,threads=2,sockets=1,maxcpus=4\"}");
        assertEquals("qemu-system-x86_64", a.get(0));
        assertEquals("2048", value(a, "-m"));
        assertEquals("cpus=4,sockets=1,cores=2,threads=2,maxcpus=4", value(a, "-smp"));
        assertEquals("cpus=2", value(argv("{}"), "-smp"));
        assertEquals("4096", value(argv("{}"), "-m"));
    }

    @Test
    void numaNodesSplitTheRamAndKeepTheSeedsCpuLists() throws Exception {
        List<String> a = argv("{\"ram-size\": 1000, \"cpu-count\": 4, \"numa\": \"node,nodeid=0,cpus=0-1 node,nodeid=1,cpus=2,3\"}");
        assertEquals(List.of("memory-backend-ram,id=numa0,size=500M", "memory-backend-ram,id=numa1,size=500M"),
                values(a, "-object").subList(0, 2));
        assertEquals(List.of("node,nodeid=0,cpus=0-1,memdev=numa0", "node,nodeid=1,cpus=2,cpus=3,memdev=numa1"), values(a, "-numa"));
        assertTrue(values(argv("{}"), "-numa").isEmpty());
    }

    @Test
    void theMainDiskIsNodeVirtual1BehindDeviceVirtio0() throws Exception {
        List<String> a = argv("{}");
        JsonNode file = JSON.readTree(values(a, "-blockdev").get(0));
        JsonNode format = JSON.readTree(values(a, "-blockdev").get(1));
        assertEquals("/srv/kvm1/disks/virtual.qcow2", file.path("filename").asText());
        assertEquals("virtual1-file", file.path("node-name").asText());
        assertEquals("unmap", file.path("discard").asText());
        assertEquals("qcow2", format.path("driver").asText());
        assertEquals("virtual1", format.path("node-name").asText());
        assertTrue(values(a, "-device").contains("virtio-blk-pci,drive=virtual1,id=virtio0,write-cache=on,bootindex=0"), a.toString());
    }

    @Test
    void diskTypeChoosesTheBus() throws Exception {
        assertTrue(values(argv("{\"disk-type\": \"ide\"}"), "-device").contains("ide-hd,drive=virtual1,id=ide0,write-cache=on,bootindex=0"));
        List<String> scsi = values(argv("{\"disk-type\": \"scsi\"}"), "-device");
        assertTrue(scsi.contains("virtio-scsi-pci,id=scsi"), scsi.toString());
        assertTrue(scsi.contains("scsi-hd,drive=virtual1,id=scsi0,bus=scsi.0,write-cache=on,bootindex=0"), scsi.toString());
    }

    @Test
    void natForwardsEachRuleFrom10000PlusPortOnTheConfiguredAddress() throws Exception {
        VmHost host = new VmHost("192.0.2.10", "", "tap9", "unix", Optional.empty(), "qemu-system-x86_64",
                io.resilientkvm.engine.instance.AcceleratorChoice.TCG, Optional.empty());
        List<String> a = argv("{\"nat-rules\": \"22 8080\", \"use-tap\": false}", host);
        assertEquals("user,id=nat0,net=10.0.2.0/24,hostfwd=tcp:192.0.2.10:10022-:22,hostfwd=tcp:192.0.2.10:18080-:8080",
                value(a, "-netdev"));
        assertTrue(values(a, "-device").stream().anyMatch(d -> d.startsWith("virtio-net-pci,netdev=nat0,id=nic0,mac=52:54:00:")));
        assertEquals(List.of(10022, 18080), QemuCommandLine.natHostPorts(params("{\"nat-rules\": [22, 8080]}")));
        assertTrue(values(argv("{\"use-nat\": false, \"use-tap\": false}"), "-netdev").isEmpty());
    }

    @Test
    void theGuestFileServerIsReachedAt10_0_2_100ThroughARelayToHttpdPort() throws Exception {
        String net = value(argv("{\"enable-http-server\": true, \"httpd-port\": 8099, \"nat-rules\": [], \"use-tap\": false}"), "-netdev");
        assertEquals("user,id=nat0,net=10.0.2.0/24,guestfwd=tcp:10.0.2.100:80-cmd:bash -c 'exec 3<>/dev/tcp/127.0.0.1/8099;"
                + " cat <&3 & cat >&3; wait'", net);
    }

    @Test
    void natRestrictModeIsolatesTheUserNetworkButKeepsItsForwards() throws Exception {
        String net = value(argv("{\"nat-restrict-mode\": true, \"nat-rules\": [80], \"enable-http-server\": true,"
                + " \"httpd-port\": 8099, \"use-tap\": false}"), "-netdev");
        assertTrue(net.startsWith("user,id=nat0,net=10.0.2.0/24,restrict=on,hostfwd=tcp:127.0.0.1:10080-:80,guestfwd=tcp:10.0.2.100:80-"),
                net);
        assertFalse(value(argv("{\"use-tap\": false}"), "-netdev").contains("restrict"));
    }

    @Test
    void aDirectBootHostLoadsItsKernelAndLogsTheSerialConsole() throws Exception {
        VmHost host = VmHost.loopback().withBoot(new io.resilientkvm.engine.instance.DirectBoot(java.nio.file.Path.of("/k/vmlinuz"),
                java.nio.file.Path.of("/k/initrd.img"), "console=ttyS0 rkvm.rate=10"));
        List<String> a = argv("{\"use-tap\": false}", host);
        assertEquals("/k/vmlinuz", value(a, "-kernel"));
        assertEquals("/k/initrd.img", value(a, "-initrd"));
        assertEquals("console=ttyS0 rkvm.rate=10", value(a, "-append"));
        assertEquals("chardev:console0", value(a, "-serial"));
        assertTrue(values(a, "-chardev").contains("file,id=console0,path=/srv/kvm1/log/console.log"), values(a, "-chardev").toString());
        assertTrue(values(a, "-device").stream().noneMatch(d -> d.contains("bootindex")), values(a, "-device").toString());
        assertTrue(values(argv("{}"), "-kernel").isEmpty());
    }

    @Test
    void tapUsesTheHostInterfaceAndVhostWhenEnabled() throws Exception {
        List<String> a = argv("{\"use-nat\": false, \"enable-vhost\": true}");
        assertEquals("tap,id=tap0,ifname=tap0,script=no,downscript=no,vhost=on", value(a, "-netdev"));
        assertTrue(values(a, "-device").stream().anyMatch(d -> d.startsWith("virtio-net-pci,netdev=tap0,id=nic1,mac=")));
        assertEquals("tap,id=tap0,ifname=tap0,script=no,downscript=no", value(argv("{\"use-nat\": false}"), "-netdev"));
    }

    @Test
    void macAddressesAreStablePerInstanceAndNic() {
        assertEquals(QemuCommandLine.mac("a", 0), QemuCommandLine.mac("a", 0));
        assertFalse(QemuCommandLine.mac("a", 0).equals(QemuCommandLine.mac("a", 1)));
        assertFalse(QemuCommandLine.mac("a", 0).equals(QemuCommandLine.mac("b", 0)));
    }

    @Test
    void aCommaInTheVncPasswordPathIsEscapedAndQemuReadsTheWholePath(@org.junit.jupiter.api.io.TempDir Path tmp)
            throws Exception {
        // Unescaped, ",id=other,file=/etc/shadow" would be options of their own.
        Path hostile = tmp.resolve("vnc,id=other,file=x.passwd");
        VmHost host = new VmHost("127.0.0.1", "", "tap0", "unix", Optional.of(hostile), "qemu-system-x86_64",
                io.resilientkvm.engine.instance.AcceleratorChoice.TCG, Optional.empty());
        KvmParameters p = params("{}");
        List<String> a = QemuCommandLine.build(new QemuCommandLine.Inputs("kvm1", p, host, LAYOUT,
                DiskPlan.of(p, LAYOUT, f -> "raw"), Accelerator.TCG, "max", hostile));
        String secret = "secret,id=vncpass,format=raw,file=" + tmp + "/vnc,,id=other,,file=x.passwd";
        assertTrue(values(a, "-object").contains(secret), values(a, "-object").toString());
        // Real QEMU parses it as one file name: it tries to read exactly that (missing) file.
        Process q = new ProcessBuilder("qemu-system-x86_64", "-machine", "none", "-nodefaults", "-display", "none", "-S",
                "-object", secret).redirectErrorStream(true).start();
        String out = new String(q.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(q.waitFor(30, java.util.concurrent.TimeUnit.SECONDS));
        assertEquals(1, q.exitValue(), out);
        assertTrue(out.contains("Unable to read " + hostile), out);
        assertEquals("a,,b", QemuCommandLine.optionValue("a,b"));
        assertEquals("plain", QemuCommandLine.optionValue("plain"));
    }

    @Test
    void vncIsOnAUnixSocketOrLoopbackWithAPasswordSecretAndTheKeyboardLayout() throws Exception {
        List<String> a = argv("{\"keyboard-layout-language\": \"de-ch\"}");
        assertEquals("unix:/srv/kvm1/run/vnc.sock,password-secret=vncpass", value(a, "-vnc"));
        assertTrue(values(a, "-object").contains("secret,id=vncpass,format=raw,file=/srv/kvm1/etc/vnc.passwd"));
        assertEquals("de-ch", value(a, "-k"));
        VmHost loop = new VmHost("127.0.0.1", "", "tap0", "127.0.0.1:5905", Optional.empty(), "qemu-system-x86_64",
                io.resilientkvm.engine.instance.AcceleratorChoice.TCG, Optional.empty());
        assertEquals("127.0.0.1:5,password-secret=vncpass", value(argv("{}", loop), "-vnc"));
        VmHost none = new VmHost("127.0.0.1", "", "tap0", "none", Optional.empty(), "qemu-system-x86_64",
                io.resilientkvm.engine.instance.AcceleratorChoice.TCG, Optional.empty());
        assertTrue(values(argv("{}", none), "-vnc").isEmpty());
        assertTrue(values(argv("{}", none), "-k").isEmpty());
    }

    @Test
    void nbdDrivesBootFirstAsCdroms() throws Exception {
        List<String> a = argv("{\"nbd-host\": \"nbd.example.org\", \"nbd2-host\": \"10.0.0.2\", \"nbd2-port\": 2000}");
        List<String> blockdevs = values(a, "-blockdev");
        JsonNode nbd = JSON.readTree(blockdevs.get(2));
        assertEquals("nbd", nbd.path("driver").asText());
        assertEquals("nbd.example.org", nbd.at("/server/host").asText());
        assertEquals("1024", nbd.at("/server/port").asText());
        assertEquals("2000", JSON.readTree(blockdevs.get(3)).at("/server/port").asText());
        List<String> devices = values(a, "-device");
        assertTrue(devices.contains("ide-cd,drive=nbd1,id=cdrom1,bootindex=0"), devices.toString());
        assertTrue(devices.contains("ide-cd,drive=nbd2,id=cdrom2,bootindex=1"), devices.toString());
        assertTrue(devices.contains("virtio-blk-pci,drive=virtual1,id=virtio0,write-cache=on,bootindex=2"), devices.toString());
    }

    @Test
    void externalDisksComeInIndexOrderWithTheirOptions() throws Exception {
        List<String> a = argv("""
                {"external-disk": {
                   "second": {"path": "/data/b.qcow2", "index": 2, "format": "qcow2", "cache": "none"},
                   "first": {"path": "/data/a,odd.img", "index": 1, "read-only": true, "discard": false}}}""");
        List<String> blockdevs = values(a, "-blockdev");
        assertEquals(6, blockdevs.size());
        JsonNode firstFile = JSON.readTree(blockdevs.get(2));
        JsonNode firstFormat = JSON.readTree(blockdevs.get(3));
        assertEquals("/data/a,odd.img", firstFile.path("filename").asText(), "JSON keeps commas in paths safe");
        assertEquals("raw", firstFormat.path("driver").asText(), "an absent format is detected");
        assertTrue(firstFormat.path("read-only").asBoolean());
        assertEquals("ignore", firstFormat.path("discard").asText());
        JsonNode secondFile = JSON.readTree(blockdevs.get(4));
        assertTrue(secondFile.at("/cache/direct").asBoolean(), "cache=none bypasses the host page cache");
        List<String> devices = values(a, "-device");
        int first = devices.indexOf("virtio-blk-pci,drive=disk-first,id=disk-first,write-cache=on");
        int second = devices.indexOf("virtio-blk-pci,drive=disk-second,id=disk-second,write-cache=on");
        assertTrue(first > 0 && second > first, devices.toString());
    }

    @Test
    void legacyExternalDisksLiveInTheInstanceDirectory() throws Exception {
        List<String> a = argv("{\"external-disk-number\": 2, \"external-disk-format\": \"raw\"}");
        List<String> blockdevs = values(a, "-blockdev");
        assertEquals(6, blockdevs.size());
        assertEquals("/srv/kvm1/external/data1/kvm_virtual_disk.raw", JSON.readTree(blockdevs.get(2)).path("filename").asText());
        assertTrue(values(a, "-device").contains("virtio-blk-pci,drive=disk-data2,id=disk-data2,write-cache=on"));
    }

    @Test
    void qmpPidfileGuestAgentAndAcceleratorAreAlwaysThere() throws Exception {
        List<String> a = argv("{}");
        assertEquals(List.of("unix:/srv/kvm1/run/qmp.sock,server=on,wait=off", "unix:/srv/kvm1/run/qmp-backup.sock,server=on,wait=off"),
                values(a, "-qmp"));
        assertEquals("/srv/kvm1/run/qemu.pid", value(a, "-pidfile"));
        assertEquals("tcg", value(a, "-accel"));
        assertEquals("max", value(a, "-cpu"));
        assertTrue(a.contains("-nodefaults"));
        assertTrue(values(a, "-chardev").contains("socket,id=qga0,path=/srv/kvm1/run/qga.sock,server=on,wait=off"));
    }
}
