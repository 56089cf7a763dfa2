package io.resilientkvm.drill.guest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.OperatorException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;

/**
 * Builds the {@link GuestImage} from Debian packages, once per content: {@code apt-get download}
 * of the cloud kernel ({@code linux-image-cloud-amd64}'s versioned dependency, resolved with
 * {@code apt-cache}), {@code busybox-static} and {@code qemu-guest-agent}; {@code dpkg-deb -x}
 * extracts them without installing anything. e2fsprogs' {@code mke2fs} and {@code e2fsck} come
 * from the host (the e2fsprogs package, also needed by the checks), with the shared libraries
 * {@code ldd} lists and their loader. The result lives in {@code CACHE/<hash>/}, where the hash
 * covers the init script and the host's e2fsprogs binaries; delete the folder to rebuild (for a
 * newer kernel, after {@code apt-get update}).
 */
public final class GuestImageBuilder {
    /** Bump when the layout of the initramfs changes, so older caches are not reused. */
    static final int FORMAT = 1;
    static final String KERNEL_METAPACKAGE = "linux-image-cloud-amd64";
    /** The drivers the guest needs; their dependencies are found in the modules themselves. */
    static final List<String> MODULES = List.of("virtio_pci", "virtio_blk", "virtio_net", "virtio_console");
    private static final Duration APT_TIMEOUT = Duration.ofMinutes(10);
    private static final Duration TOOL_TIMEOUT = Duration.ofMinutes(1);
    private static final Duration LOCK_TIMEOUT = Duration.ofMinutes(15);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path cacheRoot;
    private final Consumer<String> progress;

    public GuestImageBuilder(Path cacheRoot, Consumer<String> progress) {
        this.cacheRoot = cacheRoot;
        this.progress = progress;
    }

