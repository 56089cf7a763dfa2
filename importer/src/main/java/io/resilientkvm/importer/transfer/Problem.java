package io.resilientkvm.importer.transfer;

import io.resilientkvm.engine.error.NextStep;

/**
 * Why one fetch attempt failed, and what that calls for.
 *
 * @param next  what to do when this is the last word: retry later, give up the backup, refuse
 * @param retry whether another attempt of this fetch may help
 * @param text  the reason, for the message
 */
record Problem(NextStep next, boolean retry, String text) {
    /** A network fault (cut, stall, refused connection, 5xx): try again; if it stays, retry later. */
    static Problem transientFault(String text) {
        return new Problem(NextStep.RETRY, true, text);
    }

    /** The bytes differ from the manifest (size, SHA-256, range): fetch again; if it stays, the backup is bad. */
    static Problem badCopy(String text) {
        return new Problem(NextStep.GIVE_UP_ITEM, true, text);
    }

    /** No further attempt can help (wrong token, file gone). */
    static Problem fatal(NextStep next, String text) {
        return new Problem(next, false, text);
    }
}
