package io.resilientkvm.it.netbed;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** The test's side of a {@link ZkShell} running in a bed host's namespace. */
public final class ShellClient implements AutoCloseable {
    private final Process process;
    private final Writer in;
    private final BufferedReader out;

    private ShellClient(Process process) {
        this.process = process;
        this.in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        this.out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    }

    /** A shell on {@code host} connected to {@code connect}, authenticated as {@code auth} (user:password digests). */
    public static ShellClient start(NetBed bed, NetBed.Host host, String connect, List<String> auth, Path log) throws IOException {
        List<String> args = new java.util.ArrayList<>(List.of(connect));
        args.addAll(auth);
        return new ShellClient(bed.startPiped(host, NetBed.java(List.of("-Xmx64m", "-XX:TieredStopAtLevel=1",
                "-Dlogback.configurationFile=" + NetBed.logback(log.getParent(), "WARN")), ZkShell.class.getName(), args), log));
    }

    /** A node's own client on {@code host} (see {@link ZkShell}): authenticated, its creates carry the instance's ACLs. */
    public static ShellClient startNode(NetBed bed, NetBed.Host host, String connect, String instance, String node,
            String instancePassword, String nodePassword, Path log) throws IOException {
        return new ShellClient(bed.startPiped(host, NetBed.java(List.of("-Xmx64m", "-XX:TieredStopAtLevel=1",
                "-Dlogback.configurationFile=" + NetBed.logback(log.getParent(), "WARN")), ZkShell.class.getName(),
                List.of("--node", connect, instance, node, instancePassword, nodePassword)), log));
    }

    /** Sends one command and returns the shell's answer ({@code OK ...} or {@code ERR ...}), within 30 s. */
    public synchronized String send(String command) throws IOException {
        in.write(command + "\n");
        in.flush();
        CompletableFuture<String> line = CompletableFuture.supplyAsync(() -> {
            try {
                return out.readLine();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        try {
            String answer = line.get(30, TimeUnit.SECONDS);
            if (answer == null) {
                throw new IOException("the ZooKeeper shell ended (exit " + process.waitFor() + ") before answering: " + command);
            }
            return answer;
        } catch (TimeoutException e) {
            close();
            throw new IOException("no answer within 30 s to: " + command, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted waiting for: " + command, e);
        } catch (ExecutionException e) {
            throw new IOException("could not read the answer to: " + command, e.getCause());
        }
    }

    @Override
    public void close() {
        NetBed.kill(List.of(process));
    }
}
