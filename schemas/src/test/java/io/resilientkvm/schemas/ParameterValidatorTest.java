package io.resilientkvm.schemas;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import org.junit.jupiter.api.Test;

class ParameterValidatorTest {
    private static ValidationReport kvm(String json) throws InvalidDocumentException {
        return ParameterValidator.of(SchemaKind.KVM_INSTANCE).validate(JsonDocuments.parseObject(json, "test.json"));
    }

    private static ValidationReport resilient(String json) throws InvalidDocumentException {
        return ParameterValidator.of(SchemaKind.RESILIENT_INSTANCE).validate(JsonDocuments.parseObject(json, "test.json"));
    }

    private static List<String> lines(ValidationReport r) {
        return r.violations().stream().map(Violation::toString).toList();
    }

    @Test
    void anEmptyDocumentGetsTheNewerSeedsDefaults() throws Exception {
        ValidationReport r = kvm("{}");
        assertTrue(r.valid(), lines(r).toString());
        ObjectNode e = r.effective();
        assertEquals(4096, e.get("ram-size").asInt());
        assertEquals(40, e.get("disk-size").asInt());
        assertEquals(2, e.get("cpu-count").asInt());
        assertEquals("virtio", e.get("disk-type").asText());
        assertEquals("[22,80,443]", e.get("nat-rules").toString());
        assertTrue(e.get("use-nat").asBoolean());
        assertTrue(e.get("use-tap").asBoolean());
        assertFalse(e.get("enable-vhost").asBoolean());
        assertTrue(e.get("hard-drive-url-check-certificate").asBoolean());
        assertEquals(8081, e.get("httpd-port").asInt());
        assertEquals("fr", e.get("keyboard-layout-language").asText());
        assertEquals(1024, e.get("nbd-port").asInt());
        assertEquals("qcow2", e.get("external-disk-format").asText());
        assertEquals(0, e.get("external-disk-number").asInt());
        assertEquals("default", e.get("frontend-software-type").asText());
    }

    @Test
    void everyViolationIsReportedAtOnceNamingParameterValueAndRule() throws Exception {
        ValidationReport r = kvm("""
                {"ram-size": 64, "cpu-count": 0, "disk-type": "virtoi", "keyboard-layout-language": "xx",
                 "virtual-hard-drive-md5sum": "abc", "cpu-options": "cores=2;threads=2", "nbd-port": 70000}""");
        List<String> l = lines(r);
        assertTrue(l.contains("ram-size = 64: must be at least 128 (RAM of the VM in MiB)"), l.toString());
        assertTrue(l.stream().anyMatch(s -> s.startsWith("cpu-count = 0: must be at least 1")), l.toString());
        assertTrue(l.stream().anyMatch(s -> s.startsWith("disk-type = \"virtoi\": must be one of virtio, ide, scsi; did you mean virtio?")), l.toString());
        assertTrue(l.stream().anyMatch(s -> s.startsWith("keyboard-layout-language = \"xx\": must be one of ar, da")), l.toString());
        assertTrue(l.stream().anyMatch(s -> s.startsWith("virtual-hard-drive-md5sum = \"abc\": does not have the expected form (MD5")), l.toString());
        assertTrue(l.stream().anyMatch(s -> s.startsWith("cpu-options = \"cores=2;threads=2\": does not have the expected form")), l.toString());
        assertTrue(l.stream().anyMatch(s -> s.startsWith("nbd-port = 70000: must be at most 65535")), l.toString());
        assertTrue(l.stream().anyMatch(s -> s.contains("virtual-hard-drive-md5sum") && s.contains("without virtual-hard-drive-url")), l.toString());
        assertEquals(8, l.size(), l.toString());
    }

    @Test
    void anUnknownNameSuggestsTheClosestKnownOne() throws Exception {
        List<String> l = lines(kvm("{\"ram_size\": 2048, \"cpu-cont\": 2, \"completely-unrelated-thing\": 1}"));
        assertTrue(l.contains("ram_size = 2048: is not a known parameter; did you mean ram-size?"), l.toString());
        assertTrue(l.contains("cpu-cont = 2: is not a known parameter; did you mean cpu-count?"), l.toString());
        assertTrue(l.stream().anyMatch(s -> s.startsWith("completely-unrelated-thing = 1: is not a known parameter; known names")), l.toString());
    }

    @Test
    void numbersAndBooleansWrittenAsStringsGetAHint() throws Exception {
        List<String> l = lines(kvm("{\"ram-size\": \"2048\", \"use-nat\": \"True\"}"));
        assertTrue(l.contains("ram-size = \"2048\": must be an integer, not a string: write 2048 without quotes"), l.toString());
        assertTrue(l.contains("use-nat = \"True\": must be a boolean, not a string: write true without quotes"), l.toString());
    }

