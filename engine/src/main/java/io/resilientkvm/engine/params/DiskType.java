package io.resilientkvm.engine.params;

/** The bus of the main disk ({@code disk-type}), with the QEMU device that emulates it. */
public enum DiskType {
    VIRTIO("virtio", "virtio-blk-pci", "virtio0"),
    IDE("ide", "ide-hd", "ide0"),
    SCSI("scsi", "scsi-hd", "scsi0");

    private final String parameterValue;
    private final String qemuDevice;
    private final String mainDeviceId;

    DiskType(String parameterValue, String qemuDevice, String mainDeviceId) {
        this.parameterValue = parameterValue;
        this.qemuDevice = qemuDevice;
        this.mainDeviceId = mainDeviceId;
    }

    public static DiskType fromParameter(String value) {
        for (DiskType t : values()) {
            if (t.parameterValue.equals(value)) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown disk-type " + value);
    }

    public String qemuDevice() {
        return qemuDevice;
    }

    /**
     * Device id of the main disk. {@code virtio0} for virtio, as in the seed system, so that
     * operators find the bitmap names they know ({@code qmpbackup-virtio0-…}).
     */
    public String mainDeviceId() {
        return mainDeviceId;
    }
}
