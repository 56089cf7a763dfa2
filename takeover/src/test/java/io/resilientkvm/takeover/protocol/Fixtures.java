package io.resilientkvm.takeover.protocol;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupManifest.Level;
import io.resilientkvm.engine.zk.ImporterStatus;
import io.resilientkvm.engine.zk.ImporterStatus.Point;
import io.resilientkvm.takeover.membership.MemberInfo;
import io.resilientkvm.takeover.membership.Role;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/** Plain values for the takeover tests: backups one minute apart from T0. */
final class Fixtures {
    static final Instant T0 = Instant.parse("2026-11-24T10:00:00Z");
    static final String CHAIN = "20261124T100000.000Z";

    private Fixtures() {
    }

    static Instant taken(int seq) {
        return T0.plusSeconds(60L * seq);
    }

    static BackupManifest manifest(String device, String chain, int seq, long epoch) {
        String file = name(chain, seq);
        String parent = seq == 0 ? null : name(chain, seq - 1);
        Instant t = taken(seq);
        return new BackupManifest(BackupManifest.FORMAT_VERSION, "demo", device, chain, seq, seq == 0 ? Level.FULL : Level.INC,
                file, parent, "qmpbackup-" + device + "-" + chain, 1 << 20, 4096, "0".repeat(64), t, t, t, epoch, 4096, 10);
    }

    /** FULL-CHAIN.qcow2, then INC files one second apart, named as the exporter names them. */
    static String name(String chain, int seq) {
        if (seq == 0) {
            return "FULL-" + chain + ".qcow2";
        }
        java.time.format.DateTimeFormatter f = java.time.format.DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss.SSS'Z'")
                .withZone(java.time.ZoneOffset.UTC);
        return "INC-" + f.format(Instant.from(f.parse(chain)).plusSeconds(seq)) + ".qcow2";
    }

    /** Backups #0..#last of one chain of one disk. */
    static List<BackupManifest> chain(String device, int last, long epoch) {
        List<BackupManifest> all = new ArrayList<>();
        for (int i = 0; i <= last; i++) {
            all.add(manifest(device, CHAIN, i, epoch));
        }
        return all;
    }

    static Point point(String device, int seq) {
        BackupManifest m = manifest(device, CHAIN, seq, 0);
        return new Point(device, CHAIN, seq, m.file(), taken(seq));
    }

    static ImporterStatus status(String node, long epoch, Point... held) {
        return new ImporterStatus(node, epoch, T0, List.of(held), 0, null);
    }

    static MemberInfo member(String node, Role role, long epoch) {
        return new MemberInfo(node, role, role == Role.MAIN ? "127.0.0.1:7000" : "", epoch, T0);
    }
}
