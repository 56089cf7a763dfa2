package io.resilientkvm.node.peer;

/**
 * One endpoint of the peer channel, registered with {@link PeerChannelServer#register}. It runs
 * on a request thread of the channel and must answer well within the channel's request timeout
 * (a blocked handler holds one of its caller's few concurrent requests).
 *
 * @param <Q> the request body's type (JSON through Jackson; {@link Void} for a GET)
 * @param <A> the answer's type, written as JSON with status 200
 */
@FunctionalInterface
public interface PeerHandler<Q, A> {
    /** Answers {@code request} from {@code caller}; throw {@link PeerRequestException} to answer an error status. */
    A handle(PeerCaller caller, Q request) throws PeerRequestException;
}
