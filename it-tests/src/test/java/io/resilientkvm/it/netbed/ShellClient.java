package io.resilientkvm.it.netbed;

import io.resilientkvm.drill.netns.NetBed;
import io.resilientkvm.engine.zk.ZkAccess;
import io.resilientkvm.engine.zk.ZkTlsStores;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The test's side of a {@link ZkShell} running in a bed host's namespace. Every command carries a
 * sequence number the shell echoes, and one reader thread hands the lines over: an answer is
 * always matched to its own command, never to a line left over from an earlier one.
 */
public final class ShellClient implements AutoCloseable {
    private static final String EOF = "\0eof";
    private final Process process;
    private final Writer in;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private long sequence;

    private ShellClient(Process process) {
        this.process = process;
        this.in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        Thread reader = new Thread(() -> {
            try {
                for (String line; (line = out.readLine()) != null;) {
                    lines.add(line);
                }
            } catch (IOException e) {
                // the shell was closed: the waiting send learns it from EOF
            } finally {
                lines.add(EOF);
            }
        }, "zk-shell-reader");
        reader.setDaemon(true);
        reader.start();
    }

    /**
     * A shell on {@code host} connected over TLS with {@code tls} to {@code connect}, authenticated as
     * {@code auth} (user:password digests; none: a client with a certificate but no identity).
     */
    public static ShellClient start(NetBed bed, NetBed.Host host, String connect, ZkTlsStores tls, List<String> auth, Path log)
            throws IOException {
        List<String> args = new java.util.ArrayList<>(tlsArgs(tls));
        args.add(connect);
        args.addAll(auth);
        return new ShellClient(bed.startPiped(host, NetBed.java(List.of("-Xmx64m", "-XX:TieredStopAtLevel=1",
                "-Dlogback.configurationFile=" + NetBed.logback(log.getParent(), "WARN")), ZkShell.class.getName(), args), log));
    }

    /** A node's own client on {@code host} (see {@link ZkShell}): authenticated, its creates carry the instance's ACLs. */
    public static ShellClient startNode(NetBed bed, NetBed.Host host, String connect, ZkTlsStores tls, ZkAccess access, Path log)
            throws IOException {
        List<String> args = new java.util.ArrayList<>(tlsArgs(tls));
        args.addAll(List.of("--node", connect, access.layout().instance(), access.node(), access.instancePassword(),
                access.nodePassword()));
        return new ShellClient(bed.startPiped(host, NetBed.java(List.of("-Xmx64m", "-XX:TieredStopAtLevel=1",
                "-Dlogback.configurationFile=" + NetBed.logback(log.getParent(), "WARN")), ZkShell.class.getName(), args), log));
    }

    private static List<String> tlsArgs(ZkTlsStores tls) {
        return List.of("--tls", tls.truststore().toString(), tls.truststorePasswordFile().toString(),
                tls.keystore().map(Path::toString).orElse("-"), tls.keystorePasswordFile().map(Path::toString).orElse("-"));
    }

    /** The first line the shell printed by itself (e.g. {@code ERR CONNECT ...}), within 60 s; empty if it ended silently. */
    public String firstLine() throws IOException {
        try {
            String line = lines.poll(60, TimeUnit.SECONDS);
            if (line == null) {
                throw new IOException("the ZooKeeper shell printed nothing within 60 s");
            }
            return line.equals(EOF) ? "" : line;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted waiting for the shell", e);
        }
    }

    /** Sends one command and returns the shell's answer ({@code OK ...} or {@code ERR ...}), within 30 s. */
    public synchronized String send(String command) throws IOException {
        String id = Long.toString(++sequence);
        in.write(id + " " + command + "\n");
        in.flush();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        try {
            while (true) {
                String line = lines.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (line == null) {
                    close();
                    throw new IOException("no answer within 30 s to: " + command);
                }
                if (line.equals(EOF)) {
                    lines.add(EOF);
                    throw new IOException("the ZooKeeper shell ended (exit " + process.waitFor() + ") before answering: " + command);
                }
                if (line.startsWith(id + " ")) {
                    return line.substring(id.length() + 1);
                }
                // An answer to an earlier command (or stray output): not this command's.
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted waiting for: " + command, e);
        }
    }

    @Override
    public void close() {
        NetBed.kill(List.of(process));
    }
}
