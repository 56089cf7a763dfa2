package io.resilientkvm.engine.testing;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.curator.drivers.TracerDriver;
import org.apache.curator.framework.CuratorFramework;

/**
 * Counts the ZooKeeper reads (getData, getChildren, exists) one Curator client makes, from
 * Curator's own operation traces: independent of the code under test.
 */
public final class ZkReadCounter implements TracerDriver {
    private final AtomicLong reads = new AtomicLong();

    /** Installs a counter on {@code client} (replacing its tracer). */
    public static ZkReadCounter on(CuratorFramework client) {
        ZkReadCounter counter = new ZkReadCounter();
        client.getZookeeperClient().setTracerDriver(counter);
        return counter;
    }

    public long reads() {
        return reads.get();
    }

    @Override
    public void addTrace(String name, long time, TimeUnit unit) {
        if (name.startsWith("GetDataBuilderImpl-") || name.startsWith("GetChildrenBuilderImpl-")
                || name.startsWith("ExistsBuilderImpl-")) {
            reads.incrementAndGet();
        }
    }

    @Override
    public void addCount(String name, int increment) {
        // counts are not operations
    }
}
