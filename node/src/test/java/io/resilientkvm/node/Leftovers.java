package io.resilientkvm.node;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.util.List;

/** What a stopped component could leave behind: threads, processes, listening sockets. */
final class Leftovers {
    private Leftovers() {
    }

    /** Live threads whose name starts with one of the prefixes. */
    static List<String> threads(String... prefixes) {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                .filter(n -> List.of(prefixes).stream().anyMatch(n::startsWith)).sorted().toList();
    }

    /** Live processes whose command line mentions {@code path} (a QEMU of that data directory). */
    static List<Long> processesMentioning(Path path) {
        return ProcessHandle.allProcesses().filter(ProcessHandle::isAlive)
                .filter(p -> p.info().commandLine().map(c -> c.contains(path.toString())).orElse(false))
                .map(ProcessHandle::pid).toList();
    }

    static boolean accepts(int port) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 5_000);
            return true;
        } catch (ConnectException refused) {
            return false;
        }
    }

    /** True when nobody listens on the loopback port any more: it can be bound again. */
    static boolean bindable(int port) {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
            return true;
        } catch (IOException inUse) {
            return false;
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
