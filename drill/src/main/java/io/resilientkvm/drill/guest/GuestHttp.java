package io.resilientkvm.drill.guest;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Optional;

/** The tiny guest's HTTP service, as the host reaches it through a NAT forward (on loopback unless said otherwise). */
public final class GuestHttp {
    private static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    private GuestHttp() {
    }

    /** The body of {@code path} on 127.0.0.1:{@code hostPort}, or empty if it does not answer 200 in time. */
    public static Optional<byte[]> get(int hostPort, String path, Duration timeout) {
        return get("127.0.0.1", hostPort, path, timeout);
    }

    /** The body of {@code path} on {@code address}:{@code hostPort} (an IPv4 address), or empty if it does not answer 200 in time. */
    public static Optional<byte[]> get(String address, int hostPort, String path, Duration timeout) {
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://" + address + ":" + hostPort + path)).timeout(timeout).GET().build();
        try {
            HttpResponse<byte[]> r = CLIENT.send(req, HttpResponse.BodyHandlers.ofByteArray());
            return r.statusCode() == 200 ? Optional.of(r.body()) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty(); // not listening yet, reset by the relay: the caller polls until its deadline
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
    }

    /** The guest's last journal record (its answer on {@code /}), when it answers with a valid one. */
    public static Optional<GuestJournal.Record> lastRecord(int hostPort, Duration timeout) {
        return lastRecord("127.0.0.1", hostPort, timeout);
    }

    /** The guest's last journal record on {@code address}:{@code hostPort}, when it answers with a valid one. */
    public static Optional<GuestJournal.Record> lastRecord(String address, int hostPort, Duration timeout) {
        return get(address, hostPort, "/", timeout).flatMap(b -> {
            var records = GuestJournal.parse(b);
            return records.size() == 1 && records.get(0).valid() ? Optional.of(records.get(0)) : Optional.empty();
        });
    }
}
