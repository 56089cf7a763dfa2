package io.resilientkvm.exporter;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.exporter.qmp.BlockDevice;
import java.util.ArrayList;
import java.util.List;

/** Which of the VM's disks a backup covers: the named ones, else every writable one, less the excluded. */
final class DeviceSelection {
    private DeviceSelection() {
    }

    /**
     * @param request the devices asked for and left out
     * @param all     the VM's disks, in discovery order
     * @return the disks to back up, in discovery order
     * @throws BadInputException a named disk is not on the VM, nothing is left, or a name cannot be a folder
     */
    static List<BlockDevice> select(BackupRequest request, List<BlockDevice> all) throws BadInputException {
        List<String> names = all.stream().map(BlockDevice::name).toList();
        List<String> problems = new ArrayList<>();
        for (String wanted : request.devices()) {
            if (!names.contains(wanted)) {
                problems.add("device '" + wanted + "' is not a disk of this VM (disks: " + names + ")");
            }
        }
        if (!problems.isEmpty()) {
            throw new BadInputException(problems);
        }
        List<BlockDevice> chosen = all.stream()
                .filter(d -> request.devices().isEmpty() ? !d.readOnly() : request.devices().contains(d.name()))
                .filter(d -> !request.excluded().contains(d.name())).toList();
        if (chosen.isEmpty()) {
            throw new BadInputException("no disk to back up (disks: " + names + ", excluded: "
                    + request.excluded() + ")");
        }
        for (BlockDevice d : chosen) {
            if (!BackupManifest.isPlainName(d.name())) {
                problems.add("device '" + d.name() + "' cannot name a repository folder (it holds '..'): give the "
                        + "disk another id, or leave it out with --exclude");
            }
        }
        if (!problems.isEmpty()) {
            throw new BadInputException(problems);
        }
        return chosen;
    }
}
