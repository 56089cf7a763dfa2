package io.resilientkvm.engine.secret;

import io.resilientkvm.engine.error.BadInputException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * What a new set of secrets keeps from an earlier {@code bin/node secrets} folder of the same
 * instance ({@code --from}): the CA (so every ZooKeeper server's truststore stays valid), the
 * ZooKeeper instance and super passwords (the znodes' ACLs are made with them) and each node's
 * own ZooKeeper password. Everything else, node keys, certificates and tokens, is made anew.
 */
public record PreviousSecrets(InstanceCa ca, String superPassword, String zkInstancePassword, Map<String, String> zkNodePasswords) {
    public PreviousSecrets {
        Objects.requireNonNull(ca, "ca");
        Objects.requireNonNull(superPassword, "superPassword");
        Objects.requireNonNull(zkInstancePassword, "zkInstancePassword");
        zkNodePasswords = Map.copyOf(zkNodePasswords);
    }

    /**
     * Reads {@code folder} (the output of an earlier run, with its {@code ca/} folder).
     *
     * @throws BadInputException naming the missing or wrong file, or another instance's CA
     */
    public static PreviousSecrets read(Path folder, String instance, String option) throws BadInputException {
        Path caDir = folder.resolve(InstanceSecrets.CA_FOLDER);
        Path store = caDir.resolve(InstanceSecrets.CA_KEYSTORE);
        if (!Files.isRegularFile(store)) {
            throw new BadInputException(option + " " + folder + ": no " + store + "; give the folder an earlier 'bin/node secrets'"
                    + " wrote, with its ca/ folder brought back from where it is kept offline");
        }
        char[] password = SecretFiles.readSecret(caDir.resolve(InstanceSecrets.CA_KEYSTORE + InstanceSecrets.PASSWORD_SUFFIX),
                option + " CA password").toCharArray();
        InstanceCa ca;
        try (InputStream in = Files.newInputStream(store)) {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(in, password);
            ca = new InstanceCa(new KeyPair(ks.getCertificate("ca").getPublicKey(), (PrivateKey) ks.getKey("ca", password)),
                    (X509Certificate) ks.getCertificate("ca"));
        } catch (IOException | GeneralSecurityException | RuntimeException e) {
            throw new BadInputException(option + " " + folder + ": cannot read the CA's key from " + store + " (" + e.getMessage()
                    + "); check it and its password file", e);
        }
        String expected = InstanceCa.subject(instance);
        if (!ca.certificate().getSubjectX500Principal().getName().equals(expected)) {
            throw new BadInputException(option + " " + folder + ": its CA is '" + ca.certificate().getSubjectX500Principal().getName()
                    + "', not " + expected + "; give this instance's folder, or another --instance");
        }
        String superPassword = SecretFiles.readSecret(caDir.resolve(InstanceSecrets.ZK_SUPER_SECRET), option + " ZooKeeper super");
        Map<String, String> nodes = new TreeMap<>();
        List<String> instancePasswords = new ArrayList<>();
        try (Stream<Path> entries = Files.list(folder)) {
            for (Path d : (Iterable<Path>) entries.filter(Files::isDirectory)::iterator) {
                Path nodeSecret = d.resolve(InstanceSecrets.ZK_NODE_SECRET);
                if (!d.getFileName().toString().equals(InstanceSecrets.CA_FOLDER) && Files.isRegularFile(nodeSecret)) {
                    nodes.put(d.getFileName().toString(), SecretFiles.readSecret(nodeSecret, option + " " + nodeSecret));
                    instancePasswords.add(SecretFiles.readSecret(d.resolve(InstanceSecrets.ZK_INSTANCE_SECRET),
                            option + " " + d.resolve(InstanceSecrets.ZK_INSTANCE_SECRET)));
                }
            }
        } catch (IOException e) {
            throw new BadInputException(option + " " + folder + ": cannot list it (" + e.getMessage() + ")", e);
        }
        Optional<String> zkInstance = instancePasswords.stream().findFirst();
        if (zkInstance.isEmpty() || instancePasswords.stream().distinct().count() != 1) {
            throw new BadInputException(option + " " + folder + ": " + (zkInstance.isEmpty() ? "no node folder with "
                    + InstanceSecrets.ZK_INSTANCE_SECRET : "the nodes' " + InstanceSecrets.ZK_INSTANCE_SECRET + " differ")
                    + "; give the folder an earlier 'bin/node secrets' wrote, as it wrote it");
        }
        return new PreviousSecrets(ca, superPassword, zkInstance.get(), nodes);
    }
}
