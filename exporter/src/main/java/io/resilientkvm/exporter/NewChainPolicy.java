package io.resilientkvm.exporter;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.Chain;
import java.time.Instant;
import java.time.Period;
import java.time.ZoneOffset;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * When an AUTO backup starts a new chain although the current one could take an incremental:
 * the resilient parameter {@code backup-new-chain-every}. Either an age of the chain's full
 * ({@code 7D}, {@code 2W}, {@code 1M}: calendar days, weeks, months in UTC) or a plain number,
 * the most incrementals a chain holds. Long chains cost restore time and make one damaged file
 * lose more points; a new full bounds both.
 *
 * @param age             the chain's full may be at most this old; null when counting
 * @param maxIncrementals the most incrementals per chain; 0 when aging
 * @param text            the value as given
 */
public record NewChainPolicy(Period age, int maxIncrementals, String text) {
    private static final Pattern SYNTAX = Pattern.compile("^([1-9][0-9]*)([DWM]?)$");
    /** The schema's default: monthly. */
    public static final NewChainPolicy DEFAULT = parse("1M");

    public NewChainPolicy {
        Objects.requireNonNull(text, "text");
        if ((age == null) == (maxIncrementals <= 0)) {
            throw new IllegalArgumentException("give either an age or a positive incremental count");
        }
    }

    /**
     * Parses {@code ^([1-9][0-9]*[DWM]|[1-9][0-9]*)$}.
     *
     * @throws IllegalArgumentException when the text does not match (the message says the form)
     */
    public static NewChainPolicy parse(String text) {
        Matcher m = SYNTAX.matcher(text == null ? "" : text.strip());
        if (!m.matches() || m.group(1).length() > 6) {
            throw new IllegalArgumentException("backup-new-chain-every '" + text + "' is not valid: give an age such as "
                    + "7D, 2W or 1M (days, weeks, months) or a number of incrementals such as 24");
        }
        int n = Integer.parseInt(m.group(1));
        return switch (m.group(2)) {
            case "D" -> new NewChainPolicy(Period.ofDays(n), 0, m.group());
            case "W" -> new NewChainPolicy(Period.ofWeeks(n), 0, m.group());
            case "M" -> new NewChainPolicy(Period.ofMonths(n), 0, m.group());
            default -> new NewChainPolicy(null, n, m.group());
        };
    }

    /**
     * Why the chain must end now, or empty when it may take another incremental.
     *
     * @param chain an open chain with its full
     * @param now   the time of the coming backup
     */
    public Optional<String> whyNewChain(Chain chain, Instant now) {
        if (chain.backups().isEmpty()) {
            return Optional.empty();
        }
        if (age != null) {
            BackupManifest full = chain.backups().get(0);
            Instant due = full.startedAt().atOffset(ZoneOffset.UTC).plus(age).toInstant();
            if (!now.isBefore(due)) {
                return Optional.of("chain " + chain.chainId() + " started at " + full.startedAt() + ", " + text
                        + " ago or more (backup-new-chain-every " + text + ")");
            }
            return Optional.empty();
        }
        int incrementals = chain.backups().size() - 1;
        if (incrementals >= maxIncrementals) {
            return Optional.of("chain " + chain.chainId() + " holds " + incrementals + " incrementals (backup-new-chain-every "
                    + text + ")");
        }
        return Optional.empty();
    }

    @Override
    public String toString() {
        return text;
    }
}
