package io.resilientkvm.engine.testing;

import java.time.Duration;

/**
 * The one timing multiplier of the real-time tests, for slow or loaded machines: the system
 * property {@code rkvm.test.timing}, else the environment variable {@code RKVM_TEST_TIMING},
 * else 1. Deadlines of tests that wait for real time ({@code await().atMost(...)}) go through
 * {@link #scaled}; tests driven by {@link ManualTime} need none.
 */
public final class TestTiming {
    public static final String PROPERTY = "rkvm.test.timing";
    public static final String ENV = "RKVM_TEST_TIMING";

    private TestTiming() {
    }

    /** The multiplier in force (at least 1). */
    public static double factor() {
        String p = System.getProperty(PROPERTY);
        if (p != null && !p.isBlank()) {
            return parse(p, "-D" + PROPERTY);
        }
        String e = System.getenv(ENV);
        if (e != null && !e.isBlank()) {
            return parse(e, ENV);
        }
        return 1;
    }

    /** {@code d} times the multiplier. */
    public static Duration scaled(Duration d) {
        double f = factor();
        return f == 1 ? d : Duration.ofNanos(Math.round(d.toNanos() * f));
    }

    static double parse(String value, String source) {
        double f;
        try {
            f = Double.parseDouble(value.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(source + "=" + value + " is not a number; give a timing multiplier such as 1, 2 or 3");
        }
        if (!(f >= 1) || Double.isInfinite(f)) {
            throw new IllegalArgumentException(source + "=" + value + ": the timing multiplier must be at least 1 (1 = this "
                    + "machine is as fast as the deadlines assume)");
        }
        return f;
    }
}
