package io.resilientkvm.importer.transfer;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes a response body to the partial file and the digest as the client hands it over, on the
 * client's thread (no extra copy, no hand-off to a reader thread). A watchdog aborts it when no
 * data came for {@code stallTimeout}: the JDK client has no read timeout on a body. More bytes
 * than the manifest's size abort it too ({@link #tooLong()}).
 */
final class BodySink implements HttpResponse.BodySubscriber<Long> {
    private static final Logger LOG = LoggerFactory.getLogger(BodySink.class);

    private final Path file;
    private final boolean append;
    private final MessageDigest digest;
    private final long limit;
    private final Duration stallTimeout;
    private final ScheduledExecutorService watchdog;
    private final String what;
    private final CompletableFuture<Long> result = new CompletableFuture<>();
    private final AtomicLong lastProgress = new AtomicLong(System.nanoTime());
    private volatile Flow.Subscription subscription;
    private volatile FileChannel out;
    private volatile ScheduledFuture<?> dog;
    private volatile long offset;
    private volatile long received;
    private volatile boolean tooLong;

    /**
     * @param append true: append to {@code file} from {@code offset}; false: write it from its start
     * @param limit  the manifest's size; the file never grows past it
     */
    BodySink(Path file, boolean append, long offset, MessageDigest digest, long limit, Duration stallTimeout,
            ScheduledExecutorService watchdog, String what) {
        this.file = file;
        this.append = append;
        this.offset = offset;
        this.digest = digest;
        this.limit = limit;
        this.stallTimeout = stallTimeout;
        this.watchdog = watchdog;
        this.what = what;
    }

    /** The length of the file so far. */
    long offset() {
        return offset;
    }

    /** Body bytes written by this sink. */
    long received() {
        return received;
    }

    /** Whether the server sent more than the manifest's size. */
    boolean tooLong() {
        return tooLong;
    }

    @Override
    public void onSubscribe(Flow.Subscription s) {
        subscription = s;
        try {
            out = append ? FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.APPEND)
                    : FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                            StandardOpenOption.TRUNCATE_EXISTING);
        } catch (IOException e) {
            abort(e);
            return;
        }
        long stallNanos = stallTimeout.toNanos();
        long period = Math.max(50, stallTimeout.toMillis() / 4);
        dog = watchdog.scheduleAtFixedRate(() -> {
            if (System.nanoTime() - lastProgress.get() > stallNanos) {
                LOG.warn("{}: no data for {} ms; cutting the connection", what, stallTimeout.toMillis());
                abort(new IOException("no data for " + stallTimeout.toMillis() + " ms"));
            }
        }, period, period, TimeUnit.MILLISECONDS);
        s.request(1);
    }

    @Override
    public void onNext(List<ByteBuffer> items) {
        try {
            for (ByteBuffer b : items) {
                int n = b.remaining();
                if (offset + n > limit) {
                    tooLong = true;
                    abort(new IOException("more data than the manifest's " + limit + " bytes"));
                    return;
                }
                digest.update(b.duplicate());
                while (b.hasRemaining()) {
                    out.write(b);
                }
                offset += n;
                received += n;
            }
            lastProgress.set(System.nanoTime());
            subscription.request(1);
        } catch (IOException | RuntimeException e) {
            abort(e);
        }
    }

    @Override
    public void onError(Throwable t) {
        stopDog();
        result.completeExceptionally(t);
    }

    @Override
    public void onComplete() {
        stopDog();
        result.complete(offset);
    }

    @Override
    public CompletionStage<Long> getBody() {
        return result;
    }

    private void abort(Throwable t) {
        stopDog();
        Flow.Subscription s = subscription;
        if (s != null) {
            s.cancel();
        }
        result.completeExceptionally(t);
    }

    private void stopDog() {
        ScheduledFuture<?> d = dog;
        if (d != null) {
            d.cancel(false);
        }
    }

    /** Stops the watchdog and closes the file; called once the exchange is over, however it ended. */
    void closeFile() {
        stopDog();
        FileChannel ch = out;
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException e) {
                LOG.warn("closing {}: {}", file, e.toString());
            }
        }
    }
}
