package io.resilientkvm.exporter.image;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The few {@code qemu-img} commands backups need: create targets (full, or backed by the
 * previous file through a relative name) and check images. Every call has a timeout.
 */
public final class QemuImg {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration TIMEOUT = Duration.ofMinutes(10);

    private QemuImg() {
    }

    /** The outcome of a finished qemu-img run. */
    public record Result(int exitCode, String output) {}

    /** Creates an empty qcow2 of exactly {@code virtualSize} bytes for a full backup. */
    public static void createFull(Path file, long virtualSize, long clusterSize) throws IOException {
        List<String> argv = new ArrayList<>(List.of("qemu-img", "create", "-q", "-f", "qcow2",
                "-o", "cluster_size=" + clusterSize, file.toString(), Long.toString(virtualSize)));
        require(run(argv), argv);
    }

    /**
     * Creates an empty qcow2 whose backing file is {@code backingName}, a name relative to
     * {@code file}'s folder (so the chain can move between hosts).
     */
    public static void createIncremental(Path file, String backingName, long virtualSize, long clusterSize)
            throws IOException {
        if (backingName.contains("/")) {
            throw new IllegalArgumentException("backing file name must be relative to the same folder: " + backingName);
        }
        List<String> argv = new ArrayList<>(List.of("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2",
                "-b", backingName, "-o", "cluster_size=" + clusterSize, file.toString(), Long.toString(virtualSize)));
        require(run(argv), argv);
    }

    /** {@code qemu-img info --output=json} of the image alone (not its backing chain). */
    public static JsonNode info(Path file) throws IOException {
        List<String> argv = List.of("qemu-img", "info", "-U", "--output=json", file.toString());
        return JSON.readTree(require(run(argv), argv).output());
    }

    /** {@code qemu-img check}: exit 0 clean, 2 corrupt, 3 leaked clusters only (harmless). */
    public static Result check(Path file) throws IOException {
        return run(List.of("qemu-img", "check", "-U", "-q", file.toString()));
    }

    private static Result require(Result r, List<String> argv) throws IOException {
        if (r.exitCode() != 0) {
            throw new IOException(String.join(" ", argv) + " failed (exit " + r.exitCode() + "): " + r.output().strip());
        }
        return r;
    }

    /** Runs a command, collecting stdout and stderr together, within {@link #TIMEOUT}. */
    static Result run(List<String> argv) throws IOException {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> drain(p.getInputStream()));
        try {
            if (!p.waitFor(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", argv) + " did not finish within " + TIMEOUT.toMinutes() + " min");
            }
            return new Result(p.exitValue(), out.get(10, TimeUnit.SECONDS));
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running " + argv.get(0), e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IOException("reading the output of " + String.join(" ", argv) + " failed", e);
        }
    }

    private static String drain(InputStream in) {
        try (in) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(output unreadable: " + e.getMessage() + ")";
        }
    }
}
