package io.resilientkvm.drill;

import io.resilientkvm.engine.disk.QemuImg;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.OperatorException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Byte-for-byte checks of the drill: the expected image of a point is a blank disk with the
 * workload's writes replayed by {@code qemu-io}; {@code qemu-img compare} tells whether a
 * disk equals it.
 */
final class DiskCheck {
    private static final long TIMEOUT_MINUTES = 10;

    private DiskCheck() {
    }

    /** A blank qcow2 of {@code size} with {@code writes} replayed on it. */
    static Path expected(Path file, long size, List<Workload.Write> writes) throws OperatorException {
        new QemuImg().create(file, "qcow2", size);
        for (Workload.Write w : writes) {
            run(List.of("qemu-io", "-f", "qcow2", "-c", String.format("write -P 0x%x %d %d", w.pattern(), w.offset(), w.length()),
                    file.toString()));
        }
        return file;
    }

    /**
     * True when {@code disk} (any format, read with -U since a VM may hold it) has exactly the
     * content of {@code expected}.
     */
    static boolean same(Path disk, Path expected) throws OperationFailedException {
        Result r = exec(List.of("qemu-img", "compare", "-U", disk.toString(), expected.toString()));
        if (r.exit() == 0) {
            return true;
        }
        if (r.exit() == 1) {
            return false;
        }
        throw new OperationFailedException("qemu-img compare " + disk + " " + expected + " failed: " + r.output());
    }

    private record Result(int exit, String output) {
    }

    private static void run(List<String> cmd) throws OperationFailedException {
        Result r = exec(cmd);
        if (r.exit() != 0) {
            throw new OperationFailedException(String.join(" ", cmd) + " failed (exit " + r.exit() + "): " + r.output());
        }
    }

    private static Result exec(List<String> cmd) throws OperationFailedException {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(TIMEOUT_MINUTES, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new OperationFailedException(String.join(" ", cmd) + " did not finish within " + TIMEOUT_MINUTES + " min");
            }
            return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8).strip());
        } catch (IOException e) {
            throw new OperationFailedException("cannot run " + cmd.get(0) + ": " + e.getMessage()
                    + " (install qemu-utils)", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new OperationFailedException("interrupted while running " + cmd.get(0), e);
        }
    }
}
