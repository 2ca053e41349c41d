// Test infrastructure: a password authenticator plugin for the older release line (Trino 435), whose own
// password-authenticators plugin is not published on Maven Central. Registered as `sentinel-file`; it reads the
// same password file format as Trino's `file` authenticator with PBKDF2 hashes
// (`user:<iterations>:<salt hex>:<hash hex>`, PBKDF2WithHmacSHA1), so both lines share one password file and
// Trino's own HTTP PASSWORD authentication path (HTTPS only, Basic credentials, 401 on failure) is exercised.
// Built by harness/trino.ts with the JDK's javac against trino-spi; never used outside the harness.
package dev.trinosentinel.harness;

import io.trino.spi.Plugin;
import io.trino.spi.security.AccessDeniedException;
import io.trino.spi.security.BasicPrincipal;
import io.trino.spi.security.PasswordAuthenticator;
import io.trino.spi.security.PasswordAuthenticatorFactory;

import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.Principal;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

public final class SentinelPasswordPlugin implements Plugin {
    @Override
    public Iterable<PasswordAuthenticatorFactory> getPasswordAuthenticatorFactories() {
        return List.of(new Factory());
    }

    private static final class Factory implements PasswordAuthenticatorFactory {
        @Override
        public String getName() {
            return "sentinel-file";
        }

        @Override
        public PasswordAuthenticator create(Map<String, String> config) {
            String file = config.get("file.password-file");
            if (file == null) {
                throw new IllegalArgumentException("file.password-file is required");
            }
            return (user, password) -> authenticate(Path.of(file), user, password);
        }
    }

    private static Principal authenticate(Path file, String user, String password) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        for (String line : lines) {
            String[] parts = line.trim().split(":");
            if (parts.length == 4 && parts[0].equals(user) && matches(password, parts[1], parts[2], parts[3])) {
                return new BasicPrincipal(user);
            }
        }
        throw new AccessDeniedException("Invalid credentials");
    }

    private static boolean matches(String password, String iterations, String saltHex, String hashHex) {
        try {
            byte[] salt = HexFormat.of().parseHex(saltHex);
            byte[] expected = HexFormat.of().parseHex(hashHex);
            PBEKeySpec spec = new PBEKeySpec(password.toCharArray(), salt, Integer.parseInt(iterations), expected.length * 8);
            byte[] actual = SecretKeyFactory.getInstance("PBKDF2WithHmacSHA1").generateSecret(spec).getEncoded();
            return MessageDigest.isEqual(expected, actual);
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            return false;
        }
    }
}
