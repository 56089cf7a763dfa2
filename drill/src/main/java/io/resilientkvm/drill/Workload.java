package io.resilientkvm.drill;

import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.qmp.QmpClient;
import io.resilientkvm.engine.qmp.QmpException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The guest's writes: known patterns at known offsets through QMP (HMP qemu-io on the virtio
 * device), with a log of what was written when, so that every backup point has an exact
 * expected content.
 */
final class Workload {
    /** One write as the guest made it. */
    record Write(int pattern, long offset, long length, Instant began, Instant ended) {
    }

    private final long diskSize;
    private final long chunk;
    private final List<Write> log = new ArrayList<>();
    private int next;

    Workload(long diskSize) {
        this.diskSize = diskSize;
        this.chunk = Math.min(4L << 20, diskSize / 16);
    }

    /** Writes the next pattern (0x41, 0x42, ...) at the next offset, spread over the disk. */
    Write writeNext(Path qmpSocket, String deviceId) throws OperationFailedException {
        int pattern = 0x41 + (next % 0x3e);
        long slots = diskSize / chunk;
        long offset = ((next * 7L) % slots) * chunk; // 7 is prime to the slot count of a power-of-two disk
        next++;
        Instant began = Instant.now();
        try (QmpClient qmp = QmpClient.connect(qmpSocket, Duration.ofSeconds(60))) {
            String target = deviceId.startsWith("virtio") ? "/machine/peripheral/" + deviceId + "/virtio-backend" : deviceId;
            String out = qmp.humanMonitorCommand(String.format("qemu-io -d %s \"write -P 0x%x %d %d\"", target, pattern,
                    offset, chunk), Duration.ofMinutes(2));
            if (!out.isBlank()) {
                throw new OperationFailedException("guest write refused by QEMU: " + out.strip());
            }
        } catch (QmpException e) {
            throw new OperationFailedException("guest write through " + qmpSocket + " failed: " + e.getMessage(), e);
        }
        Write w = new Write(pattern, offset, chunk, began, Instant.now());
        log.add(w);
        return w;
    }

    /** Every write so far, oldest first. */
    List<Write> log() {
        return List.copyOf(log);
    }

    /** The writes a backup captured at {@code pointInTime} certainly holds: those ended before it. */
    List<Write> before(Instant pointInTime) {
        return log.stream().filter(w -> w.ended().isBefore(pointInTime)).toList();
    }

    /**
     * A takeover restored the point captured at {@code pointInTime}: the writes that ended after
     * it never reached the new main and leave the log of what the disk holds.
     */
    void discardAfter(Instant pointInTime) {
        log.removeIf(w -> !w.ended().isBefore(pointInTime));
    }

    long diskSize() {
        return diskSize;
    }
}
