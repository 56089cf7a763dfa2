package io.resilientkvm.engine.disk;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.image.TrustedChain;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.apache.commons.exec.CommandLine;
import org.apache.commons.exec.DefaultExecutor;
import org.apache.commons.exec.ExecuteWatchdog;
import org.apache.commons.exec.PumpStreamHandler;

/**
 * Runs the {@code qemu-img} binary. Every call has a timeout (a hung NFS mount must not hang the
 * engine), and every failure carries qemu-img's own stderr so the operator sees the real cause.
 */
public final class QemuImg {
    public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(5);

    private static final ObjectMapper JSON = new ObjectMapper();

    private final String executable;
    private final Duration timeout;

    /** {@code qemu-img} from the PATH, {@link #DEFAULT_TIMEOUT} per call. */
    public QemuImg() {
        this("qemu-img", DEFAULT_TIMEOUT);
    }

    public QemuImg(String executable, Duration timeout) {
        this.executable = Objects.requireNonNull(executable, "executable");
        this.timeout = Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout must be positive, got " + timeout);
        }
    }

    /** Creates a new image; refuses if {@code file} exists (qemu-img would overwrite it). */
    public void create(Path file, String format, long sizeBytes) throws BadInputException, RefusedException,
            OperationFailedException {
        create(file, format, sizeBytes, Map.of());
    }

    /**
     * Creates a new image with format options ({@code -o key=value,…}, e.g. {@code cluster_size});
     * refuses if {@code file} exists (qemu-img would overwrite it).
     */
    public void create(Path file, String format, long sizeBytes, Map<String, String> options)
            throws BadInputException, RefusedException, OperationFailedException {
        if (sizeBytes <= 0) {
            throw new BadInputException("disk size for " + file + " must be positive, got " + sizeBytes
                    + " bytes; fix the size parameter");
        }
        refuseExisting(file, "create");
        List<String> args = new ArrayList<>(List.of("create", "-q", "-f", format));
        if (!options.isEmpty()) {
            args.add("-o");
            args.add(options(options));
        }
        args.add(file.toString());
        args.add(Long.toString(sizeBytes));
        run(args, file, 0);
    }

    /** Reads an image's metadata; {@code -U} so that an image in use by a running VM can be read. */
    public ImageInfo info(Path file) throws OperationFailedException {
        Result result = run(List.of("info", "--output=json", "-U", file.toString()), file, 0);
        try {
            return parseInfo(JSON.readTree(result.stdout()));
        } catch (IOException | RuntimeException e) {
            throw new OperationFailedException("cannot parse 'qemu-img info' output for " + file + ": " + e.getMessage()
                    + "; output was: " + result.stdout(), e);
        }
    }

    /** Checks an image's consistency; a check that could not run (exit 1) throws. */
    public CheckResult check(Path file) throws OperationFailedException {
        return checkResult(run(List.of("check", "-U", file.toString()), file, 0, 2, 3, 63));
    }

    private static CheckResult checkResult(Result result) {
        String output = (result.stdout() + result.stderr()).strip();
        CheckResult.Status status = switch (result.exitCode()) {
            case 0 -> CheckResult.Status.OK;
            case 2 -> CheckResult.Status.CORRUPTED;
            case 3 -> CheckResult.Status.LEAKS;
            default -> CheckResult.Status.UNSUPPORTED;
        };
        return new CheckResult(status, output);
    }

    /**
     * Converts {@code source} to a new image {@code target}; refuses if {@code target} exists.
     *
     * @param sourceFormat the source format, always given: qemu-img's probe would follow whatever the
     *                     source's bytes name (a VMDK extent, a backing file)
     */
    public void convert(Path source, String sourceFormat, Path target, String targetFormat)
            throws RefusedException, OperationFailedException {
        Objects.requireNonNull(sourceFormat, "sourceFormat");
        refuseExisting(target, "convert to");
        List<String> args = new ArrayList<>(List.of("convert", "-f", sourceFormat));
        args.addAll(List.of("-O", targetFormat, source.toString(), target.toString()));
        run(args, target, 0);
    }

    /**
     * Creates a qcow2 overlay {@code file} backed by {@code backing} (recorded as given: pass an
     * absolute path so the overlay works from anywhere); refuses if {@code file} exists.
     * Only metadata is written, so this takes milliseconds whatever the backing's size.
     */
    public void createOverlay(Path file, Path backing, String backingFormat) throws RefusedException,
            OperationFailedException {
        refuseExisting(file, "create");
        run(List.of("create", "-q", "-f", "qcow2", "-F", backingFormat, "-b", backing.toString(), file.toString()), file, 0);
    }

    /**
     * Copies into {@code file} everything it reads from its backing chain and drops the backing
     * file ({@code qemu-img rebase -b ""}, safe mode): the image becomes standalone. Fails while
     * a running QEMU holds the image (its write lock), which is what keeps this safe.
     */
    public void flatten(Path file) throws OperationFailedException {
        run(List.of("rebase", "-q", "-f", "qcow2", "-b", "", file.toString()), file, 0);
    }

    /**
     * Chains up to this many files are given to qemu-img with every backing node pinned in one
     * {@code json:} spec. qemu's option handling grows faster than the chain (measured on 7.2:
     * 50 files 0.3 s, 200 files 7 s, 500 files over 2 min), so a longer chain is opened by its
     * newest file with {@code -f qcow2}, following the names {@link TrustedChain} checked.
     */
    public static final int PINNED_CHAIN_LIMIT = 32;

    /**
     * {@code qemu-img info} of one qcow2 file alone: format given, no backing file opened
     * ({@code "backing": null}), {@code -U} as {@link #info}. Check the header first
     * ({@link io.resilientkvm.engine.image.ImageInspector}): an external data file is still opened.
     */
    public ImageInfo infoAlone(Path file) throws OperationFailedException {
        Result result = run(List.of("info", "--output=json", "-U", alone(file)), file, 0);
        try {
            return parseInfo(JSON.readTree(result.stdout()));
        } catch (IOException | RuntimeException e) {
            throw new OperationFailedException("cannot parse 'qemu-img info' output for " + file + ": " + e.getMessage()
                    + "; output was: " + result.stdout(), e);
        }
    }

    /** {@code qemu-img check} of one qcow2 file alone, as {@link #infoAlone}; results as {@link #check}. */
    public CheckResult checkAlone(Path file) throws OperationFailedException {
        return checkResult(run(List.of("check", "-U", alone(file)), file, 0, 2, 3, 63));
    }

    /**
     * Converts the point {@code chain.top()} of a checked chain into a new standalone image
     * {@code target}; refuses if {@code target} exists. The chain's files are pinned as the
     * backing nodes (up to {@link #PINNED_CHAIN_LIMIT} files), so qemu-img reads those and nothing else.
     */
    public void convertChain(TrustedChain chain, Path target, String targetFormat) throws RefusedException,
            OperationFailedException {
        refuseExisting(target, "convert to");
        String source = chain.files().size() <= PINNED_CHAIN_LIMIT ? pinned(chain.files())
                : chain.top().toString();
        List<String> args = new ArrayList<>(List.of("convert"));
        if (chain.files().size() > PINNED_CHAIN_LIMIT) {
            args.addAll(List.of("-f", "qcow2"));
        }
        args.addAll(List.of("-O", targetFormat, source, target.toString()));
        run(args, target, 0);
    }

    /**
     * Creates a qcow2 overlay {@code file} on the point {@code chain.top()} (absolute name,
     * backing format qcow2) without opening the chain ({@code -u}, size given); refuses if
     * {@code file} exists.
     */
    public void createOverlay(Path file, TrustedChain chain) throws RefusedException, OperationFailedException {
        refuseExisting(file, "create");
        run(List.of("create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", chain.top().toString(), "-u", file.toString(),
                Long.toString(chain.virtualSize())), file, 0);
    }

    /** A {@code json:} spec opening {@code file} as qcow2 through the file driver, without its backing file. */
    static String alone(Path file) {
        return "json:" + node(file).putNull("backing");
    }

    /** A {@code json:} spec of the newest file with each older one pinned as its backing, the full with none. */
    static String pinned(List<Path> oldestFirst) {
        ObjectNode spec = null;
        for (Path f : oldestFirst) {
            ObjectNode n = node(f);
            if (spec == null) {
                n.putNull("backing");
            } else {
                n.set("backing", spec);
            }
            spec = n;
        }
        return "json:" + spec;
    }

    private static ObjectNode node(Path file) {
        ObjectNode n = JSON.createObjectNode().put("driver", "qcow2");
        // The file driver takes the name as a path: no protocol prefix or json: inside it is parsed.
        n.putObject("file").put("driver", "file").put("filename", file.toAbsolutePath().toString());
        return n;
    }

    static ImageInfo parseInfo(JsonNode root) {
        List<ImageInfo.Bitmap> bitmaps = new ArrayList<>();
        for (JsonNode bitmap : root.path("format-specific").path("data").path("bitmaps")) {
            List<String> flags = new ArrayList<>();
            bitmap.path("flags").forEach(flag -> flags.add(flag.asText()));
            bitmaps.add(new ImageInfo.Bitmap(bitmap.path("name").asText(), flags));
        }
        JsonNode backing = root.get("backing-filename");
        return new ImageInfo(
                root.path("format").asText(),
                root.path("virtual-size").asLong(),
                root.path("actual-size").asLong(-1),
                root.path("cluster-size").asLong(-1),
                backing == null || backing.isNull() ? null : backing.asText(),
                bitmaps);
    }

    private static String options(Map<String, String> options) throws BadInputException {
        List<String> parts = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        options.forEach((key, value) -> {
            if (key.isEmpty() || key.contains(",") || key.contains("=")) {
                problems.add("qemu-img option name '" + key + "' is invalid: it must be non-empty, without ',' or '='");
            }
            // qemu's option syntax escapes a comma in a value by doubling it.
            parts.add(key + "=" + value.replace(",", ",,"));
        });
        if (!problems.isEmpty()) {
            throw new BadInputException(problems);
        }
        return String.join(",", parts);
    }

    private static void refuseExisting(Path file, String action) throws RefusedException {
        if (Files.exists(file)) {
            throw new RefusedException("refusing to " + action + " " + file + ": the file already exists and qemu-img"
                    + " would overwrite it; move it away first if it really is not needed");
        }
    }

    private record Result(int exitCode, String stdout, String stderr) {}

    private Result run(List<String> args, Path subject, int... acceptedExitCodes) throws OperationFailedException {
        CommandLine command = new CommandLine(executable);
        args.forEach(arg -> command.addArgument(arg, false));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        ExecuteWatchdog watchdog = ExecuteWatchdog.builder().setTimeout(timeout).get();
        DefaultExecutor executor = DefaultExecutor.builder().setExecuteStreamHandler(new PumpStreamHandler(out, err)).get();
        executor.setWatchdog(watchdog);
        executor.setExitValues(null); // every exit code is interpreted below
        String what = "'" + executable + " " + String.join(" ", args) + "'";
        int exitCode;
        try {
            exitCode = executor.execute(command);
        } catch (IOException e) {
            throw new OperationFailedException("cannot run " + what + " for " + subject + ": " + e.getMessage()
                    + "; check that qemu-img (package qemu-utils) is installed and on the PATH", e);
        }
        String stdout = out.toString(StandardCharsets.UTF_8);
        String stderr = err.toString(StandardCharsets.UTF_8).strip();
        if (watchdog.killedProcess()) {
            throw new OperationFailedException(what + " for " + subject + " did not finish within " + timeout
                    + " and was killed; check the storage holding " + subject + " (hung mount, full disk?)"
                    + (stderr.isEmpty() ? "" : "; qemu-img said: " + stderr));
        }
        for (int accepted : acceptedExitCodes) {
            if (exitCode == accepted) {
                return new Result(exitCode, stdout, stderr);
            }
        }
        throw new OperationFailedException(what + " failed for " + subject + " with exit code " + exitCode
                + ": " + (stderr.isEmpty() ? "(no error output)" : stderr)
                + "; fix the cause qemu-img reports and retry");
    }
}
