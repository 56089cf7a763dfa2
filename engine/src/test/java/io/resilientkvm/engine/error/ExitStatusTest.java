package io.resilientkvm.engine.error;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.resilientkvm.schemas.InvalidDocumentException;
import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The one mapping from a failure to what comes next and to the exit code. */
class ExitStatusTest {
    @Test
    void eachKindOfFailureSaysWhatToDoNextAndHasItsExitCode() {
        assertFailure(new BadInputException("x"), NextStep.FIX_INPUT, 2);
        assertFailure(new RefusedException("x"), NextStep.REFUSE, 3);
        assertFailure(new OperationFailedException("x"), NextStep.RETRY, 1);
        assertFailure(new RetryableException("x"), NextStep.RETRY, 1);
        assertFailure(new GiveUpException("x"), NextStep.GIVE_UP_ITEM, 1);
    }

    @Test
    void theNewKindsAreOperationFailuresSoExistingCatchesStillHoldThem() {
        OperatorException retry = new RetryableException("x");
        OperatorException giveUp = new GiveUpException("x");
        assertEquals(OperationFailedException.class, retry.getClass().getSuperclass());
        assertEquals(OperationFailedException.class, giveUp.getClass().getSuperclass());
    }

    @Test
    void everyNextStepHasAnExitCode() {
        assertEquals(ExitStatus.FAILED, ExitStatus.of(NextStep.RETRY));
        assertEquals(ExitStatus.FAILED, ExitStatus.of(NextStep.GIVE_UP_ITEM));
        assertEquals(ExitStatus.REFUSED, ExitStatus.of(NextStep.REFUSE));
        assertEquals(ExitStatus.BAD_INPUT, ExitStatus.of(NextStep.FIX_INPUT));
        assertEquals(List.of(0, 1, 2, 3), java.util.Arrays.stream(ExitStatus.values()).map(ExitStatus::code).toList());
    }

    @Test
    void failuresFromOutsideTheHierarchy() {
        assertEquals(ExitStatus.BAD_INPUT, ExitStatus.of(new InvalidDocumentException(List.of("bad field"))));
        assertEquals(ExitStatus.FAILED, ExitStatus.of(new IOException("disk")));
        assertEquals(ExitStatus.FAILED, ExitStatus.of(new IllegalStateException("bug")));
    }

    private static void assertFailure(OperatorException e, NextStep next, int code) {
        assertEquals(next, e.nextStep(), e.getClass().getSimpleName());
        assertEquals(code, e.exitStatus().code(), e.getClass().getSimpleName());
        assertEquals(code, ExitStatus.of(e).code(), e.getClass().getSimpleName());
    }
}
