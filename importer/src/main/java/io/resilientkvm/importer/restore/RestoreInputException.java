package io.resilientkvm.importer.restore;

import io.resilientkvm.engine.error.BadInputException;

/** Bad input to a restore, release or flatten; {@link #problem()} says what, with the data. */
public final class RestoreInputException extends BadInputException {
    private static final long serialVersionUID = 1L;

    private final transient RestoreProblem problem;

    RestoreInputException(RestoreProblem problem) {
        super(problem.message());
        this.problem = problem;
    }

    public RestoreProblem problem() {
        return problem;
    }
}
