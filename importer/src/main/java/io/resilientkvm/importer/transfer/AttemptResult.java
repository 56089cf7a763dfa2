package io.resilientkvm.importer.transfer;

/**
 * What one fetch attempt did.
 *
 * @param received    body bytes received in this attempt
 * @param resumedFrom where the partial file was resumed (0: from the start)
 * @param problem     why it failed, or null when the partial is complete and verified
 */
record AttemptResult(long received, long resumedFrom, Problem problem) {
    boolean verified() {
        return problem == null;
    }
}
