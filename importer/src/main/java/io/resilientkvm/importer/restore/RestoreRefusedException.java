package io.resilientkvm.importer.restore;

import io.resilientkvm.engine.error.RefusedException;

/** A restore, release or flatten refused for safety; {@link #problem()} says why, with the data. */
public final class RestoreRefusedException extends RefusedException {
    private static final long serialVersionUID = 1L;

    private final transient RestoreProblem problem;

    RestoreRefusedException(RestoreProblem problem) {
        super(problem.message());
        this.problem = problem;
    }

    public RestoreProblem problem() {
        return problem;
    }
}
