package io.resilientkvm.engine.qemu;

import io.resilientkvm.engine.instance.InstanceLayout;
import io.resilientkvm.engine.params.ExternalDiskParameter;
import io.resilientkvm.engine.params.KvmParameters;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * Names the disks of an instance: the main disk is node {@code virtual1} behind device
 * {@code virtio0} (or {@code ide0}/{@code scsi0}), as in the seed system; each external disk is node
 * and device {@code disk-ID}, ID derived from its name ({@link ExternalDiskParameter#id}), its path resolved
 * against the instance directory; legacy disks are {@code disk-data1…N}.
 */
public final class DiskPlan {
    public static final String MAIN_NODE = "virtual1";

    private DiskPlan() {
    }

    /**
     * The attachments, main disk first, then external disks in index order.
     *
     * @param formatOf the format of an external disk whose {@code format} option is absent
     *                 (qemu-img info on the running host)
     */
    public static List<DiskAttachment> of(KvmParameters p, InstanceLayout layout, Function<Path, String> formatOf) {
        List<DiskAttachment> out = new ArrayList<>();
        boolean bootsFromNbd = p.nbd().isPresent();
        out.add(new DiskAttachment(p.diskType().mainDeviceId(), MAIN_NODE, layout.mainDisk(), "qcow2", p.diskType().qemuDevice(),
                "writeback", true, false, bootsFromNbd ? 2 : 0));
        for (ExternalDiskParameter d : p.externalDisks()) {
            Path file = d.path(layout.root());
            String format = d.format().orElseGet(() -> formatOf.apply(file));
            out.add(new DiskAttachment(d.deviceId(), d.deviceId(), file, format, "virtio-blk-pci", d.cache(), d.discard(),
                    d.readOnly(), -1));
        }
        for (var d : p.legacyExternalDisks().disks(layout.root())) {
            out.add(new DiskAttachment("disk-" + d.id(), "disk-" + d.id(), d.path(), d.format(), "virtio-blk-pci",
                    Optional.ofNullable(d.cache()).orElse("writeback"), true, false, -1));
        }
        return out;
    }
}
