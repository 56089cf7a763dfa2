package io.resilientkvm.drill.guest;

import io.resilientkvm.engine.error.OperationFailedException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The host's tools the tiny guest is built with and takes along: found on PATH or in /sbin, with the libraries {@code ldd} lists. */
final class HostTools {
    private HostTools() {
    }

    static List<Path> libraries(Path binary) throws OperationFailedException, IOException {
        List<String> missing = new ArrayList<>();
        List<Path> libs = libraries(binary, missing);
        if (!missing.isEmpty()) {
            throw new OperationFailedException(binary + " needs libraries this host lacks: " + String.join(", ", missing));
        }
        return libs;
    }

    /** The shared libraries {@code ldd} resolves for {@code binary}, the loader included. */
    static List<Path> libraries(Path binary, List<String> missing) throws OperationFailedException {
        Commands.Result r = Commands.run(List.of("ldd", binary.toString()), null, GuestImageBuilder.TOOL_TIMEOUT);
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

    static Path hostTool(String name) throws OperationFailedException {
        for (Path dir : List.of(Path.of("/sbin"), Path.of("/usr/sbin"))) {
            if (Files.isExecutable(dir.resolve(name))) {
                return dir.resolve(name);
            }
        }
        return onPath(name).orElseThrow(() -> new OperationFailedException("the tiny guest needs " + name + " from"
                + " e2fsprogs on this host: apt-get install -y e2fsprogs"));
    }

    static Optional<Path> onPath(String tool) {
        String path = System.getenv().getOrDefault("PATH", "/usr/bin:/bin");
        for (String d : (path + ":/usr/sbin:/sbin").split(":")) {
            if (!d.isEmpty() && Files.isExecutable(Path.of(d, tool))) {
                return Optional.of(Path.of(d, tool));
            }
        }
        return Optional.empty();
    }
}
