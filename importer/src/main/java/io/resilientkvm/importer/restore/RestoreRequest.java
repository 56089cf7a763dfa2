package io.resilientkvm.importer.restore;

import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * What to restore and where.
 *
 * @param device       the disk; empty when the repository has exactly one
 * @param until        the point: a backup file name, {@code <chain>/<file>}, a chain id (its newest
 *                     backup) or an ISO-8601 time (newest backup at or before it); empty for the newest
 * @param output       the image to write (materialize) or the overlay to create (instant)
 * @param format       the output format; instant overlays are always qcow2
 * @param force        replace an existing output
 * @param verification how much of the chain up to the point is checked first
 */
public record RestoreRequest(Optional<String> device, Optional<String> until, Path output, Format format, boolean force,
        Verification verification) {
    /** Output image formats. */
    public enum Format {
        QCOW2, RAW;

        /** The name qemu-img uses. */
        public String qemuName() {
            return name().toLowerCase();
        }
    }

    /** How much is checked before restoring. */
    public enum Verification {
        /** Every file's SHA-256 against its manifest, {@code qemu-img check}, backing names and sizes. */
        FULL,
        /** As FULL without reading the data for SHA-256: milliseconds whatever the size. */
        QUICK,
        /** Nothing: the operator takes the risk (--no-verify). */
        NONE
    }

    public RestoreRequest {
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(until, "until");
        Objects.requireNonNull(output, "output");
        Objects.requireNonNull(format, "format");
        Objects.requireNonNull(verification, "verification");
    }

    /** Newest backup of the only disk, qcow2, full verification, no overwrite. */
    public static RestoreRequest to(Path output) {
        return new RestoreRequest(Optional.empty(), Optional.empty(), output, Format.QCOW2, false, Verification.FULL);
    }

    public RestoreRequest withDevice(String d) {
        return new RestoreRequest(Optional.ofNullable(d), until, output, format, force, verification);
    }

    public RestoreRequest withUntil(String u) {
        return new RestoreRequest(device, Optional.ofNullable(u), output, format, force, verification);
    }

    public RestoreRequest withFormat(Format f) {
        return new RestoreRequest(device, until, output, f, force, verification);
    }

    public RestoreRequest withForce(boolean f) {
        return new RestoreRequest(device, until, output, format, f, verification);
    }

    public RestoreRequest withVerification(Verification v) {
        return new RestoreRequest(device, until, output, format, force, v);
    }
}
