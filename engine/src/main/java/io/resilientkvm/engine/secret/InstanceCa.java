package io.resilientkvm.engine.secret;

import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.Objects;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;

/**
 * The small certificate authority of one instance: an EC P-256 key and its self-signed
 * certificate (path length 0: it signs node certificates only), and the node certificates it
 * issues (CN the node, subjectAltName its address, serverAuth and clientAuth). EC P-256 rather
 * than RSA 3072: the same strength class for the lifetime of these certificates, keys made in
 * milliseconds instead of seconds, smaller handshakes, and every JDK TLS stack and ZooKeeper's
 * (JDK) TLS accept it. Signing and conversion use the JDK's providers: no provider is registered.
 */
public record InstanceCa(KeyPair keys, X509Certificate certificate) {
    /** How long the CA certificate is valid; node certificates are renewed under it. */
    public static final Duration CA_VALIDITY = Duration.ofDays(3650);
    /** How long a node certificate is valid (the CA/Browser Forum's former maximum, 825 days). */
    public static final Duration NODE_VALIDITY = Duration.ofDays(825);
    /** Certificates start an hour back, so a host whose clock is a little behind accepts them. */
    static final Duration BACKDATE = Duration.ofHours(1);
    private static final String SIGNATURE = "SHA256withECDSA";

    public InstanceCa {
        Objects.requireNonNull(keys, "keys");
        Objects.requireNonNull(certificate, "certificate");
    }

    /** A new CA for {@code instance}, valid from {@code now} for {@link #CA_VALIDITY}. */
    public static InstanceCa create(String instance, Instant now, SecureRandom random) throws GeneralSecurityException {
        KeyPair keys = newKeyPair(random);
        X500Name name = new X500Name(subject(instance));
        X509v3CertificateBuilder b = builder(name, name, keys.getPublic(), now, CA_VALIDITY, random);
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(keys.getPublic()));
        } catch (CertIOException e) {
            throw new GeneralSecurityException("cannot encode the CA's extensions: " + e.getMessage(), e);
        }
        return new InstanceCa(keys, sign(b, keys));
    }

    /** The CA certificate's subject for {@code instance} (RFC 2253, as {@code X500Principal.getName()} prints it). */
    public static String subject(String instance) {
        return new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.CN, "resilient-kvm CA of instance " + instance).build()
                .toString();
    }

    /** A new EC P-256 key pair (a node's or a ZooKeeper server's). */
    public static KeyPair newKeyPair(SecureRandom random) throws GeneralSecurityException {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"), random);
        return g.generateKeyPair();
    }

    /**
     * A certificate for {@code key}: subject CN {@code commonName}, subjectAltName {@code address},
     * for TLS servers and clients, valid from {@code now} for {@link #NODE_VALIDITY} or until the CA's end if sooner.
     */
    public X509Certificate issue(String commonName, NodeAddress address, PublicKey key, Instant now, SecureRandom random)
            throws GeneralSecurityException {
        X500Name subject = new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.CN, commonName).build();
        X500Name issuer = X500Name.getInstance(certificate.getSubjectX500Principal().getEncoded());
        // Never past the CA's own end: a renewal late in the CA's life gets a shorter certificate, not an unverifiable one.
        Duration validity = NODE_VALIDITY;
        Instant caEnd = certificate.getNotAfter().toInstant();
        if (now.plus(validity).isAfter(caEnd)) {
            validity = Duration.between(now, caEnd);
        }
        X509v3CertificateBuilder b = builder(issuer, subject, key, now, validity, random);
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
            b.addExtension(Extension.extendedKeyUsage, false,
                    new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
            b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(address.subjectAltName()));
            b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(key));
            b.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(certificate));
        } catch (CertIOException e) {
            throw new GeneralSecurityException("cannot encode the extensions of " + commonName + "'s certificate: "
                    + e.getMessage(), e);
        }
        return sign(b, keys);
    }

    private static X509v3CertificateBuilder builder(X500Name issuer, X500Name subject, PublicKey key, Instant now,
            Duration validity, SecureRandom random) {
        // A positive serial of 127 random bits: unique without any state to keep (RFC 5280 allows up to 20 octets).
        BigInteger serial = new BigInteger(127, random).setBit(0);
        return new JcaX509v3CertificateBuilder(issuer, serial, Date.from(now.minus(BACKDATE)), Date.from(now.plus(validity)),
                subject, key);
    }

    private static X509Certificate sign(X509v3CertificateBuilder b, KeyPair signer) throws GeneralSecurityException {
        try {
            return new JcaX509CertificateConverter().getCertificate(
                    b.build(new org.bouncycastle.operator.jcajce.JcaContentSignerBuilder(SIGNATURE).build(signer.getPrivate())));
        } catch (OperatorCreationException e) {
            throw new GeneralSecurityException("cannot sign with " + SIGNATURE + ": " + e.getMessage(), e);
        }
    }
}
