package io.resilientkvm.schemas;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

/**
 * Strict reading of operator-written JSON: a duplicated key is an error (Jackson would keep the
 * last one silently, and the operator would wonder why the first had no effect), as is trailing
 * content, and errors name the file, line and column.
 */
public final class JsonDocuments {
    private static final ObjectMapper STRICT = JsonMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private JsonDocuments() {
    }

    /** Reads {@code file}, which must hold one JSON object. */
    public static ObjectNode readObject(Path file) throws InvalidDocumentException {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new InvalidDocumentException(List.of(file + ": no such file"));
        } catch (IOException e) {
            throw new InvalidDocumentException(List.of(file + ": cannot read: " + e.getMessage()));
        }
        return parseObject(text, file.toString());
    }

    /** Parses {@code text} (named {@code source} in messages), which must hold one JSON object. */
    public static ObjectNode parseObject(String text, String source) throws InvalidDocumentException {
        JsonNode node;
        try {
            node = STRICT.readTree(text);
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            String where = at == null ? source : source + ":" + at.getLineNr() + ":" + at.getColumnNr();
            throw new InvalidDocumentException(List.of(where + ": not valid JSON: " + e.getOriginalMessage()));
        }
        if (node == null || node.isMissingNode()) {
            throw new InvalidDocumentException(List.of(source + ": empty; expected a JSON object such as {\"ram-size\": 2048}"));
        }
        if (!node.isObject()) {
            throw new InvalidDocumentException(List.of(source + ": expected a JSON object {...}, found " + node.getNodeType().name().toLowerCase(java.util.Locale.ROOT)));
        }
        return (ObjectNode) node;
    }

    /** The mapper used for reading, for callers that bind documents to records. */
    public static ObjectMapper mapper() {
        return STRICT;
    }
}
