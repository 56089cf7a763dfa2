package io.resilientkvm.engine.secret;

import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.zk.ZkLayout;
import java.util.Locale;
import java.util.Objects;
import java.util.regex.Pattern;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.util.IPAddress;

/**
 * One node of an instance and the address the other nodes reach it at ({@code NAME=ADDRESS}): an
 * IP literal or a DNS name. It becomes the certificate's subjectAltName, as an IP address or a DNS
 * name, so a client that checks the name it dialled accepts it.
 */
public record NodeAddress(String node, String address) {
    // RFC 1123 host names: labels of letters, digits and inner hyphens, 253 characters at most.
    private static final Pattern DNS_NAME = Pattern.compile(
            "(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\\.?");

    public NodeAddress {
        ZkLayout.requireName("node", node);
        Objects.requireNonNull(address, "address");
        if (!isIp(address) && !DNS_NAME.matcher(address).matches()) {
            throw new IllegalArgumentException("address '" + address + "' of " + node + " is neither an IP address nor a DNS name");
        }
    }

    /**
     * Parses {@code NAME=ADDRESS} as given to {@code --node}.
     *
     * @throws BadInputException naming the value and what a valid one looks like
     */
    public static NodeAddress parse(String spec) throws BadInputException {
        int eq = spec.indexOf('=');
        String example = "; give NAME=ADDRESS, e.g. --node node-a=198.18.0.1 or --node node-a=host-a.example.net";
        if (eq <= 0 || eq == spec.length() - 1) {
            throw new BadInputException("--node '" + spec + "': expected NAME=ADDRESS" + example);
        }
        String node = spec.substring(0, eq).strip();
        String address = spec.substring(eq + 1).strip();
        if (address.startsWith("[") && address.endsWith("]")) {
            address = address.substring(1, address.length() - 1); // [::1] as in URLs
        }
        try {
            ZkLayout.requireName("node", node);
        } catch (IllegalArgumentException e) {
            throw new BadInputException("--node '" + spec + "': " + e.getMessage(), e);
        }
        if (isWildcard(address)) {
            throw new BadInputException("--node '" + spec + "': " + address + " is a wildcard, which no other node can reach;"
                    + " give the address the other nodes reach " + node + " at");
        }
        if (!isIp(address) && !DNS_NAME.matcher(address).matches()) {
            throw new BadInputException("--node '" + spec + "': '" + address + "' is neither an IP address nor a DNS name"
                    + " (no port, no scheme)" + example);
        }
        return new NodeAddress(node, address.toLowerCase(Locale.ROOT));
    }

    /** True when the address is an IP literal (v4 or v6), false for a DNS name. */
    public boolean ip() {
        return isIp(address);
    }

    /** The certificate's subjectAltName entry for this address. */
    GeneralName subjectAltName() {
        return new GeneralName(ip() ? GeneralName.iPAddress : GeneralName.dNSName, address);
    }

    private static boolean isIp(String a) {
        return IPAddress.isValidIPv4(a) || IPAddress.isValidIPv6(a);
    }

    private static boolean isWildcard(String a) {
        return a.equals("0.0.0.0") || (IPAddress.isValidIPv6(a) && a.replace("0", "").replace(":", "").isEmpty());
    }
}
