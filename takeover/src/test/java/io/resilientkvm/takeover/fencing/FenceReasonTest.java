package io.resilientkvm.takeover.fencing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.zk.PublishedText;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** Issue 12: a fence reason quotes a failed promotion's error text, and it is published in ZooKeeper. */
class FenceReasonTest {
    @Test
    void theReasonIsSanitizedAndBoundedWithItsPathsKept() {
        FenceReason r = new FenceReason("node-b", "promotion failed: qemu-img: '/srv/kvm1/disk.qcow2':\r\n\u001b]0;x\u0007"
                + "z".repeat(10_000), 4, Instant.parse("2026-12-01T10:00:00Z"));
        assertTrue(r.why().startsWith("promotion failed: qemu-img: '/srv/kvm1/disk.qcow2': ]0;x zzz"), r.why());
        assertTrue(r.why().length() <= PublishedText.MAX_CHARS, "length " + r.why().length());
        assertEquals(r, new FenceReason(r.node(), r.why(), r.epoch(), r.at()));
    }
}
