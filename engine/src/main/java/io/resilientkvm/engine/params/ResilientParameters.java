package io.resilientkvm.engine.params;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * The parameters of a resilient instance beyond the KVM ones: where the main and the clones run
 * (the seed's {@code -sla-N-computer_guid}), the backup schedule, retention and takeover policy.
 *
 * @param mainNode          {@code -sla-0-computer_guid}
 * @param clone1Node        {@code -sla-1-computer_guid}
 * @param clone2Node        {@code -sla-2-computer_guid}
 * @param backupCron        {@code resiliency-backup-periodicity}: five-field cron of the exporter; empty means the
 *                          seed's default, a daily time chosen at random once per instance (the exporter's BackupTime)
 * @param removeOlderThan   whole chains older than this are pruned on clones
 * @param newChainEvery     a new chain starts after this age ({@code 1M}) or this many incrementals ({@code 24})
 */
public record ResilientParameters(Optional<String> mainNode, Optional<String> clone1Node, Optional<String> clone2Node,
        Optional<String> backupCron, RetentionAge removeOlderThan, int keepLast, int keepDaily, int keepWeekly, int keepMonthly,
        String newChainEvery, long speedLimitBytesPerSecond, boolean compress, boolean automaticTakeover,
        Duration takeoverGracePeriod) {

    public ResilientParameters {
        Objects.requireNonNull(backupCron, "backupCron");
        Objects.requireNonNull(removeOlderThan, "removeOlderThan");
    }

    public static ResilientParameters fromEffective(ObjectNode p) {
        return new ResilientParameters(text(p, "-sla-0-computer_guid"), text(p, "-sla-1-computer_guid"),
                text(p, "-sla-2-computer_guid"), text(p, "resiliency-backup-periodicity").map(String::strip).filter(c -> !c.isEmpty()),
                RetentionAge.parse(p.path("remove-backup-older-than").asText()), p.path("backup-keep-last").asInt(),
                p.path("backup-keep-daily").asInt(), p.path("backup-keep-weekly").asInt(), p.path("backup-keep-monthly").asInt(),
                p.path("backup-new-chain-every").asText(), p.path("backup-speed-limit").asLong(),
                p.path("backup-compress").asBoolean(), p.path("takeover-automatic").asBoolean(),
                Duration.ofSeconds(p.path("takeover-grace-period").asLong()));
    }

    private static Optional<String> text(JsonNode p, String name) {
        JsonNode v = p.get(name);
        return v == null || v.asText().isEmpty() ? Optional.empty() : Optional.of(v.asText());
    }
}
