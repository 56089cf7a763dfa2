package io.resilientkvm.cli.kvm;

import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.instance.InstanceLayout;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.instance.VmHost;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Where the instance lives and what host it runs on: a node config file, or a data directory on loopback. */
final class InstanceOptions {
    @Option(names = "--data-dir", paramLabel = "DIR", description = "instance directory (disks, sockets, logs); default ./kvm-data")
    Path dataDir;

    @Option(names = "--config", paramLabel = "NODE.json",
            description = "node configuration (network addresses, VNC, QEMU binary, accelerator); without it: loopback, VNC on a unix socket")
    Path config;

    @Option(names = "--name", paramLabel = "NAME", description = "instance name; default: the node config's, else 'kvm'")
    String name;

    @Option(names = "--accel", paramLabel = "ACCEL", description = "auto, kvm or tcg (overrides the node config); default auto")
    io.resilientkvm.engine.instance.AcceleratorChoice accel;

    NodeConfig node() throws BadInputException {
        return config == null ? null : NodeConfig.load(config);
    }

    VmHost host(NodeConfig node) {
        VmHost h = node == null ? VmHost.loopback() : node.host();
        if (accel != null) {
            h = new VmHost(h.ipv4(), h.ipv6(), h.tapInterface(), h.vncListen(), h.vncPasswordFile(), h.qemuBinary(), accel,
                    h.guestAgentSocket(), h.boot(), h.downloads());
        }
        return h;
    }

    InstanceLayout layout(NodeConfig node) {
        if (dataDir != null) {
            return new InstanceLayout(dataDir);
        }
        return node != null ? node.layout() : new InstanceLayout(Path.of("kvm-data"));
    }

    String name(NodeConfig node) {
        return name != null ? name : node != null ? node.instance() : "kvm";
    }
}
