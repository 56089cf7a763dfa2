package io.resilientkvm.drill.guest;

import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.OperatorException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The tiny guest's Debian packages: {@code apt-get download} of the cloud kernel (the
 * metapackage's versioned dependency, resolved with {@code apt-cache}), {@code busybox-static}
 * and {@code qemu-guest-agent}, extracted with {@code dpkg-deb -x} without installing anything.
 */
final class GuestPackages {
    /** The extracted packages: their root, the .deb folder, the kernel and whether the agent came. */
    record Extracted(Path root, Path debs, String kernelPackage, String kernelVersion, boolean agentDownloaded) {
    }

    private final Consumer<String> progress;

    GuestPackages(Consumer<String> progress) {
        this.progress = progress;
    }

    /** Downloads and extracts into {@code work/packages}; copies the kernel to {@code work/vmlinuz}. */
    Extracted fetch(Path work) throws IOException, OperatorException {
        for (String tool : List.of("apt-get", "apt-cache", "dpkg-deb", "ldd")) {
            if (HostTools.onPath(tool).isEmpty()) {
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
                Commands.check(List.of("dpkg-deb", "-x", deb.toString(), root.toString()), null, GuestImageBuilder.TOOL_TIMEOUT);
            }
        }
        Path vmlinuz;
        try (Stream<Path> s = Files.list(root.resolve("boot"))) {
            vmlinuz = s.filter(p -> p.getFileName().toString().startsWith("vmlinuz-")).findFirst()
                    .orElseThrow(() -> new IOException("no boot/vmlinuz-* in " + kernelPackage));
        }
        String kernelVersion = vmlinuz.getFileName().toString().substring("vmlinuz-".length());
        Files.copy(vmlinuz, work.resolve("vmlinuz"));
        return new Extracted(root, debs, kernelPackage, kernelVersion, agentDownloaded);
    }

    /** The versioned kernel package behind the metapackage, e.g. linux-image-6.1.0-57-cloud-amd64. */
    private String kernelPackage() throws OperationFailedException {
        List<String> cmd = List.of("apt-cache", "depends", GuestImageBuilder.KERNEL_METAPACKAGE);
        progress.accept("running: " + String.join(" ", cmd));
        Commands.Result r = Commands.run(cmd, null, GuestImageBuilder.APT_TIMEOUT);
        Matcher m = Pattern.compile("Depends:\\s+(linux-image-\\S+)").matcher(r.output());
        if (!r.ok() || !m.find()) {
            throw new OperationFailedException("apt-cache does not know " + GuestImageBuilder.KERNEL_METAPACKAGE + " (" + r.output()
                    + "): run `apt-get update` as root once, then try again");
        }
        return m.group(1);
    }

    private boolean download(Path dir, List<String> packages, boolean required) throws OperationFailedException {
        List<String> cmd = new ArrayList<>(List.of("apt-get", "download"));
        cmd.addAll(packages);
        progress.accept("running: " + String.join(" ", cmd) + " (in " + dir + ")");
        Commands.Result r = Commands.run(cmd, dir, GuestImageBuilder.APT_TIMEOUT);
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
}
