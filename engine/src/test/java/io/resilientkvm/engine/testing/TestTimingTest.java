package io.resilientkvm.engine.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class TestTimingTest {
    @Test
    void aMultiplierIsAtLeastOneAndABadOneIsNamed() {
        assertEquals(2.5, TestTiming.parse(" 2.5 ", "RKVM_TEST_TIMING"));
        assertEquals(1, TestTiming.parse("1", "RKVM_TEST_TIMING"));
        IllegalArgumentException slow = assertThrows(IllegalArgumentException.class, () -> TestTiming.parse("0.5", "-Drkvm.test.timing"));
        assertTrue(slow.getMessage().contains("-Drkvm.test.timing=0.5") && slow.getMessage().contains("at least 1"), slow.getMessage());
        IllegalArgumentException word = assertThrows(IllegalArgumentException.class, () -> TestTiming.parse("slow", "RKVM_TEST_TIMING"));
        assertTrue(word.getMessage().contains("RKVM_TEST_TIMING=slow is not a number"), word.getMessage());
        assertThrows(IllegalArgumentException.class, () -> TestTiming.parse("NaN", "RKVM_TEST_TIMING"));
    }

    @Test
    void scaledMultipliesByTheFactorInForce() {
        Duration d = Duration.ofSeconds(10);
        assertEquals(Math.round(d.toNanos() * TestTiming.factor()), TestTiming.scaled(d).toNanos());
    }
}
