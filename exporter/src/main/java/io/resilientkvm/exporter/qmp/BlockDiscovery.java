package io.resilientkvm.exporter.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.resilientkvm.engine.qmp.QmpClient;
import io.resilientkvm.engine.qmp.QmpException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Finds the VM's disks from {@code query-block} (backends and their devices) and
 * {@code query-named-block-nodes} (node details and dirty bitmaps). Works for disks given
 * with {@code -drive} (named backend) and with {@code -blockdev} + {@code -device id=ID}
 * (anonymous backend, named by its qdev id). Empty drives are skipped.
 */
public final class BlockDiscovery {
    private static final long DEFAULT_CLUSTER = 64 * 1024;

    private BlockDiscovery() {
    }

    /** The VM's disks, in {@code query-block} order. */
    public static List<BlockDevice> discover(QmpClient qmp) throws QmpException {
        Map<String, JsonNode> nodes = new HashMap<>();
        JsonNode args = JsonNodeFactory.instance.objectNode().put("flat", true);
        for (JsonNode n : qmp.execute("query-named-block-nodes", args)) {
            nodes.put(n.path("node-name").asText(), n);
        }
        List<BlockDevice> devices = new ArrayList<>();
        for (JsonNode b : qmp.execute("query-block")) {
            JsonNode inserted = b.get("inserted");
            if (inserted == null) {
                continue;
            }
            String nodeName = inserted.path("node-name").asText();
            String name = deviceName(b.path("device").asText(""), b.path("qdev").asText(""), nodeName);
            JsonNode node = nodes.getOrDefault(nodeName, inserted);
            JsonNode image = node.path("image");
            long cluster = image.path("cluster-size").asLong(0);
            List<DirtyBitmap> bitmaps = new ArrayList<>();
            JsonNode bitmapList = node.has("dirty-bitmaps") ? node.get("dirty-bitmaps") : inserted.path("dirty-bitmaps");
            bitmapList.forEach(bm -> bitmaps.add(DirtyBitmap.of(bm)));
            devices.add(new BlockDevice(name, nodeName, node.path("file").asText(inserted.path("file").asText()),
                    node.path("drv").asText(inserted.path("drv").asText()),
                    image.path("virtual-size").asLong(), cluster > 0 ? cluster : DEFAULT_CLUSTER,
                    inserted.path("ro").asBoolean(false), bitmaps));
        }
        return devices;
    }

    /**
     * The backend name when there is one; else the qdev id from the device's QOM path
     * ({@code /machine/peripheral/ID/virtio-backend}) or the bare id; else the node name.
     */
    static String deviceName(String backend, String qdev, String nodeName) {
        if (!backend.isEmpty()) {
            return backend;
        }
        String prefix = "/machine/peripheral/";
        if (qdev.startsWith(prefix)) {
            String rest = qdev.substring(prefix.length());
            int slash = rest.indexOf('/');
            return slash < 0 ? rest : rest.substring(0, slash);
        }
        if (!qdev.isEmpty() && !qdev.startsWith("/")) {
            return qdev;
        }
        return nodeName;
    }
}
