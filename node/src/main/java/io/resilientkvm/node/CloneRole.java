package io.resilientkvm.node;

import io.resilientkvm.engine.backup.BackupPaths;
import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.lifecycle.LifecycleState;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.secret.SecretFiles;
import io.resilientkvm.engine.tls.PinnedTrust;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.importer.service.ImportRound;
import io.resilientkvm.importer.service.ImporterService;
import io.resilientkvm.importer.transfer.BackupFetcher;
import io.resilientkvm.importer.transfer.TransferSettings;
import io.resilientkvm.takeover.membership.MemberInfo;
import io.resilientkvm.takeover.membership.Membership;
import io.resilientkvm.takeover.membership.Role;
import java.net.URI;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A clone's role: the importer, pulling from whichever node is the main of the current epoch
 * (read from its member znode, so after a takeover the clone follows the new main by itself).
 */
final class CloneRole implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CloneRole.class);

    private final ImporterService importer;
    /** By main and address: a pinned main's fetcher trusts that main's certificate only. */
    private final Map<String, BackupFetcher> fetchers;
    private final LifecycleState lifecycle = new LifecycleState("clone role");

    private CloneRole(ImporterService importer, Map<String, BackupFetcher> fetchers) {
        this.importer = importer;
        this.fetchers = fetchers;
        lifecycle.markStarted();
    }

    static CloneRole start(NodeContext ctx, Consumer<ImportRound> afterRound) throws OperatorException {
        Path repository = ctx.config().layout().backupRepository();
        Path tokenFile = ctx.config().backupServer().tokenFile().orElseThrow(() -> new BadInputException(
                "backup-server.token-file is not set in the node configuration of " + ctx.node()
                        + ": a clone presents this token to the main's backup server (the same as the main's peers."
                        + ctx.node() + ".token-file, or its own token-file on one machine); name the token file there"));
        String token = SecretFiles.readToken(tokenFile, "backup-server.token-file");
        Map<String, BackupFetcher> fetchers = new ConcurrentHashMap<>();
        Map<URI, String> owners = new ConcurrentHashMap<>(); // which main announced each address
        ImporterService importer = ImporterService.start(ctx.client(), ctx.layout(),
                ImporterService.Settings.of(ctx.node(), repository)
                        .withFreeSpaceReserve(ctx.config().importer().freeSpaceReserveBytes()),
                (main, manifest, repo) -> download(fetcher(fetchers, transferSettings(ctx.config(), owners.get(main), main,
                        token, tokenFile)), manifest, repo),
                epoch -> {
                    Optional<URI> main = locateMain(ctx, epoch);
                    main.ifPresent(uri -> owners.put(uri, epoch.owner()));
                    return main;
                }, afterRound);
        return new CloneRole(importer, fetchers);
    }

    private static long download(BackupFetcher fetcher, BackupManifest manifest, Path repo) throws OperatorException {
        try {
            return fetcher.fetchFile(manifest, repo).bytes(); // the importer verifies, then writes the manifest
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new OperationFailedException("import of " + manifest.file() + " interrupted", e);
        }
    }

    /**
     * How to fetch from {@code owner}'s backup server at {@code main}: with {@code owner} pinned
     * ({@code peers.OWNER.certificate/fingerprint}), trusting only its certificate and presenting
     * this node's {@code tls} identity; the fetcher refuses what is unsafe ({@link TransferSettings#refusal()}).
     */
    static TransferSettings transferSettings(NodeConfig config, String owner, URI main, String token, Path tokenFile)
            throws BadInputException {
        TransferSettings s = TransferSettings.of(main, token).withTokenFile(tokenFile);
        PinnedTrust trust = owner == null ? PinnedTrust.NONE : PinnedTrust.of(config.peers()).only(owner);
        if (trust.isEmpty()) {
            return s;
        }
        NodeConfig.Identity me = config.tls().orElseThrow(() -> new BadInputException("peers." + owner + " is pinned but "
                + config.node() + " has no tls identity to present to it: set tls (keystore and password file, made by bin/node secrets)"));
        return s.withPinnedMain(owner, trust, me);
    }

    private static BackupFetcher fetcher(Map<String, BackupFetcher> fetchers, TransferSettings settings)
            throws BadInputException {
        String key = settings.pinned().map(TransferSettings.PinnedMain::node).orElse("") + " " + settings.baseUri();
        BackupFetcher f = fetchers.get(key);
        if (f == null) {
            f = new BackupFetcher(settings);
            BackupFetcher raced = fetchers.putIfAbsent(key, f);
            if (raced != null) {
                f.close();
                f = raced;
            }
        }
        return f;
    }

    /** The backup server of the epoch's owner, once it announced itself as main of that epoch. */
    static Optional<URI> locateMain(NodeContext ctx, Epoch epoch) throws OperatorException {
        MemberInfo owner = Membership.list(ctx.client(), ctx.layout()).get(epoch.owner());
        if (owner == null || owner.role() != Role.MAIN || owner.epoch() != epoch.number() || owner.address().isEmpty()) {
            return Optional.empty();
        }
        URI announced = URI.create(owner.address());
        Optional<String> refused = Advertised.refusal(ctx.config().peers(), epoch.owner(), announced);
        if (refused.isPresent()) {
            LOG.warn("Refused: {}", refused.get());
            return Optional.empty();
        }
        return Optional.of(announced);
    }

    ImporterService importer() {
        return importer;
    }

    /** Stops the importer, then its fetchers; later calls do nothing. */
    @Override
    public void close() {
        if (!lifecycle.markClosed()) {
            return;
        }
        importer.close();
        fetchers.values().forEach(f -> {
            try {
                f.close();
            } catch (RuntimeException e) {
                LOG.debug("closing a fetcher failed", e);
            }
        });
    }
}
