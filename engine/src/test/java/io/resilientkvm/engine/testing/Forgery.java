package io.resilientkvm.engine.testing;

import java.nio.file.Path;

/**
 * The forged incrementals every layer must refuse (issue 12's must-show list). {@link #apply}
 * rewrites a real incremental; where the forgery names a host file, that file is {@code host},
 * a FIFO in the tests, so that following the reference would block.
 */
public enum Forgery {
    ABSOLUTE_BACKING,
    JSON_BACKING,
    RAW_BACKING_FORMAT,
    EXTERNAL_DATA_FILE,
    BACKING_LOOP,
    TRUNCATED_HEADER,
    ABSURD_SIZE;

    /**
     * Forges {@code inc} (a qcow2 backed by its parent) and re-publishes its manifest.
     *
     * @return text the refusal must contain
     */
    public String apply(Path inc, Path host) throws Exception {
        String expected = switch (this) {
            case ABSOLUTE_BACKING -> {
                ForgedImage.of(inc).backing(host.toString()).write();
                yield "its backing file is '" + host + "' (an absolute host path), not '";
            }
            case JSON_BACKING -> {
                String json = "json:{\"driver\":\"raw\",\"file\":{\"driver\":\"file\",\"filename\":\"" + host + "\"}}";
                ForgedImage.of(inc).backing(json).write();
                yield "its backing file is '" + json + "' (a json: pseudo-protocol), not '";
            }
            case RAW_BACKING_FORMAT -> {
                ForgedImage.of(inc).backingFormat("raw").write();
                yield "its backing format is 'raw', not qcow2";
            }
            case EXTERNAL_DATA_FILE -> {
                ForgedImage.of(inc).dataFile(host.toString()).write();
                yield "it keeps its data in an external data file '" + host + "'";
            }
            case BACKING_LOOP -> {
                ForgedImage.of(inc).backing(inc.getFileName().toString()).write();
                yield "its backing file is '" + inc.getFileName() + "', itself (a loop)";
            }
            case TRUNCATED_HEADER -> {
                ForgedImage.truncate(inc, 50);
                yield "truncated header: 50 bytes";
            }
            case ABSURD_SIZE -> {
                ForgedImage.of(inc).virtualSize(1L << 62).write();
                yield "virtual size 4611686018427387904 bytes (more than";
            }
        };
        ForgedImage.rehash(inc);
        return expected;
    }

    /** True when the forgery names {@code host}: a test must show it was never opened. */
    public boolean namesHostFile() {
        return this == ABSOLUTE_BACKING || this == JSON_BACKING || this == EXTERNAL_DATA_FILE;
    }
}
