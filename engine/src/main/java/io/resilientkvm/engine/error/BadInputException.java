package io.resilientkvm.engine.error;

import java.util.List;

/** Bad input: parameters, configuration or files given by the operator (exit code 2). */
public class BadInputException extends OperatorException {
    private static final long serialVersionUID = 1L;

    private final List<String> problems;

    public BadInputException(String problem) {
        this(List.of(problem));
    }

    /** One line per problem; all are reported at once. */
    public BadInputException(List<String> problems) {
        super(String.join(System.lineSeparator(), problems));
        if (problems.isEmpty()) {
            throw new IllegalArgumentException("a BadInputException needs at least one problem");
        }
        this.problems = List.copyOf(problems);
    }

    public BadInputException(String problem, Throwable cause) {
        super(problem, cause);
        this.problems = List.of(problem);
    }

    public List<String> problems() {
        return problems;
    }

    @Override
    public NextStep nextStep() {
        return NextStep.FIX_INPUT;
    }
}
