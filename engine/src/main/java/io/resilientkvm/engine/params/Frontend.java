package io.resilientkvm.engine.params;

import java.util.Optional;

/** The {@code frontend-*} parameters: carried for SlapOS compatibility, used by whoever requests the VNC frontend. */
public record Frontend(String softwareType, String softwareUrl, Optional<String> instanceGuid, Optional<String> additionalInstanceGuid,
        String instanceName) {
}
