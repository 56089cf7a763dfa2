package io.resilientkvm.importer.transfer;

import io.resilientkvm.engine.error.NextStep;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.OptionalLong;
import java.util.concurrent.ScheduledExecutorService;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One HTTP request for one backup (see {@code docs/backup-server.md}): resumes the partial file
 * with a {@code Range} after hashing its prefix (or starts it), decides on the status and headers
 * before any body byte, streams the body into a {@link BodySink}, then checks size and SHA-256.
 * Not thread-safe: one attempt, one thread.
 */
final class FetchAttempt {
    private static final int BUFFER = 1 << 20;
    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes ([0-9]+)-([0-9]+)/([0-9]+)");

    private final HttpClient client;
    private final TransferSettings settings;
    private final ScheduledExecutorService watchdog;
    private final LocalCopy copy;
    private final URI uri;
    private final long size;
    private final MessageDigest digest = sha256();
    private long offset;
    private long resumedFrom;
    private BodySink sink;
    private Problem problem;

    FetchAttempt(HttpClient client, TransferSettings settings, ScheduledExecutorService watchdog, LocalCopy copy) {
        this.client = client;
        this.settings = settings;
        this.watchdog = watchdog;
        this.copy = copy;
        this.uri = copy.uri(settings.baseUri());
        this.size = copy.manifest.fileSize();
    }

    /** Runs the attempt; a cut connection keeps the partial for the next one, bytes that are not this backup's drop it. */
    AttemptResult run() throws InterruptedException {
        try {
            offset = copy.resumableLength();
            if (offset > 0) {
                hashPrefix();
            }
            resumedFrom = offset;
            if (offset < size) {
                download();
            }
            if (problem == null) {
                check();
            }
        } catch (IOException e) {
            problem = TlsRefusal.of(e, settings).map(why -> Problem.fatal(NextStep.REFUSE, why))
                    .orElseGet(() -> Problem.transientFault("broke off after " + offset() + " of " + size + " bytes: " + e));
        }
        return new AttemptResult(sink == null ? 0 : sink.received(), resumedFrom, problem);
    }

    private long offset() {
        return sink == null ? offset : sink.offset();
    }

    private void hashPrefix() throws IOException {
        byte[] buffer = new byte[BUFFER];
        long left = offset;
        try (InputStream in = Files.newInputStream(copy.partial)) {
            while (left > 0) {
                int n = in.read(buffer, 0, (int) Math.min(buffer.length, left));
                if (n < 0) {
                    throw new IOException(copy.partial + " shrank while being hashed");
                }
                digest.update(buffer, 0, n);
                left -= n;
            }
        }
    }

    private void download() throws IOException, InterruptedException {
        HttpRequest.Builder rb = HttpRequest.newBuilder(uri).GET().timeout(settings.requestTimeout())
                .header("Authorization", "Bearer " + settings.token());
        if (offset > 0) {
            rb.header("Range", "bytes=" + offset + "-");
        }
        try {
            client.send(rb.build(), info -> {
                sink = accept(info);
                return sink == null ? HttpResponse.BodySubscribers.replacing(0L) : sink;
            });
        } catch (IOException e) {
            if (sink == null || !sink.tooLong()) {
                throw e;
            }
        } finally {
            if (sink != null) {
                sink.closeFile();
                offset = sink.offset();
            }
        }
        if (sink != null && sink.tooLong()) {
            problem = Problem.badCopy("the server sent more than the manifest's " + size + " bytes");
            copy.dropPartial();
        }
    }

    /** The {@code error_description} of a {@code WWW-Authenticate: Bearer ...} header, or the header itself. */
    static String errorDescription(String header) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("error_description=\"([^\"]*)\"").matcher(header);
        return m.find() ? m.group(1) : header;
    }

    /**
     * Decides on the status and headers, before any body byte: a sink that appends to (or
     * restarts) the partial file, or null (and {@link #problem} set) when the body is unwanted.
     */
    private BodySink accept(HttpResponse.ResponseInfo info) {
        int status = info.statusCode();
        try {
            if (status == 401 || status == 403) {
                copy.dropPartialQuietly();
                // The server names the caller it took us for (this node, by its certificate, or unknown).
                String said = info.headers().firstValue("WWW-Authenticate").map(FetchAttempt::errorDescription)
                        .map(d -> " (" + d + ")").orElse("");
                problem = Problem.fatal(NextStep.REFUSE, "the server answered " + status + said + " to our token; make this "
                        + "clone's token (" + settings.tokenFile().map(String::valueOf).orElse("its backup-server.token-file")
                        + ") match the main's peers.THIS-NODE.token-file (on one machine, its backup-server.token-file)");
                return null;
            }
            if (status == 404) {
                copy.dropPartialQuietly();
                problem = Problem.fatal(NextStep.GIVE_UP_ITEM, "the server has no complete file at " + uri.getPath()
                        + " (404); it may have been pruned, or this is not the main that published it");
                return null;
            }
            if (status == 416) {
                problem = Problem.badCopy("the server refused the range from " + offset
                        + " (416): its file is shorter; starting over");
                copy.dropPartial();
                return null;
            }
            if (status == 206 && offset > 0) {
                String range = info.headers().firstValue("Content-Range").orElse("");
                Matcher cr = CONTENT_RANGE.matcher(range);
                if (!cr.matches() || Long.parseLong(cr.group(1)) != offset || Long.parseLong(cr.group(3)) != size) {
                    problem = Problem.badCopy("unexpected Content-Range '" + range + "' for a resume from " + offset
                            + " of " + size + " bytes");
                    copy.dropPartial();
                    return null;
                }
                return newSink(true);
            }
            if (status == 200) {
                if (offset > 0) {
                    // The server ignored the Range: start over from its first byte.
                    digest.reset();
                    offset = 0;
                    resumedFrom = 0;
                }
                OptionalLong len = info.headers().firstValueAsLong("Content-Length");
                if (len.isPresent() && len.getAsLong() != size) {
                    problem = Problem.badCopy("the server's file has " + len.getAsLong() + " bytes, the manifest says "
                            + size);
                    copy.dropPartial();
                    return null;
                }
                return newSink(false);
            }
            problem = Problem.transientFault("HTTP " + status + " from " + uri);
            return null;
        } catch (IOException e) {
            problem = Problem.transientFault("cannot prepare " + copy.partial + ": " + e);
            return null;
        }
    }

    private BodySink newSink(boolean append) {
        return new BodySink(copy.partial, append, offset, digest, size, settings.stallTimeout(), watchdog, copy.what);
    }

    private void check() throws IOException {
        if (offset != size) {
            problem = Problem.badCopy("the transfer ended at " + offset + " of the manifest's " + size
                    + " bytes (truncated)");
            copy.dropPartial();
            return;
        }
        String sha = HexFormat.of().formatHex(digest.digest());
        if (!sha.equals(copy.manifest.sha256())) {
            problem = Problem.badCopy("SHA-256 " + sha + " does not match the manifest's " + copy.manifest.sha256()
                    + " (corrupted in transit or on the main)");
            copy.dropPartial();
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JVM has no SHA-256", e);
        }
    }
}