    @Test
    void externalDiskWithTheLegacyNumberIsAnError() throws Exception {
        List<String> l = lines(kvm("""
                {"external-disk-number": 2, "external-disk": {"first": {"path": "/srv/a.qcow2", "index": 1}}}"""));
        assertEquals(1, l.size(), l.toString());
        assertTrue(l.get(0).startsWith("external-disk: cannot be used together with external-disk-number = 2"), l.toString());
    }

    @Test
    void externalDisksAreCheckedOneByOne() throws Exception {
        List<String> l = lines(kvm("""
                {"external-disk": {
                   "first": {"path": "/srv/a.qcow2", "index": 1, "format": "qcow3"},
                   "second": {"path": ""},
                   "third": {"path": "/srv/c.raw", "index": 1, "cahce": "none"}}}"""));
        assertTrue(l.stream().anyMatch(s -> s.startsWith("external-disk.first.format = \"qcow3\": must be one of qcow2")), l.toString());
        assertTrue(l.contains("external-disk.second.path = \"\": must not be empty"), l.toString());
        assertTrue(l.contains("external-disk.second.index: is required when there is more than one external disk: it fixes the order the guest sees"), l.toString());
        assertTrue(l.stream().anyMatch(s -> s.startsWith("external-disk.third.index = 1: is already used by external-disk.first")), l.toString());
        assertTrue(l.contains("external-disk.third.cahce = \"none\": is not a known option; did you mean cache?"), l.toString());
        assertEquals(5, l.size(), l.toString());
    }

    /** SlapOS software/kvm test.py, ExternalDiskModernMixin, and its TestExternalDiskModernIndexRequired. */
    @Test
    void theSeedSuitesDiskNamesRelativePathAndQcowAreAccepted() throws Exception {
        ValidationReport r = kvm("""
                {"external-disk": {
                   "second disk": {"path": "second_disk", "index": 2},
                   "third disk": {"path": "/srv/work/third_disk", "index": 3, "cache": "none"},
                   "first disk": {"path": "/srv/work/first_disk", "index": 1, "format": "qcow"}}}""");
        assertTrue(r.valid(), lines(r).toString());
        List<String> l = lines(kvm("""
                {"external-disk": {
                   "second disk": {"path": "second_disk"},
                   "third disk": {"path": "/srv/work/third_disk", "index": 3},
                   "first disk": {"path": "/srv/work/first_disk", "index": 1}}}"""));
        assertEquals(List.of("external-disk.second disk.index: is required when there is more than one external disk:"
                + " it fixes the order the guest sees"), l);
    }

    @Test
    void emptyDiskNamesAndNamesWithControlCharactersAreRefused() throws Exception {
        List<String> l = lines(kvm("{\"external-disk\": {\"\": {\"path\": \"/a\"}, \"tab\\there\": {\"path\": \"/b\"}}}"));
        String rule = ": has a name that is not allowed: a name must not be empty nor hold control characters"
                + " (newline, tab): it identifies the disk in messages and in etc/.data-disk-ids";
        assertEquals(List.of("external-disk = \"\"" + rule, "external-disk = \"tab\\there\"" + rule), l);
    }

    @Test
    void formatsQemuOpensOnlyReadOnlyNeedReadOnly() throws Exception {
        List<String> l = lines(kvm("{\"external-disk\": {\"iso\": {\"path\": \"/srv/a.cloop\", \"format\": \"cloop\"}}}"));
        assertEquals(List.of("external-disk.iso.format = \"cloop\": is opened read-only by QEMU: set \"read-only\": true on this disk,"
                + " or convert the image (qemu-img convert -O qcow2)"), l);
        assertTrue(kvm("{\"external-disk\": {\"iso\": {\"path\": \"/a\", \"format\": \"dmg\", \"read-only\": true}}}").valid());
    }

    @Test
    void automaticTakeoverIsRefusedUntilItExists() throws Exception {
        List<String> l = lines(resilient("{\"takeover-automatic\": true}"));
        assertEquals(1, l.size(), l.toString());
        assertTrue(l.get(0).startsWith("takeover-automatic = true: automatic takeover is not implemented yet"), l.toString());
        assertTrue(l.get(0).contains("run bin/takeover --config NODE.json on the clone"), l.toString());
        assertTrue(resilient("{\"takeover-automatic\": false}").valid());
        assertTrue(resilient("{}").valid());
    }

    @Test
    void externalDiskDefaultsAreFilledPerDisk() throws Exception {
        ValidationReport r = kvm("{\"external-disk\": {\"only\": {\"path\": \"/srv/a.qcow2\"}}}");
        assertTrue(r.valid(), lines(r).toString());
        assertEquals("writeback", r.effective().at("/external-disk/only/cache").asText());
    }

    @Test
    void httpServerRequiresNat() throws Exception {
        List<String> l = lines(kvm("{\"enable-http-server\": true, \"use-nat\": false}"));
        assertEquals(List.of("enable-http-server = true: requires use-nat = true: the guest reaches the file server at 10.0.2.100 through the NAT interface"), l);
    }

