package io.resilientkvm.engine.instance;

import io.resilientkvm.engine.backup.AtomicFiles;
import io.resilientkvm.engine.disk.DataDiskRegistry;
import io.resilientkvm.engine.disk.DiskProvisioner;
import io.resilientkvm.engine.disk.ExternalDisk;
import io.resilientkvm.engine.disk.ImageDownloader;
import io.resilientkvm.engine.disk.MainDisk;
import io.resilientkvm.engine.disk.QemuImg;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.secret.SecretFiles;
import io.resilientkvm.engine.guest.GuestFileServer;
import io.resilientkvm.engine.image.BackingChain;
import io.resilientkvm.engine.lifecycle.LifecycleState;
import io.resilientkvm.engine.net.PortTunnel;
import io.resilientkvm.engine.image.FormatProbe;
import io.resilientkvm.engine.image.UntrustedImageException;
import io.resilientkvm.engine.params.ExternalDiskParameter;
import io.resilientkvm.engine.params.KvmParameters;
import io.resilientkvm.engine.process.QemuLaunch;
import io.resilientkvm.engine.process.QemuProcess;
import io.resilientkvm.engine.process.QemuStartException;
import io.resilientkvm.engine.process.RestartPolicy;
import io.resilientkvm.engine.process.StopPolicy;
import io.resilientkvm.engine.process.VmSupervisor;
import io.resilientkvm.engine.qemu.Accelerator;
import io.resilientkvm.engine.qemu.CpuModelProbe;
import io.resilientkvm.engine.qemu.DiskAttachment;
import io.resilientkvm.engine.qemu.DiskPlan;
import io.resilientkvm.engine.qemu.QemuCommandLine;
import io.resilientkvm.engine.watchdog.WatchdogLease;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One KVM instance on this host: prepares what QEMU needs (directories, disks, the VNC password,
 * the guest files) and runs the VM under a {@link VmSupervisor}. Preparing never overwrites a disk
 * and refuses, touching nothing, when the external disks conflict with what was configured before.
 *
 * <p>The argv is built again at every (re)start of QEMU, so that each start pins the disks' backing
 * chains as they are then ({@link BackingChain}): after a restored chain was streamed into the disk,
 * a restart opens the standalone disk alone and never a chain file retention may have deleted.
 *
 * <p>It owns the supervised QEMU, the guest file server and the IPv6 relays. Lifecycle (a
 * {@link LifecycleState}): {@link #start} once; {@link #close()} is idempotent, takes no lock and
 * never waits for a start in progress (a fence must not), whatever such a start brings up is closed.
 */
public final class KvmInstance implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(KvmInstance.class);
    private static final Path DEV_KVM = Path.of("/dev/kvm");

    private final String name;
    private final InstanceLayout layout;
    private final List<String> argv;
    private final ArgvSource argvSource;
    private final Optional<GuestFileServer> guestFiles;
    private final List<Tunnel> ipv6Forwards;
    private final List<PortTunnel> tunnels = new CopyOnWriteArrayList<>();
    private final LifecycleState lifecycle;
    private volatile VmSupervisor supervisor;

    /** Builds the argv from the disks as they are now. */
    @FunctionalInterface
    private interface ArgvSource {
        List<String> argv() throws OperatorException;
    }

    /** One IPv6 listen address relayed to the IPv4 host forward QEMU listens on. */
    private record Tunnel(InetSocketAddress listen, InetSocketAddress target) {
    }

    private KvmInstance(String name, InstanceLayout layout, List<String> argv, ArgvSource argvSource,
            Optional<GuestFileServer> guestFiles, List<Tunnel> ipv6Forwards) {
        this.name = name;
        this.layout = layout;
        this.argv = List.copyOf(argv);
        this.argvSource = argvSource;
        this.guestFiles = guestFiles;
        this.ipv6Forwards = List.copyOf(ipv6Forwards);
        this.lifecycle = new LifecycleState("instance " + name);
    }

    /** The argv that {@link #prepare} would run, without creating or downloading anything. */
    public static List<String> commandLine(String name, KvmParameters p, VmHost host, InstanceLayout layout) throws OperatorException {
        checkSocketPaths(layout);
        return argv(name, p, host, layout, Accelerator.resolve(host.accelerator(), DEV_KVM));
    }

    /** The one place parameters, host and layout become an argv, for both {@link #commandLine} and {@link #prepare}. */
    private static List<String> argv(String name, KvmParameters p, VmHost host, InstanceLayout layout, Accelerator accelerator)
            throws OperatorException {
        Map<String, String> recorded = new DataDiskRegistry(layout.root()).formats();
        List<DiskAttachment> disks = pinChains(DiskPlan.of(p, layout, file -> formatOf(p, layout, recorded, file)), layout);
        return QemuCommandLine.build(new QemuCommandLine.Inputs(name, p, host, layout, disks, accelerator,
                CpuModelProbe.cpuModel(host.qemuBinary(), accelerator), vncPasswordFile(host, layout)));
    }

    /**
     * Reads the header of each qcow2 disk that exists and pins its backing chain, which may only
     * be its restored chain in the repository; a disk not created yet is left as it is.
     */
    private static List<DiskAttachment> pinChains(List<DiskAttachment> disks, InstanceLayout layout) throws OperatorException {
        List<DiskAttachment> out = new ArrayList<>();
        for (DiskAttachment d : disks) {
            if (!"qcow2".equals(d.format()) || !Files.exists(d.file(), LinkOption.NOFOLLOW_LINKS)) {
                out.add(d);
                continue;
            }
            try {
                List<Path> chain = BackingChain.under(d.file(), layout.backupRepository().resolve(d.deviceId()));
                if (!chain.isEmpty()) {
                    LOG.info("Disk {} reads from {} backup(s) of its restored chain, pinned as nodes: {}", d.deviceId(),
                            chain.size(), chain);
                }
                out.add(d.withBacking(chain));
            } catch (IOException e) {
                throw new OperationFailedException("cannot read the header of disk " + d.file() + ": " + e.getMessage()
                        + "; QEMU was not started", e);
            }
        }
        return out;
    }

    private static Path vncPasswordFile(VmHost host, InstanceLayout layout) {
        return host.vncPasswordFile().orElse(layout.vncPasswordFile());
    }

    /** Creates directories, disks, the VNC password and the guest files, then returns the instance ready to {@link #start}. */
    public static KvmInstance prepare(String name, KvmParameters p, VmHost host, InstanceLayout layout) throws OperatorException {
        checkSocketPaths(layout);
        Accelerator accelerator = Accelerator.resolve(host.accelerator(), DEV_KVM);
        provisionDisks(p, host, layout);
        try {
            for (Path d : layout.directories()) {
                Files.createDirectories(d);
            }
        } catch (IOException e) {
            throw new OperationFailedException("cannot create the instance directories under " + layout.root() + ": " + e.getMessage(), e);
        }
        if (!"none".equals(host.vncListen())) {
            ensureVncPassword(vncPasswordFile(host, layout));
        }
        Optional<GuestFileServer> server = Optional.empty();
        if (p.guestFiles().enabled()) {
            try {
                GuestFileServer.publish(layout.guestDocumentRoot(), p.guestFiles().authorizedKey().orElse(null),
                        p.guestFiles().data().orElse(null));
            } catch (IOException e) {
                throw new OperationFailedException("cannot write the guest files in " + layout.guestDocumentRoot() + ": " + e.getMessage(), e);
            }
            server = Optional.of(GuestFileServer.start(layout.guestDocumentRoot(), p.guestFiles().httpdPort()));
        }
        try {
            List<String> argv = argv(name, p, host, layout, accelerator);
            LOG.info("Instance {} prepared in {} ({})", name, layout.root(), accelerator);
            List<Tunnel> forwards = new ArrayList<>();
            if (!host.ipv6().isEmpty()) {
                for (int port : QemuCommandLine.natHostPorts(p)) {
                    forwards.add(new Tunnel(new InetSocketAddress(host.ipv6(), port), new InetSocketAddress(host.ipv4(), port)));
                }
            }
            return new KvmInstance(name, layout, argv, () -> argv(name, p, host, layout, accelerator), server, forwards);
        } catch (RuntimeException | Error e) {
            server.ifPresent(GuestFileServer::close); // a failed prepare leaves no listening socket
            throw e;
        }
    }

    private static void provisionDisks(KvmParameters p, VmHost host, InstanceLayout layout) throws OperatorException {
        MainDisk main = new MainDisk(layout.mainDisk(), (long) p.diskSizeGiB() << 30, "qcow2");
        ImageDownloader.Source image = p.image().map(i -> new ImageDownloader.Source(i.url(), i.md5().orElse(null), i.sha256().orElse(null), i.gzipped(),
                i.checkCertificate())).orElse(null);
        List<ExternalDisk> external = new ArrayList<>();
        for (ExternalDiskParameter d : p.externalDisks()) {
            external.add(new ExternalDisk(d.id(), d.name(), d.path(layout.root()), d.index(), d.format().orElse(null), d.cache()));
        }
        new DiskProvisioner(new QemuImg(), new ImageDownloader(host.downloads())).provision(new DiskProvisioner.Request(layout.root(), layout.root(),
                main, image, p.legacyExternalDisks(), external));
    }

    /**
     * The format fixed at first attach ({@code etc/.data-disk-formats}, written by provisioning),
     * never a probe of what the guest may have written since; before the first attach (a command
     * line shown without provisioning) the Java probe's answer, not recorded.
     */
    private static String formatOf(KvmParameters p, InstanceLayout layout, Map<String, String> recorded, Path file) {
        for (ExternalDiskParameter d : p.externalDisks()) {
            if (d.path(layout.root()).equals(file) && recorded.containsKey(d.id())) {
                return recorded.get(d.id());
            }
        }
        try {
            return FormatProbe.standaloneFormat(file, "external disk " + file);
        } catch (IOException | UntrustedImageException e) {
            throw new IllegalStateException("cannot tell the format of " + file + ": " + e.getMessage()
                    + "; set its format option in external-disk", e);
        }
    }

    private static void checkSocketPaths(InstanceLayout layout) throws BadInputException {
        for (Path s : List.of(layout.qmpSocket(), layout.backupQmpSocket(), layout.vncSocket(), layout.guestAgentSocket())) {
            if (s.toString().getBytes(StandardCharsets.UTF_8).length > InstanceLayout.MAX_SOCKET_PATH) {
                throw new BadInputException("data directory " + layout.root() + " is too deep: the socket " + s + " is longer than "
                        + InstanceLayout.MAX_SOCKET_PATH + " bytes, which unix sockets cannot hold; use a shorter data-dir");
            }
        }
    }

    private static void ensureVncPassword(Path file) throws OperatorException {
        if (Files.exists(file)) {
            // QEMU reads it as is: it must be private and not empty (an empty password is no password).
            SecretFiles.readSecret(file, "vnc.password-file");
            return;
        }
        // VNC authentication uses 8 characters at most.
        String alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        SecureRandom random = new SecureRandom();
        StringBuilder pw = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            pw.append(alphabet.charAt(random.nextInt(alphabet.length())));
        }
        try {
            AtomicFiles.writeAtomically(file, pw.toString().getBytes(StandardCharsets.UTF_8),
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            LOG.info("Generated the VNC password in {}", file);
        } catch (IOException e) {
            throw new OperationFailedException("cannot write the VNC password " + file + ": " + e.getMessage(), e);
        }
    }

    /** The argv as built by {@link #prepare}; each (re)start builds it again from the disks as they are then. */
    public List<String> argv() {
        return argv;
    }

    public InstanceLayout layout() {
        return layout;
    }

    /** Starts QEMU under supervision: restarted with backoff when it crashes, stopped with {@code quit} so bitmaps are saved. */
    public VmSupervisor start(RestartPolicy restartPolicy) throws OperatorException {
        return start(restartPolicy, Optional.empty());
    }

    /**
     * As {@link #start(RestartPolicy)}, each QEMU (restarts included) guarded by a VM keeper that
     * follows {@code lease}: a main's VM runs only while its agent proves it owns the epoch.
     */
    public VmSupervisor start(RestartPolicy restartPolicy, Optional<WatchdogLease> lease) throws OperatorException {
        lifecycle.markStarted();
        // A disk refused now is the caller's error (exit 3), before any QEMU runs; restarts rebuild the argv.
        AtomicReference<List<String>> first = new AtomicReference<>(
                argvSource.argv());
        VmSupervisor supervisor = new VmSupervisor(name, () -> {
            List<String> now = first.getAndSet(null);
            List<String> argv = now != null ? now : currentArgv();
            if (lease.isEmpty()) {
                return QemuProcess.start(launch(argv));
            }
            // Guarded: the guest's CPUs start only once the keeper watches QEMU, so a VM never runs unguarded.
            QemuProcess qemu = QemuProcess.start(launch(startPaused(argv)));
            lease.get().guard(qemu); // kills QEMU and throws when no keeper can guard it
            resume(qemu);
            return qemu;
        }, restartPolicy, StopPolicy.QUIT);
        this.supervisor = supervisor;
        for (Tunnel t : ipv6Forwards) {
            try {
                tunnels.add(PortTunnel.start(t.listen(), t.target()));
            } catch (OperationFailedException e) {
                // The VM stays reachable on IPv4; an operator who needs IPv6 sees why it is missing.
                LOG.warn("IPv6 forward not available: {}", e.getMessage());
            }
        }
        if (lifecycle.isClosed()) { // close ran before this start published its parts: close them here
            throw closedWhileStarting();
        }
        try {
            // Closed from now on, the supervisor stops the QEMU it brings up itself.
            supervisor.start();
        } catch (io.resilientkvm.engine.process.QemuStartException e) {
            supervisor.close();
            throw new OperationFailedException("QEMU of instance " + name + " did not start: " + e.getMessage()
                    + " (log: " + layout.qemuLog() + ")", e);
        } catch (IllegalStateException e) {
            if (lifecycle.isClosed()) { // closed between the check above and the supervisor's start
                throw closedWhileStarting();
            }
            throw e;
        }
        return supervisor;
    }

    /** The argv with {@code -S}: QEMU starts with the guest's CPUs stopped until a QMP {@code cont}. */
    private static List<String> startPaused(List<String> argv) {
        List<String> paused = new ArrayList<>(argv.size() + 1);
        paused.add(argv.get(0));
        paused.add("-S");
        paused.addAll(argv.subList(1, argv.size()));
        return paused;
    }

    private static void resume(QemuProcess qemu) throws QemuStartException {
        try {
            qemu.qmp().execute("cont");
        } catch (io.resilientkvm.engine.qmp.QmpException e) {
            qemu.kill(java.time.Duration.ofSeconds(10));
            throw new QemuStartException("QEMU pid " + qemu.pid() + " did not resume its guest once guarded (" + e.getMessage()
                    + "); killed it", e);
        }
    }

    private QemuLaunch launch(List<String> argv) {
        return new QemuLaunch(argv, layout.qmpSocket(), layout.qemuLog(), Optional.of(layout.pidFile()),
                QemuLaunch.DEFAULT_START_TIMEOUT);
    }

    /** The argv for a restart; a disk refused now stops the restart, with the reason. */
    private List<String> currentArgv() throws QemuStartException {
        try {
            return argvSource.argv();
        } catch (OperatorException e) {
            throw new QemuStartException("QEMU of instance " + name + " not restarted: " + e.getMessage(), e);
        }
    }

    private OperationFailedException closedWhileStarting() {
        closeParts();
        return new OperationFailedException("instance " + name + " was closed while it started; QEMU was not started");
    }

    /** Stops the VM and what serves it; later calls do nothing. */
    @Override
    public void close() {
        if (lifecycle.markClosed()) {
            closeParts();
        }
    }

    /** Each part's close is idempotent, so a start that lost a race with close may call this too. */
    private void closeParts() {
        VmSupervisor s = supervisor;
        if (s != null) {
            s.close();
        }
        tunnels.forEach(PortTunnel::close);
        guestFiles.ifPresent(GuestFileServer::close);
    }

    @Override
    public String toString() {
        return "KvmInstance[" + name + " in " + layout.root() + "]";
    }
}
