package io.resilientkvm.engine.secret;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.error.BadInputException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code --node NAME=ADDRESS}: IP literals and DNS names are taken; anything else is refused, saying why. */
class NodeAddressTest {
    @Test
    void anIpOrADnsNameIsTaken() throws Exception {
        NodeAddress v4 = NodeAddress.parse("node-a=198.18.0.1");
        assertEquals(new NodeAddress("node-a", "198.18.0.1"), v4);
        assertTrue(v4.ip());
        NodeAddress v6 = NodeAddress.parse("node-b=[2001:DB8::2]");
        assertEquals("2001:db8::2", v6.address());
        assertTrue(v6.ip());
        NodeAddress dns = NodeAddress.parse("node-c=Host-C.example.net");
        assertEquals("host-c.example.net", dns.address());
        assertFalse(dns.ip());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "node-a|expected NAME=ADDRESS",
        "node-a=|expected NAME=ADDRESS",
        "=198.18.0.1|expected NAME=ADDRESS",
        "../x=198.18.0.1|node name '../x' is not valid",
        "node-a=0.0.0.0|is a wildcard",
        "node-a=::|is a wildcard",
        "node-a=198.18.0.1:8443|neither an IP address nor a DNS name",
        "node-a=https://host-a|neither an IP address nor a DNS name",
        "node-a=host_a.example|neither an IP address nor a DNS name",
        "node-a=-host|neither an IP address nor a DNS name"})
    void anythingElseIsRefusedNamingTheValue(String spec, String why) {
        BadInputException e = assertThrows(BadInputException.class, () -> NodeAddress.parse(spec));
        assertTrue(e.getMessage().contains("--node '" + spec + "'"), e.getMessage());
        assertTrue(e.getMessage().contains(why), e.getMessage());
    }
}
