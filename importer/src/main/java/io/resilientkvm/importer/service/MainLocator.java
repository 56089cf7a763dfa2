package io.resilientkvm.importer.service;

import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.zk.Epoch;
import java.net.URI;
import java.util.Optional;

/** Finds the backup server of the main of an epoch (the node agent reads the members in ZooKeeper). */
@FunctionalInterface
public interface MainLocator {
    /** The base URI of the backup server of {@code epoch}'s main, empty while it is not announced. */
    Optional<URI> locate(Epoch epoch) throws OperatorException;
}
