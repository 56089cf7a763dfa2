package io.resilientkvm.drill.guest;

import io.resilientkvm.engine.error.OperationFailedException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Runs the host tools the guest needs (apt, dpkg, ldd, qemu-img, e2fsprogs) with a deadline. */
final class Commands {
    /** What a command printed (stdout and stderr together) and its exit status. */
    record Result(int exit, String output) {
        boolean ok() {
            return exit == 0;
        }
    }

    private Commands() {
    }

    static Result run(List<String> cmd, Path dir, Duration timeout) throws OperationFailedException {
        Process p;
        try {
            p = new ProcessBuilder(cmd).directory(dir == null ? null : dir.toFile()).redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        } catch (IOException e) {
            throw new OperationFailedException("cannot run " + cmd.get(0) + ": " + e.getMessage(), e);
        }
        // Read while it runs, so a chatty command cannot block on a full pipe.
        CompletableFuture<byte[]> out = CompletableFuture.supplyAsync(() -> {
            try {
                return p.getInputStream().readAllBytes();
            } catch (IOException e) {
                return new byte[0];
            }
        });
        try {
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new OperationFailedException(String.join(" ", cmd) + " did not finish within " + timeout.toSeconds() + " s");
            }
            return new Result(p.exitValue(), new String(out.get(10, TimeUnit.SECONDS), StandardCharsets.UTF_8).strip());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new OperationFailedException("interrupted while running " + cmd.get(0), e);
        } catch (ExecutionException | TimeoutException e) {
            throw new OperationFailedException("cannot read the output of " + String.join(" ", cmd) + ": " + e.getMessage(), e);
        }
    }

    /** Runs {@code cmd} and fails, with its output, unless it exits 0. */
    static String check(List<String> cmd, Path dir, Duration timeout) throws OperationFailedException {
        Result r = run(cmd, dir, timeout);
        if (!r.ok()) {
            throw new OperationFailedException(String.join(" ", cmd) + " failed (exit " + r.exit() + "): " + r.output());
        }
        return r.output();
    }
}
