package io.resilientkvm.exporter;

import io.resilientkvm.engine.backup.Chain;
import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.exporter.qmp.BlockDevice;
import io.resilientkvm.exporter.qmp.DirtyBitmap;
import java.time.Clock;
import java.util.Objects;
import java.util.Optional;

/**
 * Which level one disk's backup takes, and why: pure (no QMP, no files), the time from an
 * injected clock. AUTO takes an incremental when the disk's chain is open, its bitmap is on the
 * VM, consistent, free and recording, the disk kept its size, and the {@link NewChainPolicy}
 * does not end the chain; otherwise a full in a new chain. INC is refused when it cannot be taken.
 */
final class LevelPolicy {
    private final Clock clock;

    LevelPolicy(Clock clock) {
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    /**
     * The decision.
     *
     * @param incremental   true for an incremental on the chain
     * @param whyNewChain   for a full, why (for the log); null for an incremental
     */
    record Decision(boolean incremental, String whyNewChain) {
    }

    /**
     * Decides one disk's level.
     *
     * @param asked  the level the request asks for
     * @param policy when an AUTO backup ends a chain that could go on
     * @param device the disk as QEMU reports it now (its bitmaps)
     * @param chain  the disk's newest chain; null when it has none
     * @throws RefusedException INC was asked for and the chain or its bitmap cannot take one
     */
    Decision decide(BackupRequest.Level asked, NewChainPolicy policy, BlockDevice device, Chain chain)
            throws RefusedException {
        String whyNotInc = whyNoIncremental(device, chain);
        return switch (asked) {
            case FULL -> new Decision(false, "asked for (level full / --new-chain)");
            case INC -> {
                if (whyNotInc != null) {
                    throw new RefusedException("cannot take an incremental backup of " + device.name() + ": "
                            + whyNotInc + "; take a full backup (level full or auto)");
                }
                yield new Decision(true, null);
            }
            case AUTO -> {
                if (whyNotInc == null) {
                    // The chain could go on: the policy may still end it (age or length).
                    whyNotInc = policy.whyNewChain(chain, clock.instant()).orElse(null);
                }
                yield new Decision(whyNotInc == null, whyNotInc);
            }
        };
    }

    /** Null when an incremental is possible, else why not. */
    static String whyNoIncremental(BlockDevice d, Chain chain) {
        if (chain == null || chain.backups().isEmpty()) {
            return "no backup chain yet";
        }
        if (!chain.isOpen()) {
            return "chain " + chain.chainId() + " is closed (" + chain.closedReason() + ")";
        }
        String name = chain.bitmap().orElseThrow();
        Optional<DirtyBitmap> bitmap = d.bitmap(name);
        if (bitmap.isEmpty()) {
            return "bitmap " + name + " is missing on the VM (QEMU restarted without a clean shutdown?)";
        }
        if (bitmap.get().inconsistent()) {
            return "bitmap " + name + " is inconsistent (QEMU was killed while using it)";
        }
        if (bitmap.get().busy()) {
            return "bitmap " + name + " is busy (another job uses it)";
        }
        if (!bitmap.get().recording()) {
            return "bitmap " + name + " is disabled: it missed writes";
        }
        long size = chain.newest().orElseThrow().virtualSize();
        if (size != d.virtualSize()) {
            return "the disk's size changed from " + size + " to " + d.virtualSize() + " bytes";
        }
        return null;
    }
}
