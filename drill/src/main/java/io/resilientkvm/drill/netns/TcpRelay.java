package io.resilientkvm.drill.netns;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;

/**
 * A TCP relay run on a bed host: accepts on {@code LISTEN-ADDRESS:PORT} and connects each
 * connection to {@code TARGET-ADDRESS:TARGET-PORT} in the same namespace, bytes copied both ways.
 * The drill puts it in front of the guest's NAT forward, which stays on the host's loopback:
 * QEMU's user-mode NAT shows a forwarded connection from a non-loopback peer with that peer's
 * address, and the tiny guest (no default route, by design) cannot answer 198.18.0.10; from
 * loopback the guest sees the NAT's gateway 10.0.2.2 and answers. Runs until killed.
 */
public final class TcpRelay {
    private TcpRelay() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 4) {
            System.err.println("usage: TcpRelay LISTEN-ADDRESS PORT TARGET-ADDRESS TARGET-PORT");
            System.exit(2);
        }
        InetSocketAddress target = new InetSocketAddress(InetAddress.getByName(args[2]), Integer.parseInt(args[3]));
        try (ServerSocket server = new ServerSocket()) {
            server.setReuseAddress(true);
            server.bind(new InetSocketAddress(InetAddress.getByName(args[0]), Integer.parseInt(args[1])), 16);
            System.err.println("relaying " + server.getLocalSocketAddress() + " to " + target);
            while (true) {
                Socket client = server.accept();
                Thread t = new Thread(() -> relay(client, target), "relay-" + client.getRemoteSocketAddress());
                t.setDaemon(true);
                t.start();
            }
        }
    }

    private static void relay(Socket client, InetSocketAddress target) {
        try (client; Socket upstream = new Socket()) {
            upstream.connect(target, 5000);
            // A connection silent for a minute is dropped: no thread waits forever.
            client.setSoTimeout(60_000);
            upstream.setSoTimeout(60_000);
            Thread back = new Thread(() -> copy(upstream, client), "relay-back");
            back.setDaemon(true);
            back.start();
            copy(client, upstream);
            back.join(60_000);
        } catch (IOException e) {
            // the target is not listening (yet): closing the client tells the caller, who polls
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Copies until EOF, then half-closes {@code to}'s output so the other side sees the end too. */
    private static void copy(Socket from, Socket to) {
        try {
            InputStream in = from.getInputStream();
            OutputStream out = to.getOutputStream();
            in.transferTo(out);
            to.shutdownOutput();
        } catch (IOException e) {
            // a side closed: the other direction ends with it
        }
    }
}
