package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stratahq/strata/internal/record"
)

// BindingsApplyParams are the binding resources of a project's deploy
// (carried in DeploymentApplyParams.Bindings, applied in the same
// transaction): the complete sets afterwards. Removing a KV namespace
// deletes its entries; removing a database forgets its configuration (a
// SQLite file is left on disk, data is never deleted by a deploy). A name
// owned by another project is ErrConflict.
type BindingsApplyParams struct {
	Databases []record.DatabaseConfig
	KV        []record.KVNamespace
}

// Limits of databases, KV entries and secrets.
const (
	DefaultMaxConnections = 10      // DatabaseConfig.MaxConnections when 0
	MaxMaxConnections     = 1000    // the highest MaxConnections accepted
	KVMaxKeyBytes         = 512     // keys are 1..512 bytes of UTF-8 without NUL
	KVMaxValueBytes       = 1 << 20 // 1 MiB
	KVDefaultListLimit    = 1000    // KVListParams.Limit when 0
	SecretMaxNameBytes    = 128
)

// Validate checks what needs no database: names present and not listed
// twice (ErrConflict), known engines, a URL exactly for PostgreSQL
// databases, MaxConnections 0 (DefaultMaxConnections) or
// 1..MaxMaxConnections. The Project fields are ignored: backends set them to
// project. DeploymentApplyParams.Validate calls it.
func (p BindingsApplyParams) Validate(project string) error {
	dbs := make(map[string]bool, len(p.Databases))
	for _, d := range p.Databases {
		if d.Name == "" {
			return fmt.Errorf("deploy project %s: database with empty name", project)
		}
		if dbs[d.Name] {
			return fmt.Errorf("deploy project %s: database %s listed twice: %w", project, d.Name, ErrConflict)
		}
		dbs[d.Name] = true
		switch d.Engine {
		case record.EnginePostgres:
			if d.URL == "" {
				return fmt.Errorf("deploy project %s: database %s: engine %s needs a url", project, d.Name, record.EnginePostgres)
			}
		case record.EngineSQLite:
			if d.URL != "" {
				return fmt.Errorf("deploy project %s: database %s: engine %s takes no url (Strata manages the file)", project, d.Name, record.EngineSQLite)
			}
		default:
			return fmt.Errorf("deploy project %s: database %s: engine %q is not %s or %s", project, d.Name, d.Engine, record.EngineSQLite, record.EnginePostgres)
		}
		if d.MaxConnections < 0 || d.MaxConnections > MaxMaxConnections {
			return fmt.Errorf("deploy project %s: database %s: max connections %d is not in 1..%d", project, d.Name, d.MaxConnections, MaxMaxConnections)
		}
	}
	kv := make(map[string]bool, len(p.KV))
	for _, n := range p.KV {
		if n.Name == "" {
			return fmt.Errorf("deploy project %s: kv namespace with empty name", project)
		}
		if kv[n.Name] {
			return fmt.Errorf("deploy project %s: kv namespace %s listed twice: %w", project, n.Name, ErrConflict)
		}
		kv[n.Name] = true
	}
	return nil
}

// CheckKVKey reports whether key is a valid KV key: 1..KVMaxKeyBytes bytes
// (longer wraps ErrTooLarge) of valid UTF-8 without NUL, which PostgreSQL
// text cannot hold.
func CheckKVKey(key string) error {
	switch {
	case key == "":
		return errors.New("empty key")
	case len(key) > KVMaxKeyBytes:
		return fmt.Errorf("key of %d bytes is over the limit of %d: %w", len(key), KVMaxKeyBytes, ErrTooLarge)
	case !utf8.ValidString(key):
		return fmt.Errorf("key %q is not valid UTF-8", key)
	case strings.IndexByte(key, 0) >= 0:
		return fmt.Errorf("key %q contains NUL", key)
	}
	return nil
}

// Validate checks a listing: a namespace, and a prefix and cursor that
// could be (parts of) keys.
func (p KVListParams) Validate() error {
	if p.Namespace == "" {
		return errors.New("empty namespace")
	}
	if p.Limit < 0 {
		return fmt.Errorf("negative limit %d", p.Limit)
	}
	for _, s := range []string{p.Prefix, p.After} {
		if s == "" {
			continue
		}
		if err := CheckKVKey(s); err != nil {
			return fmt.Errorf("prefix or cursor: %w", err)
		}
	}
	return nil
}

