package io.resilientkvm.engine.watchdog;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.instance.InstanceLayout;
import io.resilientkvm.engine.instance.KvmInstance;
import io.resilientkvm.engine.instance.VmHost;
import io.resilientkvm.engine.params.KvmParameters;
import io.resilientkvm.engine.process.ProcStat;
import io.resilientkvm.engine.process.QemuProcess;
import io.resilientkvm.engine.process.RestartPolicy;
import io.resilientkvm.engine.testing.TestTiming;
import io.resilientkvm.schemas.JsonDocuments;
import io.resilientkvm.schemas.ParameterValidator;
import io.resilientkvm.schemas.SchemaKind;
import io.resilientkvm.schemas.ValidationReport;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A KvmInstance started under a lease: its QEMU runs its guest once a keeper watches it, kept running by its renewer, and paused once ownership is no longer proven. */
class GuardedInstanceQemuTest {
    @TempDir
    Path dir;

    @Test
    void aGuardedInstanceRunsOnceItsKeeperWatchesAndIsPausedWhenTheLeaseLapses() throws Exception {
        ValidationReport r = ParameterValidator.of(SchemaKind.KVM_INSTANCE).validate(JsonDocuments.parseObject(
                "{\"ram-size\": 128, \"cpu-count\": 1, \"disk-size\": 1, \"use-tap\": false, \"use-nat\": false}", "t"));
        assertTrue(r.valid(), r.violations().toString());
        InstanceLayout layout = new InstanceLayout(dir.resolve("kvm1"));
        WatchdogLease lease = new WatchdogLease(Duration.ofMillis(1500), layout.vmKeeperLog());
        AtomicBoolean owner = new AtomicBoolean(true);
        // A proof that holds while the test says so: the renewer is what keeps the VM running.
        OwnershipProof proof = () -> owner.get() ? OptionalLong.of(LeaseClock.nanos()) : OptionalLong.empty();
        try (LeaseRenewer renewer = LeaseRenewer.start(lease, proof, "kvm1");
                KvmInstance instance = KvmInstance.prepare("kvm1", KvmParameters.fromEffective(r.effective()), VmHost.loopback(),
                layout)) {
            QemuProcess qemu = instance.start(RestartPolicy.NEVER, Optional.of(lease)).current().orElseThrow();
            assertEquals("running", qemu.qmp().execute("query-status").path("status").asText(), "resumed once guarded");
            VmWatchdog keeper = lease.current().orElseThrow();
            assertEquals(qemu.pid(), keeper.qemuPid());

            await().pollInterval(Duration.ofMillis(100)).during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(10))
                    .until(() -> !ProcStat.read(qemu.pid()).orElseThrow().stopped());
            owner.set(false);
            await("paused once the lease lapses").atMost(TestTiming.scaled(Duration.ofSeconds(15)))
                    .pollInterval(Duration.ofMillis(20)).until(() -> ProcStat.read(qemu.pid()).orElseThrow().stopped());
            instance.close();
            assertFalse(qemu.isAlive(), "closed: a paused QEMU is killed");
            assertFalse(keeper.isAlive(), "closed: the keeper released");
        }
    }
}
