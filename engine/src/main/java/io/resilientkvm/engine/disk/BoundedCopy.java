package io.resilientkvm.engine.disk;

import io.resilientkvm.engine.error.BadInputException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.zip.GZIPInputStream;

/**
 * One try's bytes into the partial file through a fixed buffer: the MD5 and SHA-256 of the
 * downloaded bytes on the way, gunzipped when asked, each of the received and written byte
 * counts capped at {@link DownloadLimits#maxBytes} (a gzip bomb stops there), the deadline
 * checked at every read.
 */
final class BoundedCopy {
    /** Opens the downloaded bytes' stream (HTTP(S) or file). */
    interface Opener {
        InputStream open() throws IOException, BadInputException;
    }

    private final DownloadLimits limits;

    BoundedCopy(DownloadLimits limits) {
        this.limits = limits;
    }

    /** Returns the MD5 and SHA-256 (lower-case hex) of the downloaded bytes. */
    String[] fetch(Opener source, boolean gzipped, DownloadTransfer transfer, Path partial) throws IOException,
            BadInputException {
        MessageDigest md5 = digest("MD5");
        MessageDigest sha256 = digest("SHA-256");
        String where = transfer.where;
        try (InputStream raw = source.open();
                InputStream received = new DigestInputStream(new DigestInputStream(raw, md5), sha256);
                FileChannel channel = openPartial(partial, transfer)) {
            OutputStream out = Channels.newOutputStream(channel);
            byte[] buffer = new byte[ImageDownloader.BUFFER_SIZE];
            Counter receivedBytes = new Counter("received from " + where);
            if (gzipped) {
                InputStream counted = receivedBytes.wrap(received, transfer);
                GZIPInputStream gunzip = new GZIPInputStream(counted, ImageDownloader.BUFFER_SIZE);
                copy(gunzip, out, buffer, new Counter("gunzipped from " + where), transfer);
                // Anything after the gzip data still counts for the checksums of the downloaded bytes.
                while (counted.read(buffer) != -1) {
                    transfer.checkDeadline();
                }
            } else {
                copy(received, out, buffer, receivedBytes, transfer);
            }
        }
        return new String[] {HexFormat.of().formatHex(md5.digest()), HexFormat.of().formatHex(sha256.digest())};
    }

    /** The partial file, unless the deadline passed while connecting (the caller already removed it). */
    private static FileChannel openPartial(Path partial, DownloadTransfer transfer) throws IOException {
        transfer.checkDeadline();
        return FileChannel.open(partial, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    }

    /** Counts bytes against {@link DownloadLimits#maxBytes}. */
    private final class Counter {
        private final String what;
        private long bytes;

        Counter(String what) {
            this.what = what;
        }

        void add(int n) throws DownloadStop {
            bytes += n;
            if (bytes > limits.maxBytes()) {
                throw new DownloadStop("refusing " + what + ": more than " + limits.maxBytes() + " bytes (downloads.max-bytes"
                        + " in the node configuration); the partial file was removed. Check the image (a gzip bomb?),"
                        + " or raise the cap", true);
            }
        }

        InputStream wrap(InputStream in, DownloadTransfer transfer) {
            return new java.io.FilterInputStream(in) {
                @Override
                public int read() throws IOException {
                    byte[] one = new byte[1];
                    return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
                }

                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    transfer.checkDeadline();
                    int n = super.read(b, off, len);
                    if (n > 0) {
                        add(n);
                    }
                    return n;
                }
            };
        }
    }

    private static void copy(InputStream in, OutputStream out, byte[] buffer, Counter counter, DownloadTransfer transfer)
            throws IOException {
        for (int n; (n = in.read(buffer)) != -1; ) {
            transfer.checkDeadline();
            counter.add(n);
            out.write(buffer, 0, n);
        }
    }

    private static MessageDigest digest(String algorithm) {
        try {
            return MessageDigest.getInstance(algorithm);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has " + algorithm, e);
        }
    }
}
