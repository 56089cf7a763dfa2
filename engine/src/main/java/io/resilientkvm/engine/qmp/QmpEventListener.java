package io.resilientkvm.engine.qmp;

/**
 * Receives QMP events. Called on the client's single event thread, in arrival order; a
 * listener may issue QMP commands but should return quickly.
 */
@FunctionalInterface
public interface QmpEventListener {
    void onEvent(QmpEvent event);
}
