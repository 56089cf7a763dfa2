package io.resilientkvm.node.peer;

import java.util.Objects;
import java.util.Optional;

/**
 * The end of one call to a peer: its answer, or a typed failure the caller can act on (the
 * fail-safe mode counts a peer that did not acknowledge, whatever the kind, as not acknowledging).
 */
public sealed interface PeerResult<A> {
    /** The peer called. */
    String peer();

    /** The answer, when there is one. */
    Optional<A> answer();

    /** What kind of failure ended a call. */
    enum Kind {
        /** No answer: connection refused, no route, or nothing within the connect or request timeout. */
        UNREACHABLE,
        /**
         * Either side said no: the peer's certificate is not the one pinned for it, the peer
         * refused this node's certificate at the handshake, or it answered a 4xx (unknown
         * endpoint, limit, a handler's refusal).
         */
        REFUSED,
        /** An answer that is not what the protocol says: a 5xx, not JSON, too large, or not the expected shape. */
        BAD_ANSWER
    }

    /** The peer answered. */
    record Answer<A>(String peer, A value) implements PeerResult<A> {
        public Answer {
            Objects.requireNonNull(peer, "peer");
            Objects.requireNonNull(value, "value");
        }

        @Override
        public Optional<A> answer() {
            return Optional.of(value);
        }
    }

    /** The call failed; {@code message} names the peer, the address, and what to check. */
    record Failure<A>(String peer, Kind kind, String message) implements PeerResult<A> {
        public Failure {
            Objects.requireNonNull(peer, "peer");
            Objects.requireNonNull(kind, "kind");
            Objects.requireNonNull(message, "message");
        }

        @Override
        public Optional<A> answer() {
            return Optional.empty();
        }
    }
}
