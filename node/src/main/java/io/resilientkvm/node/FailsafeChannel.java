package io.resilientkvm.node;

import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.lifecycle.ComponentStack;
import io.resilientkvm.node.peer.PeerChannelClient;
import io.resilientkvm.node.peer.PeerChannelSettings;
import io.resilientkvm.node.peer.PeerChannelServer;
import io.resilientkvm.node.peer.PeerResult;
import io.resilientkvm.takeover.fencing.AckChannel;
import io.resilientkvm.takeover.fencing.AckChannel.AckAnswer;
import io.resilientkvm.takeover.fencing.AckChannel.AckRequest;
import io.resilientkvm.takeover.fencing.FailsafeAck;
import io.resilientkvm.takeover.fencing.FailsafeAcknowledger;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Fail-safe mode's acknowledgements on the peer channel (mutual TLS, pinned peers):
 * {@code POST /v1/failsafe-ack} with an {@link AckRequest}, answered with an {@link AckAnswer}.
 * The caller is the node whose pinned certificate the TLS client presented, so a clone knows
 * which main asks; any failure of the call counts as no acknowledgement.
 */
public final class FailsafeChannel {
    public static final String PATH = "/v1/failsafe-ack";

    private FailsafeChannel() {
    }

    /** The main's side: asks through {@code client} (its timeouts bound each call). */
    public static AckChannel client(PeerChannelClient client) {
        return new AckChannel() {
            @Override
            public AckAnswer ask(String clone, AckRequest request, java.time.Duration timeout) {
                PeerResult<AckAnswer> r = client.post(clone, PATH, request, AckAnswer.class);
                if (r instanceof PeerResult.Failure<AckAnswer> f) {
                    return AckAnswer.failed(clone, f.kind().name().toLowerCase(java.util.Locale.ROOT) + ": " + f.message());
                }
                AckAnswer a = r.answer().orElseThrow();
                return a.peer().equals(clone) ? a : AckAnswer.failed(clone, "the answer names " + a.peer() + ", not " + clone);
            }

            @Override
            public void warmUp(String clone) {
                client.hello(clone); // its outcome does not matter: only that the TLS code ran once
            }
        };
    }

    /**
     * Fail-safe mode for an agent whose configuration turns it on ({@link NodeConfig#failsafe()}):
     * its acknowledgements served on {@code server} from {@code view}, and a client for the
     * main's rounds whose calls are bounded as the rounds expect, see {@link #limits}. Both are closed with {@code parts}.
     */
    static Optional<AckChannel> start(ComponentStack parts, NodeConfig config, PeerChannelSettings settings,
            PeerChannelServer server, Supplier<FailsafeAcknowledger.View> view) throws OperatorException {
        if (!config.failsafe()) {
            return Optional.empty();
        }
        FailsafeAcknowledger acknowledger = new FailsafeAcknowledger(config.node(), config.instance(),
                config.zookeeper().suspendBound(), FailsafeAck.file(config.layout()), view, Clock.systemUTC());
        parts.start("fail-safe acknowledgements", () -> serve(server, acknowledger));
        PeerChannelClient client = parts.start("fail-safe calls", () -> PeerChannelClient.of(
                settings.withLimits(limits(settings.limits(), config.zookeeper().suspendBound()))));
        return Optional.of(client(client));
    }

    /** A call within {@code Failsafe.of}'s bound of B: the connection and handshake within B/2, the answer B/2. */
    static PeerChannelSettings.Limits limits(PeerChannelSettings.Limits base, Duration suspendBound) {
        return base.withTimeouts(suspendBound.dividedBy(2), suspendBound.dividedBy(2));
    }

    /** The clone's side: {@code acknowledger} answers on {@code server}; closing the registration removes the endpoint. */
    public static PeerChannelServer.Registration serve(PeerChannelServer server, FailsafeAcknowledger acknowledger) {
        return server.register("POST", PATH, AckRequest.class, (caller, request) -> acknowledger.acknowledge(caller.node(), request));
    }
}