// KVPrefixEnd returns the least string greater than every string that
// starts with prefix (valid UTF-8), so that a listing scans the key range
// [prefix, end) of an index; ok is false when there is no such bound (an
// empty prefix, or one of only U+10FFFF). It relies on UTF-8 sorting
// bytewise in code point order: the last code point below U+10FFFF is
// replaced by the next one (skipping surrogates), and what follows it
// dropped, which keeps the bound valid UTF-8 (PostgreSQL checks).
func KVPrefixEnd(prefix string) (end string, ok bool) {
	for i := len(prefix); i > 0; {
		r, size := utf8.DecodeLastRuneInString(prefix[:i])
		i -= size
		if r == utf8.MaxRune || r == utf8.RuneError && size == 1 {
			continue
		}
		next := r + 1
		if next == 0xD800 {
			next = 0xE000
		}
		return prefix[:i] + string(next), true
	}
	return "", false
}

// CheckSecretName reports whether name is a valid secret name: 1..128
// ASCII letters, digits and _, not starting with a digit, like an
// environment variable (the rule the manifest and the API apply too).
func CheckSecretName(name string) error {
	ok := name != "" && len(name) <= SecretMaxNameBytes
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9'
	}
	if !ok {
		return fmt.Errorf("secret name %q: want 1..%d characters A-Z, a-z, 0-9 and _, not starting with a digit", name, SecretMaxNameBytes)
	}
	return nil
}

// CheckSecretProject reports whether a secret's project is set: every
// secret belongs to one project (LegacySecretProject only holds values
// from before secrets were per project, and is never written).
func CheckSecretProject(project string) error {
	if project == "" {
		return errors.New("secret without a project: secrets belong to one project")
	}
	return nil
}

// LegacySecretProject is the namespace of secrets stored before secrets
// were per project that no function or database of any project used when
// the store was upgraded (the used ones were copied to each project that
// used them). No function can read it; an admin lists and deletes it.
const LegacySecretProject = ""

// KVListParams lists keys with a prefix, in key order, after a cursor.
type KVListParams struct {
	Namespace string
	Prefix    string
	After     string // list keys greater than this (the last key of the previous page)
	Limit     int    // 0: 1000
}

// Bindings is the storage of databases, KV namespaces and their entries,
// and secrets. Part of Store; both backends implement it and storetest
// specifies it.
type Bindings interface {
	DatabaseGet(ctx context.Context, name string) (*record.DatabaseConfig, error)
	DatabaseList(ctx context.Context) ([]record.DatabaseConfig, error)
	KVNamespaceList(ctx context.Context) ([]record.KVNamespace, error)

	// KVGet returns a live entry; an expired or missing key is ErrNotFound.
	// A write is visible to the next read (read-after-write).
	KVGet(ctx context.Context, namespace, key string) (*record.KVEntry, error)
	// KVPut stores value under key; ttl > 0 makes it expire. Unknown
	// namespace: ErrNotFound.
	KVPut(ctx context.Context, namespace, key string, value []byte, ttl time.Duration) error
	// KVDelete removes a key and reports whether it existed (live).
	KVDelete(ctx context.Context, namespace, key string) (bool, error)
	// KVList lists live keys with values, in key order.
	KVList(ctx context.Context, p KVListParams) ([]record.KVEntry, error)
	// KVDeleteExpired removes expired entries (housekeeping).
	KVDeleteExpired(ctx context.Context) (int64, error)

	// Secrets are per project: (project, name) is the key, and a project
	// never reads another's. SecretPut stores an encrypted secret value
	// (the store never sees the plaintext; package bindings encrypts).
	SecretPut(ctx context.Context, project, name string, ciphertext []byte) error
	// SecretGet returns the ciphertext; missing: ErrNotFound.
	SecretGet(ctx context.Context, project, name string) ([]byte, error)
	// SecretList lists every project's secrets, by project then name.
	SecretList(ctx context.Context) ([]record.SecretInfo, error)
	// SecretDelete removes a secret and reports whether it existed
	// (project LegacySecretProject deletes a legacy one).
	SecretDelete(ctx context.Context, project, name string) (bool, error)
}
