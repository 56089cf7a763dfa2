package io.resilientkvm.importer.transfer;

/**
 * The one JVM-wide setting a fetching JVM wants, applied by the application's entry point
 * (bin/ commands, the transfer bench), never by a library class behind its users' back.
 */
public final class TransferTuning {
    /** The JDK HTTP client's socket read buffer for fetches. */
    public static final int SOCKET_BUFFER = 256 * 1024;

    private TransferTuning() {}

    /**
     * Raises the JDK HTTP client's socket buffer from 16 KiB to {@link #SOCKET_BUFFER}: it halves
     * the CPU spent per byte on a loopback or LAN transfer (measured by bench/importer). The JDK
     * has no per-client setting, only the system property {@code jdk.httpclient.bufsize}, read
     * once when its first client is built: call this before anything builds one. An explicit
     * {@code -Djdk.httpclient.bufsize} wins.
     */
    public static void applyToJvm() {
        if (System.getProperty("jdk.httpclient.bufsize") == null) {
            System.setProperty("jdk.httpclient.bufsize", Integer.toString(SOCKET_BUFFER));
        }
    }
}
