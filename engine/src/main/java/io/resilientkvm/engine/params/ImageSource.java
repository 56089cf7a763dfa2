package io.resilientkvm.engine.params;

import java.net.URI;
import java.util.Objects;
import java.util.Optional;

/** {@code virtual-hard-drive-url} and its companions: where the main disk's image comes from. */
public record ImageSource(URI url, Optional<String> md5, Optional<String> sha256, boolean gzipped, boolean checkCertificate) {
    public ImageSource {
        Objects.requireNonNull(url, "url");
        md5 = md5.map(m -> m.toLowerCase(java.util.Locale.ROOT));
        sha256 = sha256.map(m -> m.toLowerCase(java.util.Locale.ROOT));
    }

    public ImageSource(URI url, Optional<String> md5, boolean gzipped, boolean checkCertificate) {
        this(url, md5, Optional.empty(), gzipped, checkCertificate);
    }
}
