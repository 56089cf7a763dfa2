package io.resilientkvm.node.peer;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;

/** The channel's JSON, both ends: unknown fields are ignored, so a newer peer's extra fields do not break an older one. */
final class PeerJson {
    static final ObjectMapper MAPPER = new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);
    static final String CONTENT_TYPE = "application/json";

    private PeerJson() {
    }
}
