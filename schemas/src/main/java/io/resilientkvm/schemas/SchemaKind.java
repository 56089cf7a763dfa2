package io.resilientkvm.schemas;

/** The documents resilient-kvm validates, each with its JSON Schema on the classpath. */
public enum SchemaKind {
    /** SlapOS-style parameters of a KVM instance (software type {@code kvm}). */
    KVM_INSTANCE("instance-kvm-input-schema.json", "instance parameters"),
    /** The KVM parameters plus the resilient ones (software type {@code kvm-resilient}). */
    RESILIENT_INSTANCE("instance-kvm-resilient-input-schema.json", "resilient instance parameters"),
    /** A node's configuration file. */
    NODE_CONFIG("node-config-schema.json", "node configuration"),
    /** A backup manifest ({@code <file>.json} beside each backup file, format 1). */
    BACKUP_MANIFEST("backup-manifest-schema.json", "backup manifest");

    private final String resource;
    private final String what;

    SchemaKind(String resource, String what) {
        this.resource = resource;
        this.what = what;
    }

    /** File name of the schema, beside this class on the classpath. */
    public String resource() {
        return resource;
    }

    /** What such a document is, for messages. */
    public String what() {
        return what;
    }
}