    @Test
    void natRulesAcceptTheSeedsStringFormAndAnArray() throws Exception {
        assertTrue(kvm("{\"nat-rules\": \"22 80 443\"}").valid());
        assertTrue(kvm("{\"nat-rules\": [22, 8080]}").valid());
        List<String> l = lines(kvm("{\"nat-rules\": \"22 ssh\"}"));
        assertEquals(1, l.size(), l.toString());
        assertTrue(l.get(0).startsWith("nat-rules = \"22 ssh\": does not have the expected form: guest TCP ports"), l.toString());
        l = lines(kvm("{\"nat-rules\": \"22 60000\"}"));
        assertTrue(l.get(0).contains("port 60000 is out of range"), l.toString());
    }

    @Test
    void cpuOptionsAndNumaFollowQemusForms() throws Exception {
        assertTrue(kvm("{\"cpu-count\": 4, \"cpu-options\": \"cores=2,threads=2,sockets=1\"}").valid());
        assertTrue(kvm("{\"cpu-count\": 2, \"cpu-options\": \"maxcpus=8\", \"numa\": \"node,nodeid=0,cpus=0-3 node,nodeid=1,cpus=4-7\"}").valid());
        List<String> l = lines(kvm("{\"cpu-count\": 4, \"cpu-options\": \"cores=2,threads=1,sockets=1,maxcpus=2\"}"));
        assertTrue(l.contains("cpu-options = \"cores=2,threads=1,sockets=1,maxcpus=2\": maxcpus = 2 is below cpu-count = 4"), l.toString());
        assertFalse(kvm("{\"numa\": \"nodeid=1\"}").valid());
    }

    @Test
    void theResilientSchemaAddsItsParametersToTheKvmOnes() throws Exception {
        ValidationReport r = resilient("{\"-sla-0-computer_guid\": \"COMP-1\", \"-sla-1-computer_guid\": \"COMP-2\", \"ram-size\": 1024}");
        assertTrue(r.valid(), lines(r).toString());
        assertEquals("2W", r.effective().get("remove-backup-older-than").asText());
        assertFalse(r.effective().has("resiliency-backup-periodicity"), "no default: a random daily time is chosen per instance");
        assertEquals(4096 / 4, r.effective().get("ram-size").asInt());
        List<String> l = lines(resilient("{\"remove-backup-older-than\": \"2 weeks\", \"ram-size\": 1,"
                + " \"-sla-1-computer_guid\": \"A\", \"-sla-2-computer_guid\": \"A\"}"));
        assertTrue(l.stream().anyMatch(s -> s.startsWith("remove-backup-older-than = \"2 weeks\": does not have the expected form")), l.toString());
        assertTrue(l.stream().anyMatch(s -> s.startsWith("ram-size = 1: must be at least 128")), l.toString());
        assertTrue(l.stream().anyMatch(s -> s.startsWith("-sla-2-computer_guid = \"A\": is the same node as -sla-1-computer_guid")), l.toString());
        assertFalse(kvm("{\"remove-backup-older-than\": \"2W\"}").valid(), "a plain KVM instance has no backup parameters");
    }

    @Test
    void nodeConfigRequiresItsFieldsAndFillsSectionDefaults() throws Exception {
        ParameterValidator v = ParameterValidator.of(SchemaKind.NODE_CONFIG);
        ValidationReport r = v.validate(JsonDocuments.parseObject("{\"node\": \"n1\", \"data-dir\": \"/tmp/x\", \"parameters\": \"p.json\"}", "n"));
        assertTrue(r.valid(), lines(r).toString());
        assertEquals("127.0.0.1", r.effective().at("/network/ipv4").asText());
        assertEquals("unix", r.effective().at("/vnc/listen").asText());
        assertEquals("auto", r.effective().at("/qemu/accelerator").asText());
        List<String> l = lines(v.validate(JsonDocuments.parseObject("{\"network\": {\"ipv5\": \"x\"}}", "n")));
        assertTrue(l.contains("node: is required"), l.toString());
        assertTrue(l.contains("data-dir: is required"), l.toString());
        assertTrue(l.contains("network.ipv5 = \"x\": is not a known option; did you mean ipv4?"), l.toString());
    }

    @Test
    void reportCanBeTurnedIntoOneProblemPerLineNamingTheFile() throws Exception {
        InvalidDocumentException e = org.junit.jupiter.api.Assertions.assertThrows(InvalidDocumentException.class,
                () -> kvm("{\"ram-size\": 1, \"disk-size\": 0}").orThrow(java.nio.file.Path.of("params.json")));
        assertEquals(2, e.problems().size());
        assertTrue(e.problems().get(0).startsWith("params.json: ram-size = 1"), e.problems().toString());
    }
}