    /** {@code $XDG_CACHE_HOME/resilient-kvm/guest}, else {@code ~/.cache/resilient-kvm/guest}. */
    public static Path defaultCacheRoot() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("resilient-kvm").resolve("guest");
    }

    /** The cached guest, built first when this content has no cache yet. */
    public GuestImage obtain() throws OperatorException {
        byte[] init = resource("init");
        Path mke2fs = hostTool("mke2fs");
        Path e2fsck = hostTool("e2fsck");
        String key;
        try {
            key = sha256Hex(List.of(("format " + FORMAT).getBytes(StandardCharsets.UTF_8), init, Files.readAllBytes(mke2fs),
                    Files.readAllBytes(e2fsck))).substring(0, 16);
        } catch (IOException e) {
            throw new OperationFailedException("cannot read " + mke2fs + " or " + e2fsck + ": " + e.getMessage(), e);
        }
        Path dir = cacheRoot.resolve(key);
        if (Files.isRegularFile(dir.resolve("guest.json"))) {
            return read(dir);
        }
        try {
            Files.createDirectories(cacheRoot);
            try (FileChannel ch = FileChannel.open(cacheRoot.resolve(".build.lock"), StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE); FileLock lock = lock(ch)) {
                if (Files.isRegularFile(dir.resolve("guest.json"))) {
                    return read(dir); // another process built it meanwhile
                }
                Path work = cacheRoot.resolve(key + ".partial");
                deleteTree(work);
                Files.createDirectories(work);
                progress.accept("building the tiny guest (first use) in " + dir);
                build(work, init, mke2fs, e2fsck);
                deleteTree(work.resolve("packages"));
                Files.move(work, dir, StandardCopyOption.ATOMIC_MOVE);
                return read(dir);
            }
        } catch (IOException e) {
            throw new OperationFailedException("cannot build the tiny guest in " + dir + ": " + e.getMessage(), e);
        }
    }

    private FileLock lock(FileChannel ch) throws IOException, OperationFailedException {
        long deadline = System.nanoTime() + LOCK_TIMEOUT.toNanos();
        while (true) {
            FileLock l = ch.tryLock();
            if (l != null) {
                return l;
            }
            if (System.nanoTime() > deadline) {
                throw new OperationFailedException("another process has been building the tiny guest in " + cacheRoot
                        + " for " + LOCK_TIMEOUT.toMinutes() + " min; stop it or remove " + cacheRoot.resolve(".build.lock"));
            }
            try {
                Thread.sleep(200); // another JVM holds the lock; polled up to the deadline
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new OperationFailedException("interrupted while waiting for the tiny guest's build lock", e);
            }
        }
    }

    private void build(Path work, byte[] init, Path mke2fs, Path e2fsck) throws IOException, OperatorException {
        for (String tool : List.of("apt-get", "apt-cache", "dpkg-deb", "ldd")) {
            if (onPath(tool).isEmpty()) {
                throw new OperationFailedException("the tiny guest is built from Debian packages with apt-get download and"
                        + " dpkg-deb, but " + tool + " is not on PATH: run the drill's guest workload on Debian or Ubuntu"
                        + " (or use --workload qemu-io)");
            }
        }
        Path debs = Files.createDirectories(work.resolve("packages"));
        String kernelPackage = kernelPackage();
        download(debs, List.of(kernelPackage, "busybox-static"), true);
        boolean agentDownloaded = download(debs, List.of("qemu-guest-agent"), false);
        Path root = Files.createDirectories(work.resolve("packages").resolve("root"));
        try (Stream<Path> s = Files.list(debs)) {
            for (Path deb : s.filter(p -> p.toString().endsWith(".deb")).sorted().toList()) {
                Commands.check(List.of("dpkg-deb", "-x", deb.toString(), root.toString()), null, TOOL_TIMEOUT);
            }
        }
        Path vmlinuz;
        try (Stream<Path> s = Files.list(root.resolve("boot"))) {
            vmlinuz = s.filter(p -> p.getFileName().toString().startsWith("vmlinuz-")).findFirst()
                    .orElseThrow(() -> new IOException("no boot/vmlinuz-* in " + kernelPackage));
        }
        String kernelVersion = vmlinuz.getFileName().toString().substring("vmlinuz-".length());
        Files.copy(vmlinuz, work.resolve("vmlinuz"));

        Initramfs initramfs = new Initramfs();
        initramfs.file("init", init, 0755);
        initramfs.file("bin/busybox", Files.readAllBytes(root.resolve("bin/busybox")), 0755);
        List<Path> modules = moduleOrder(root.resolve("lib/modules").resolve(kernelVersion));
        StringBuilder list = new StringBuilder();
        for (Path m : modules) {
            String name = m.getFileName().toString().replaceFirst("\\.ko$", "");
            initramfs.file("lib/modules/" + name + ".ko", Files.readAllBytes(m), 0644);
            list.append(name).append('\n');
        }
        initramfs.file("etc/modules", list.toString().getBytes(StandardCharsets.UTF_8), 0644);
        initramfs.binary("sbin/mkfs.ext4", mke2fs, libraries(mke2fs));
        initramfs.binary("sbin/e2fsck", e2fsck, libraries(e2fsck));
        Path conf = Path.of("/etc/mke2fs.conf");
        if (Files.isRegularFile(conf)) {
            initramfs.file("etc/mke2fs.conf", Files.readAllBytes(conf), 0644);
        }
        boolean agent = false;
        String agentNote = "";
        Path qga = root.resolve("usr/sbin/qemu-ga");
        if (!agentDownloaded || !Files.isRegularFile(qga)) {
            agentNote = "apt-get download qemu-guest-agent failed";
        } else {
            List<String> missing = new ArrayList<>();
            List<Path> libs = libraries(qga, missing);
            if (missing.isEmpty()) {
                initramfs.binary("usr/sbin/qemu-ga", qga, libs);
                agent = true;
            } else {
                agentNote = "qemu-ga needs libraries this host lacks: " + String.join(", ", missing);
            }
        }
        try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(work.resolve("initrd.img")))) {
            initramfs.writeTo(out);
        }
        ObjectNode meta = JSON.createObjectNode();
        meta.put("format", FORMAT).put("kernel-package", kernelPackage).put("kernel-version", kernelVersion)
                .put("qemu-guest-agent", agent).put("qemu-guest-agent-note", agentNote);
        try (Stream<Path> s = Files.list(debs)) {
            meta.putArray("packages").addAll(s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".deb")).sorted()
                    .map(JSON.getNodeFactory()::textNode).toList());
        }
        meta.putArray("modules").addAll(modules.stream().map(p -> JSON.getNodeFactory().textNode(p.getFileName().toString()))
                .toList());
        Files.writeString(work.resolve("guest.json"), meta.toPrettyString() + "\n");
        progress.accept("tiny guest built: " + kernelPackage + ", " + modules.size() + " modules, guest agent "
                + (agent ? "included" : "left out (" + agentNote + ")"));
    }

    /** The versioned kernel package behind the metapackage, e.g. linux-image-6.1.0-57-cloud-amd64. */
    private String kernelPackage() throws OperationFailedException {
        List<String> cmd = List.of("apt-cache", "depends", KERNEL_METAPACKAGE);
        progress.accept("running: " + String.join(" ", cmd));
        Commands.Result r = Commands.run(cmd, null, APT_TIMEOUT);
        Matcher m = Pattern.compile("Depends:\\s+(linux-image-\\S+)").matcher(r.output());
        if (!r.ok() || !m.find()) {
            throw new OperationFailedException("apt-cache does not know " + KERNEL_METAPACKAGE + " (" + r.output()
                    + "): run `apt-get update` as root once, then try again");
        }
        return m.group(1);
    }

    private boolean download(Path dir, List<String> packages, boolean required) throws OperationFailedException {
        List<String> cmd = new ArrayList<>(List.of("apt-get", "download"));
        cmd.addAll(packages);
        progress.accept("running: " + String.join(" ", cmd) + " (in " + dir + ")");
        Commands.Result r = Commands.run(cmd, dir, APT_TIMEOUT);
        if (r.ok()) {
            return true;
        }
        if (required) {
            throw new OperationFailedException(String.join(" ", cmd) + " failed (exit " + r.exit() + "): " + r.output()
                    + "; the package lists may be missing or stale: run `apt-get update` as root once, then try again");
        }
        progress.accept("warning: " + String.join(" ", cmd) + " failed: " + r.output());
        return false;
    }

    /** The modules to load, each after the modules it depends on (their .modinfo {@code depends=}). */
    static List<Path> moduleOrder(Path moduleDir) throws IOException {
        Map<String, Path> byName = new LinkedHashMap<>();
        try (Stream<Path> s = Files.walk(moduleDir)) {
            for (Path p : s.filter(p -> p.toString().endsWith(".ko")).sorted().toList()) {
                byName.put(p.getFileName().toString().replaceFirst("\\.ko$", "").replace('-', '_'), p);
            }
        }
        Set<String> ordered = new LinkedHashSet<>();
        for (String m : MODULES) {
            visit(m, byName, ordered, new LinkedHashSet<>(), moduleDir);
        }
        return ordered.stream().map(byName::get).toList();
    }

    private static void visit(String name, Map<String, Path> byName, Set<String> ordered, Set<String> path, Path dir)
            throws IOException {
        if (ordered.contains(name)) {
            return;
        }
        Path file = byName.get(name);
        if (file == null) {
            throw new IOException("the kernel has no module " + name + " under " + dir
                    + " (is it built in, or a compressed .ko.xz this builder does not read?)");
        }
        if (!path.add(name)) {
            throw new IOException("module dependency cycle through " + name);
        }
        for (String dep : depends(Files.readAllBytes(file))) {
            visit(dep, byName, ordered, path, dir);
        }
        ordered.add(name);
    }

    /** The {@code depends=} entry of a module's .modinfo section: NUL-separated key=value strings. */
    static List<String> depends(byte[] ko) {
        byte[] key = "depends=".getBytes(StandardCharsets.US_ASCII);
        outer:
        for (int i = 0; i + key.length <= ko.length; i++) {
            if (i > 0 && ko[i - 1] != 0) {
                continue;
            }
            for (int k = 0; k < key.length; k++) {
                if (ko[i + k] != key[k]) {
                    continue outer;
                }
            }
            int end = i + key.length;
            while (end < ko.length && ko[end] != 0) {
                end++;
            }
            String v = new String(ko, i + key.length, end - i - key.length, StandardCharsets.US_ASCII);
            return v.isEmpty() ? List.of() : List.of(v.replace('-', '_').split(","));
        }
        return List.of();
    }

    private static List<Path> libraries(Path binary) throws OperationFailedException, IOException {
        List<String> missing = new ArrayList<>();
        List<Path> libs = libraries(binary, missing);
        if (!missing.isEmpty()) {
            throw new OperationFailedException(binary + " needs libraries this host lacks: " + String.join(", ", missing));
        }
        return libs;
    }

    /** The shared libraries {@code ldd} resolves for {@code binary}, the loader included. */
    static List<Path> libraries(Path binary, List<String> missing) throws OperationFailedException {
        Commands.Result r = Commands.run(List.of("ldd", binary.toString()), null, TOOL_TIMEOUT);
        List<Path> libs = new ArrayList<>();
        for (String line : r.output().split("\n")) {
            String l = line.strip();
            if (l.contains("not found")) {
                missing.add(l.split("\\s+")[0]);
                continue;
            }
            Matcher m = Pattern.compile("(?:=>\\s+)?(/\\S+)\\s+\\(0x").matcher(l);
            if (m.find()) {
                libs.add(Path.of(m.group(1)));
            }
        }
        if (!r.ok() && missing.isEmpty()) {
            throw new OperationFailedException("ldd " + binary + " failed (exit " + r.exit() + "): " + r.output());
        }
        return libs;
    }

    private static Path hostTool(String name) throws OperationFailedException {
        for (Path dir : List.of(Path.of("/sbin"), Path.of("/usr/sbin"))) {
            if (Files.isExecutable(dir.resolve(name))) {
                return dir.resolve(name);
            }
        }
        return onPath(name).orElseThrow(() -> new OperationFailedException("the tiny guest needs " + name + " from"
                + " e2fsprogs on this host: apt-get install -y e2fsprogs"));
    }

    private static Optional<Path> onPath(String tool) {
        String path = System.getenv().getOrDefault("PATH", "/usr/bin:/bin");
        for (String d : (path + ":/usr/sbin:/sbin").split(":")) {
            if (!d.isEmpty() && Files.isExecutable(Path.of(d, tool))) {
                return Optional.of(Path.of(d, tool));
            }
        }
        return Optional.empty();
    }

    private static GuestImage read(Path dir) throws OperationFailedException {
        try {
            JsonNode meta = JSON.readTree(dir.resolve("guest.json").toFile());
            return new GuestImage(dir, dir.resolve("vmlinuz"), dir.resolve("initrd.img"), meta.path("kernel-package").asText(),
                    meta.path("qemu-guest-agent").asBoolean(), meta.path("qemu-guest-agent-note").asText());
        } catch (IOException e) {
            throw new OperationFailedException("cannot read the tiny guest's " + dir.resolve("guest.json") + ": " + e.getMessage()
                    + "; remove " + dir + " to rebuild it", e);
        }
    }

    static byte[] resource(String name) throws OperationFailedException {
        try (InputStream in = GuestImageBuilder.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new OperationFailedException("the drill's jar lacks io/resilientkvm/drill/guest/" + name);
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new OperationFailedException("cannot read the guest's " + name + ": " + e.getMessage(), e);
        }
    }

    private static String sha256Hex(List<byte[]> parts) {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            for (byte[] p : parts) {
                d.update(Integer.toString(p.length).getBytes(StandardCharsets.US_ASCII));
                d.update(p);
            }
            return HexFormat.of().formatHex(d.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path f : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(f);
            }
        }
    }
}
