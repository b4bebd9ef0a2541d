package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/stratahq/strata/internal/bindings"
	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/store"
)

// secretKey reads the key that encrypts secrets from STRATA_SECRET_KEY or
// --secret-key-file (base64 of 32 bytes, the format of the key file a
// SQLite node keeps in its data directory); nil lets package bindings use
// (or create) the key file there. config.Validate has made sure a
// PostgreSQL store has one.
func secretKey(cfg config.Config) ([]byte, error) {
	switch {
	case cfg.SecretKey != "":
		k, err := bindings.ParseKey(cfg.SecretKey)
		if err != nil {
			return nil, fmt.Errorf("STRATA_SECRET_KEY: %w", err)
		}
		return k, nil
	case cfg.SecretKeyFile != "":
		b, err := os.ReadFile(cfg.SecretKeyFile)
		if err != nil {
			return nil, fmt.Errorf("--secret-key-file: %w", err)
		}
		k, err := bindings.ParseKey(string(b))
		if err != nil {
			return nil, fmt.Errorf("--secret-key-file %s: %w", cfg.SecretKeyFile, err)
		}
		return k, nil
	}
	return nil, nil
}

// keyFingerprintSetting names the store setting that holds the secret
// key's fingerprint.
const keyFingerprintSetting = "secret_key_fingerprint"

// keyFingerprint identifies a secret key without revealing it: SHA-256 of
// a key derived from it (never the key, nor anything that encrypts).
func keyFingerprint(b *bindings.Bindings) string {
	sum := sha256.Sum256(b.Derive("key fingerprint"))
	return hex.EncodeToString(sum[:])
}

// checkKeyFingerprint records the key's fingerprint in a store nodes
// share, if it holds none yet, and refuses to start a node whose key is
// not the one the first node recorded: secrets one node wrote would be
// unreadable on the other, and status links of one would fail on another.
func checkKeyFingerprint(ctx context.Context, st store.Store, b *bindings.Bindings) error {
	fp := keyFingerprint(b)
	got, err := st.SettingClaim(ctx, keyFingerprintSetting, fp)
	if err != nil {
		return fmt.Errorf("check the secret key against the store: %w", err)
	}
	if got != fp {
		return fmt.Errorf("this node's secret key is not the one the other nodes of this database use (fingerprint %s…, the database's %s…): "+
			"start every node with the same --secret-key-file or STRATA_SECRET_KEY", fp[:12], got[:min(12, len(got))])
	}
	return nil
}
