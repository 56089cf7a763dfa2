package io.resilientkvm.engine.secret;

import java.security.SecureRandom;
import java.util.HexFormat;

/** Random tokens and passwords: 32 bytes from {@link SecureRandom}, in hex (64 characters, safe in any file or URL). */
final class RandomSecrets {
    private static final int BYTES = 32;

    private final SecureRandom random;

    RandomSecrets(SecureRandom random) {
        this.random = random;
    }

    /** 256 random bits; well beyond {@link SecretFiles#MIN_TOKEN_LENGTH} characters. */
    String next() {
        byte[] b = new byte[BYTES];
        random.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }
}
