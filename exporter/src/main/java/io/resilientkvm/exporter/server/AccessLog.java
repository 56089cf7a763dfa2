package io.resilientkvm.exporter.server;

import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.eclipse.jetty.server.RequestLog;

/** The backup server's access log: one line per request (client, node, method, path, status, bytes, milliseconds; never the token). */
final class AccessLog implements RequestLog {
    /** The request attribute naming the calling node (by certificate or token), or "unknown". */
    static final String NODE = "io.resilientkvm.exporter.server.node";

    /** One line per request: method, path, status, bytes, milliseconds (never the token). */
    private static final Logger ACCESS = LoggerFactory.getLogger(BackupServer.class.getName() + ".access");

    /** One line per exchange, once it is complete (Jetty calls it for the requests it refused itself too). */
    @Override
    public void log(Request request, Response response) {
        long ms = System.currentTimeMillis() - Request.getTimeStamp(request);
        Object node = request.getAttribute(NODE);
        ACCESS.info("{} {} {} {} {} {} {}ms", request.getConnectionMetaData().getRemoteSocketAddress(),
                node == null ? ClientTokens.UNKNOWN : node, request.getMethod(), printable(request.getHttpURI().getPathQuery()), response.getStatus(),
                Response.getContentBytesWritten(response), ms);
    }

    /** A request target for the log: bounded, no control characters (it comes from the network). */
    static String printable(String s) {
        String t = s.length() > 300 ? s.substring(0, 300) + "..." : s;
        StringBuilder b = new StringBuilder(t.length());
        for (char c : t.toCharArray()) {
            b.append(c < 0x20 || c == 0x7f ? '?' : c);
        }
        return b.toString();
    }
}
