package io.resilientkvm.engine.disk;

import io.resilientkvm.engine.error.BadInputException;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;

/** A {@code file:} download's source: inside {@link DownloadLimits#fileRoots}, links resolved, regular files only. */
final class FileImageSource {
    private final DownloadLimits limits;

    FileImageSource(DownloadLimits limits) {
        this.limits = limits;
    }

    /** A {@code file:} URL's file, only inside {@link DownloadLimits#fileRoots} and only when regular. */
    InputStream open(URI uri, String where) throws IOException, BadInputException {
        Path file;
        try {
            file = Path.of(uri);
        } catch (IllegalArgumentException e) {
            throw new BadInputException("virtual-hard-drive-url " + where + " is not a valid file URL ("
                    + e.getMessage() + "); use file:///absolute/path", e);
        }
        if (limits.fileRoots().isEmpty()) {
            throw new DownloadStop("refusing virtual-hard-drive-url " + where + ": file: URLs are allowed only from the"
                    + " directories in downloads.file-roots of the node configuration, and it lists none; add the"
                    + " directory holding the image there, or serve the image over http(s)", true);
        }
        if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
            throw new DownloadStop("virtual-hard-drive-url " + where + ": no such file " + file + "; check the path", false);
        }
        Path real = file.toRealPath();
        boolean inside = false;
        for (Path root : limits.fileRoots()) {
            if (Files.isDirectory(root) && real.startsWith(root.toRealPath())) {
                inside = true;
            }
        }
        if (!inside) {
            throw new DownloadStop("refusing virtual-hard-drive-url " + where + ": " + file
                    + (real.equals(file) ? "" : " (resolving to " + real + ")") + " is outside downloads.file-roots "
                    + limits.fileRoots() + " of the node configuration; nothing was opened", true);
        }
        BasicFileAttributes attrs = Files.readAttributes(real, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (!attrs.isRegularFile()) {
            throw new DownloadStop("refusing virtual-hard-drive-url " + where + ": " + real + " is not a regular file ("
                    + (attrs.isDirectory() ? "a folder" : "a FIFO, socket or device") + "); nothing was opened", true);
        }
        return Files.newInputStream(real, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
    }
}
