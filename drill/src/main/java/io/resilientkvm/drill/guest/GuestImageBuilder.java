package io.resilientkvm.drill.guest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.OperatorException;
import java.io.IOException;
import java.io.InputStream;
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
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.stream.Stream;

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
    static final Duration APT_TIMEOUT = Duration.ofMinutes(10);
    static final Duration TOOL_TIMEOUT = Duration.ofMinutes(1);
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
        Path mke2fs = HostTools.hostTool("mke2fs");
        Path e2fsck = HostTools.hostTool("e2fsck");
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
        GuestPackages.Extracted pkgs = new GuestPackages(progress).fetch(work);
        String kernelPackage = pkgs.kernelPackage();
        String kernelVersion = pkgs.kernelVersion();
        Path debs = pkgs.debs();
        GuestInitramfsWriter.Written w = GuestInitramfsWriter.write(work.resolve("initrd.img"), init, pkgs, mke2fs, e2fsck);
        List<Path> modules = w.modules();
        boolean agent = w.agent();
        String agentNote = w.agentNote();
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
