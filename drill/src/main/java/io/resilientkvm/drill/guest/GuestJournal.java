package io.resilientkvm.drill.guest;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The guest's journal: 64-byte records {@code RKJ1 TYPE SEQ TIME PAYLOAD SHA\n} appended and
 * fsync'ed one by one by the tiny guest's init, on the main disk and on the external disk.
 * TYPE is B (boot, payload {@code fsck=MAIN,EXT}), D and K (the guest file server's data and
 * authorized_key fetched, payload the first 13 hex digits of their SHA-256), J (a tick); SHA is
 * the first 16 hex digits of the SHA-256 of the text before it.
 */
public final class GuestJournal {
    public static final int RECORD_SIZE = 64;
    private static final Pattern FORMAT = Pattern.compile(
            "RKJ1 ([A-Z]) (\\d{10}) (\\d{10}\\.\\d{3}) (.{13}) ([0-9a-f]{16})\n");

    /** One record; {@code valid} is false when its format or checksum is wrong. */
    public record Record(int index, char type, long seq, double time, String payload, boolean valid) {
    }

    /** What a journal holds, and the first problem found in it, if any. */
    public record Verdict(List<Record> records, Optional<String> problem) {
        public boolean intact() {
            return problem.isEmpty();
        }

        public Optional<Record> last() {
            return records.isEmpty() ? Optional.empty() : Optional.of(records.get(records.size() - 1));
        }

        public long lastSeq() {
            return last().map(Record::seq).orElse(0L);
        }
    }

    private GuestJournal() {
    }

    /** Parses every whole record of {@code bytes} (a torn tail counts as a problem). */
    public static List<Record> parse(byte[] bytes) {
        List<Record> out = new ArrayList<>();
        for (int i = 0; i + RECORD_SIZE <= bytes.length; i += RECORD_SIZE) {
            String text = new String(bytes, i, RECORD_SIZE, StandardCharsets.US_ASCII);
            Matcher m = FORMAT.matcher(text);
            int index = i / RECORD_SIZE;
            if (!m.matches()) {
                out.add(new Record(index, '?', -1, 0, text.strip(), false));
                continue;
            }
            String body = text.substring(0, RECORD_SIZE - 18);
            boolean sumOk = sha256Hex(body).substring(0, 16).equals(m.group(5));
            out.add(new Record(index, m.group(1).charAt(0), Long.parseLong(m.group(2)), Double.parseDouble(m.group(3)),
                    m.group(4).strip(), sumOk));
        }
        return out;
    }

    /**
     * Every record valid, sequence numbers 1, 2, 3... with no gap or repeat, and no torn record
     * at the end: what a journal whose every record was fsync'ed must look like at any instant.
     */
    public static Verdict verify(byte[] bytes) {
        List<Record> records = parse(bytes);
        if (bytes.length % RECORD_SIZE != 0) {
            return new Verdict(records, Optional.of("a torn record at byte " + (bytes.length / RECORD_SIZE) * RECORD_SIZE
                    + " (size " + bytes.length + " is not a multiple of " + RECORD_SIZE + ")"));
        }
        long expected = 1;
        for (Record r : records) {
            if (!r.valid()) {
                return new Verdict(records, Optional.of("record #" + r.index() + " has a bad format or checksum: " + r.payload()));
            }
            if (r.seq() != expected) {
                return new Verdict(records, Optional.of("record #" + r.index() + " has sequence " + r.seq() + ", expected "
                        + expected));
            }
            expected++;
        }
        return new Verdict(records, Optional.empty());
    }

    /** The payload a D or K record carries for {@code content}. */
    public static String payloadOf(byte[] content) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content)).substring(0, 13);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
    }

    private static String sha256Hex(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.US_ASCII)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
    }
}
