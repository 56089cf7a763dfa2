package io.resilientkvm.engine.zk;

/**
 * Free text published in ZooKeeper (an importer's last error, which quotes qemu-img and remote
 * servers verbatim): control characters (C0, DEL, C1, bidirectional overrides) become spaces, a
 * run of them one space, and the text is cut at {@link #MAX_CHARS} characters with a note of
 * how much was left out. Everything printable, host paths included, is kept as is.
 */
public final class PublishedText {
    /** 1 KiB of text is a full error message; znodes stay small whatever a tool prints. */
    public static final int MAX_CHARS = 1024;
    private static final int NOTE_ROOM = 40;

    private PublishedText() {
    }

    /** The text as it may be published; null stays null. */
    public static String sanitize(String text) {
        if (text == null) {
            return null;
        }
        StringBuilder b = new StringBuilder(Math.min(text.length(), MAX_CHARS + 40));
        boolean space = false;
        int i = 0;
        for (; i < text.length() && b.length() < MAX_CHARS; i++) {
            char c = text.charAt(i);
            if (isControl(c)) {
                if (!space && b.length() > 0) {
                    b.append(' ');
                }
                space = true;
                continue;
            }
            if (Character.isSurrogate(c)) {
                // A pair is kept whole when it fits; a lone or cut one is not text.
                if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))
                        && b.length() + 2 <= MAX_CHARS) {
                    b.append(c).append(text.charAt(++i));
                    space = false;
                }
                continue;
            }
            b.append(c);
            space = false;
        }
        int left = text.length() - i;
        if (left == 0) {
            return b.toString().strip();
        }
        // Room for the note, so the result is at most MAX_CHARS and sanitizing it again changes nothing.
        int cut = MAX_CHARS - NOTE_ROOM;
        if (Character.isHighSurrogate(b.charAt(cut - 1))) {
            cut--;
        }
        left += b.length() - cut;
        b.setLength(cut);
        return b.toString().strip() + " ... (" + left + " more characters)";
    }

    private static boolean isControl(char c) {
        return c < 0x20 || (c >= 0x7f && c <= 0x9f) || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)
                || c == 0x200e || c == 0x200f || c == 0x061c;
    }
}
