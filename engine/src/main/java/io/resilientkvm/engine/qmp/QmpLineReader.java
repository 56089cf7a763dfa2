package io.resilientkvm.engine.qmp;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;

/**
 * Splits the QMP byte stream into lines (QEMU writes one JSON message per line). Reads the
 * channel directly: wrapping one blocking channel in both Channels.newInputStream and
 * newOutputStream would make the reader thread block every writer on the channel's lock.
 */
final class QmpLineReader {
    /** A bigger line is a protocol error, not something to buffer without bound. */
    static final int MAX_LINE_BYTES = 64 << 20;

    private final ReadableByteChannel channel;
    private final ByteBuffer buffer = ByteBuffer.allocate(64 << 10);
    private final ByteArrayOutputStream line = new ByteArrayOutputStream(4096);

    QmpLineReader(ReadableByteChannel channel) {
        this.channel = channel;
        buffer.flip();
    }

    /** The next line without its terminator, or null at end of stream. */
    byte[] readLine() throws IOException {
        while (true) {
            while (buffer.hasRemaining()) {
                byte b = buffer.get();
                if (b == '\n') {
                    byte[] out = line.toByteArray();
                    line.reset();
                    return out;
                }
                if (b != '\r') {
                    line.write(b);
                }
            }
            if (line.size() > MAX_LINE_BYTES) {
                throw new QmpConnectionException("QMP message longer than " + MAX_LINE_BYTES + " bytes: not a QMP peer?");
            }
            buffer.clear();
            int n = channel.read(buffer);
            buffer.flip();
            if (n < 0) {
                return null;
            }
        }
    }
}
