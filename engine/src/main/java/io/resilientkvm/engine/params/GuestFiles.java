package io.resilientkvm.engine.params;

import java.util.Optional;

/** {@code enable-http-server} and the files it serves to the guest at http://10.0.2.100/. */
public record GuestFiles(boolean enabled, int httpdPort, Optional<String> authorizedKey, Optional<String> data) {
}
