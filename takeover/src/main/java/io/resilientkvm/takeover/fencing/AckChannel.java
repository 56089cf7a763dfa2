package io.resilientkvm.takeover.fencing;

import java.time.Duration;
import java.util.Objects;

/**
 * How a main that lost ZooKeeper asks a clone to acknowledge it (fail-safe mode, docs/takeover.md):
 * the authenticated direct channel between the nodes in production. One call, one clone, answered
 * or failed within {@code timeout}; any failure (unreachable, refused, a bad answer) counts as not
 * acknowledged. Must not throw.
 */
@FunctionalInterface
public interface AckChannel {
    /** Asks {@code clone}; never waits longer than {@code timeout}. */
    AckAnswer ask(String clone, AckRequest request, Duration timeout);

    /**
     * Makes a harmless call to {@code clone} (no promise), so that the first round of a cut
     * finds the TLS code of both JVMs warm: a cold JVM's first handshake took seconds on a loaded
     * host (FailsafeChannelTest), longer than a round may take. Must not throw.
     */
    default void warmUp(String clone) {
    }

    /**
     * What the main asks: "I, {@code main}, still own epoch {@code epoch} of {@code instance};
     * refuse any promotion for {@code windowMillis} from now".
     */
    record AckRequest(String instance, String main, long epoch, long windowMillis) {
        public AckRequest {
            Objects.requireNonNull(instance, "instance");
            Objects.requireNonNull(main, "main");
            if (windowMillis <= 0) {
                throw new IllegalArgumentException("an acknowledgement window is positive, got " + windowMillis + " ms");
            }
        }
    }

    /** The answer of {@code peer} (a clone); {@code detail} says why not, or until when it acknowledged. */
    record AckAnswer(String peer, boolean acknowledged, String detail) {
        public AckAnswer {
            Objects.requireNonNull(peer, "peer");
            Objects.requireNonNull(detail, "detail");
        }

        public static AckAnswer failed(String clone, String why) {
            return new AckAnswer(clone, false, why);
        }
    }
}
