package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rosterhq/roster/secretbox"
	"github.com/rosterhq/roster/store/sqlite"
	"github.com/rosterhq/roster/webhooks"
)

// config is read from flags, each with an environment variable twin; a flag wins over its
// variable.
type config struct {
	listen      string
	dataDir     string
	databaseURL string
	issuerURL   string
	tlsCert     string
	tlsKey      string
	tokenTTL    time.Duration
	logLevel    slog.Level
	smtpURL     string
	// userCacheBytes bounds the memory of the SQLite store's user cache (0: no cache).
	userCacheBytes byteSize
	// restJSONMemoBytes bounds the REST JSON memo (0: no memo); memoryLimitBytes is the Go
	// runtime's soft memory limit (0: from GOMEMLIMIT or the budget, memory.go).
	restJSONMemoBytes byteSize
	memoryLimitBytes  byteSize
	// sqlitePageCacheBytes bounds SQLite's page caches, all connections together;
	// sqliteMmapBytes is how much of the file each connection maps (docs/memory.md).
	sqlitePageCacheBytes byteSize
	sqliteMmapBytes      byteSize
	// encryptionKey (base64 or hex) or encryptionKeyFile seal connection client secrets.
	encryptionKey     string
	encryptionKeyFile string

	// Outbound fetches (docs/outbound.md): allowPrivateNetworks lets OIDC discovery, SAML
	// metadata URLs and other fetches reach loopback, private and link-local addresses.
	allowPrivateNetworks bool
	// Data directory (docs/operations.md): allowOpenDataDir accepts a data directory that
	// other users may read.
	allowOpenDataDir bool
	// SQLite WAL (docs/storage.md): sqliteWALLimit is the WAL size past which the
	// checkpointer empties it (wal.go).
	sqliteWALLimit walLimitMB
	// operators are the dashboard's operator settings (admins.go, docs/operators.md).
	operators operatorConfig
	// eventRetention is how long the feed keeps events (docs/events.md, "Retention"); 0
	// keeps them forever.
	eventRetention time.Duration
	// limits bound what clients may hold (connections, slow bodies, failed token requests)
	// and say where /metrics is served (limits.go).
	limits limitConfig
	// webhooks are the delivery settings of the webhook worker (webhooks.go).
	webhooks webhooks.Settings
}

// parseFlags parses args, then gives each flag that args did not set the value of its
// environment twin (named in its usage, "(env ROSTER_...)"). A twin's value that does not
// parse is refused with an error naming the variable, never replaced by the default.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		name := envName(f.Usage)
		if err != nil || set[f.Name] || name == "" {
			return
		}
		if v, ok := os.LookupEnv(name); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q is not a valid value for --%s: %v", name, v, f.Name, e)
			}
		}
	})
	return err
}

// envName returns the variable a flag's usage names: "... (env ROSTER_X)" gives ROSTER_X.
func envName(usage string) string {
	i := strings.LastIndex(usage, "(env ROSTER_")
	if i < 0 || !strings.HasSuffix(usage, ")") {
		return ""
	}
	return usage[i+len("(env ") : len(usage)-1]
}

// storageFlags registers the flags that choose the database.
func (c *config) storageFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.dataDir, "data-dir", "./roster-data", "directory of the embedded SQLite database (env ROSTER_DATA_DIR)")
	fs.StringVar(&c.databaseURL, "database-url", "", "postgres://... selects PostgreSQL; empty means embedded SQLite (env ROSTER_DATABASE_URL)")
	fs.TextVar(&c.logLevel, "log-level", slog.LevelInfo, "debug, info, warn or error (env ROSTER_LOG_LEVEL)")
	// SQLite WAL (docs/storage.md).
	fs.Var(&c.sqliteWALLimit, "sqlite-wal-limit-mb", "MiB of SQLite WAL past which the checkpointer empties it, holding writes back at most 100 ms; ignored on PostgreSQL (env ROSTER_SQLITE_WAL_LIMIT_MB)")
	// SQLite memory (docs/memory.md).
	c.sqlitePageCacheBytes = sqlite.DefaultPageCacheBytes
	fs.Var(&c.sqlitePageCacheBytes, "sqlite-page-cache-bytes", "memory of SQLite's page caches, all connections together, in bytes or with KiB, MiB or GiB (16MiB); ignored on PostgreSQL (env ROSTER_SQLITE_PAGE_CACHE_BYTES)")
	c.sqliteMmapBytes = sqlite.DefaultMmapBytes
	fs.Var(&c.sqliteMmapBytes, "sqlite-mmap-bytes", "bytes of the database file each SQLite connection maps into memory (0); each connection's mapped pages count in the process's RSS; ignored on PostgreSQL (env ROSTER_SQLITE_MMAP_BYTES)")
	// Data directory.
	fs.BoolVar(&c.allowOpenDataDir, "allow-open-data-dir", false, "accept a data directory that the group or other users may read, instead of refusing to start (env ROSTER_ALLOW_OPEN_DATA_DIR)")
}

// keyFlags registers the flags of the encryption key, which seals SSO client secrets and the
// signing keys (docs/encryption.md).
func (c *config) keyFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.encryptionKey, "encryption-key", "", "32 random bytes, base64 or hex, that seal signing keys and SSO client secrets; several nodes must share it (env ROSTER_ENCRYPTION_KEY)")
	fs.StringVar(&c.encryptionKeyFile, "encryption-key-file", "", "file holding the encryption key; default <data-dir>/encryption.key, created on first start (env ROSTER_ENCRYPTION_KEY_FILE)")
}

// urlFlags registers the flags that make the public URL (issuer): serve's, and those of the
// commands that print links to it (roster admins).
func (c *config) urlFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.listen, "listen", "127.0.0.1:8080", "address to listen on (env ROSTER_LISTEN)")
	fs.StringVar(&c.issuerURL, "issuer-url", "", "public URL of this Roster; default derived from --listen (env ROSTER_ISSUER_URL)")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "TLS certificate file (PEM); with --tls-key serves HTTPS and h2 (env ROSTER_TLS_CERT)")
	fs.StringVar(&c.tlsKey, "tls-key", "", "TLS private key file (PEM) (env ROSTER_TLS_KEY)")
}

// serveFlags registers the flags of `roster serve`.
func (c *config) serveFlags(fs *flag.FlagSet) {
	c.storageFlags(fs)
	c.urlFlags(fs)
	ttl, err := time.ParseDuration("1h")
	if err != nil {
		ttl = time.Hour // parseFlags refuses the variable
	}
	fs.DurationVar(&c.tokenTTL, "access-token-ttl", ttl, "lifetime of API access tokens (env ROSTER_ACCESS_TOKEN_TTL)")
	c.keyFlags(fs)
	// Memory of the SQLite user cache (docs/storage.md, "The user cache").
	c.userCacheBytes = sqlite.DefaultUserCacheBytes
	fs.Var(&c.userCacheBytes, "user-cache-bytes", "memory the SQLite user cache may take, in bytes or with KiB, MiB or GiB (16MiB); 0 for no cache; ignored on PostgreSQL (env ROSTER_USER_CACHE_BYTES)")
	// Memory budget (docs/memory.md).
	c.restJSONMemoBytes = defaultJSONMemoBytes
	fs.Var(&c.restJSONMemoBytes, "rest-json-memo-bytes", "memory the REST answers' remembered JSON of organizations may take, in bytes or with KiB, MiB or GiB (4MiB); 0 for none (env ROSTER_REST_JSON_MEMO_BYTES)")
	fs.Var(&c.memoryLimitBytes, "memory-limit", "soft memory limit of the Go runtime, in bytes or with KiB, MiB or GiB; 0: GOMEMLIMIT if set, else the caches' bounds plus 48MiB (docs/memory.md) (env ROSTER_MEMORY_LIMIT)")
	fs.Var(replacedFlag{"user-cache-size", "user-cache-bytes"}, "user-cache-size", "replaced by --user-cache-bytes: a count of users bounded nothing of their memory; refused (env ROSTER_USER_CACHE_SIZE)")
	// Outbound fetches (docs/outbound.md).
	fs.BoolVar(&c.allowPrivateNetworks, "allow-private-networks", false, "let OIDC discovery, SAML metadata URLs and other outbound fetches reach loopback, private and link-local addresses; for development and tests only (env ROSTER_ALLOW_PRIVATE_NETWORKS)")
	c.limits.flags(fs)
	c.webhookFlags(fs)
	c.operatorFlags(fs, true)
	fs.DurationVar(&c.eventRetention, "event-retention", 0, "how long the change feed keeps events, e.g. 2160h for 90 days; older ones are deleted in the background; 0 keeps them forever (env ROSTER_EVENT_RETENTION)")
	fs.StringVar(&c.smtpURL, "smtp-url", "", "SMTP server for invitation emails, smtp://user:pass@host:587?from=roster@example.com; empty: invitations are recorded, not emailed (env ROSTER_SMTP_URL)")
}

func (c *config) check() error {
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return fmt.Errorf("--tls-cert and --tls-key go together")
	}
	if c.databaseURL != "" && !strings.HasPrefix(c.databaseURL, "postgres://") && !strings.HasPrefix(c.databaseURL, "postgresql://") {
		return fmt.Errorf("--database-url must be a postgres:// URL (or empty for embedded SQLite)")
	}
	if _, ok := os.LookupEnv("ROSTER_USER_CACHE_SIZE"); ok {
		return fmt.Errorf("ROSTER_USER_CACHE_SIZE was replaced by ROSTER_USER_CACHE_BYTES, the cache's memory in bytes (default 16MiB; docs/storage.md)")
	}
	if c.userCacheBytes < 0 {
		return fmt.Errorf("--user-cache-bytes must be 0 (no cache) or more")
	}
	if err := c.limits.check(c.listen); err != nil {
		return err
	}
	if c.eventRetention < 0 || (c.eventRetention > 0 && c.eventRetention < time.Hour) {
		return fmt.Errorf("--event-retention must be 0 (keep forever) or at least 1h")
	}
	if err := c.checkWebhooks(); err != nil {
		return err
	}
	if c.tokenTTL != 0 && (c.tokenTTL < time.Minute || c.tokenTTL > 24*time.Hour) { // 0: not a serve flag
		return fmt.Errorf("--access-token-ttl must be between 1m and 24h")
	}
	return nil
}

// issuer returns the public URL: --issuer-url, or one made from the listen address.
func (c *config) issuer(ln net.Addr) string {
	if c.issuerURL != "" {
		return strings.TrimSuffix(c.issuerURL, "/")
	}
	scheme := "http"
	if c.tlsCert != "" {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(ln.String())
	if err != nil {
		return scheme + "://" + ln.String()
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// secretBox returns the box that seals connection client secrets: from --encryption-key, or
// from a key file that is created on first start (docs/encryption.md).
func (c *config) secretBox() (*secretbox.Box, error) {
	k, err := c.encryptionKeyBytes()
	if err != nil {
		return nil, err
	}
	return secretbox.New(k)
}

// encryptionKeyBytes is the key of secretBox: --encryption-key, or the key file (made on first
// use). serve also derives the dashboard's CSRF key from it, so that every node shares it.
func (c *config) encryptionKeyBytes() ([]byte, error) {
	if c.encryptionKey != "" {
		k, err := secretbox.ParseKey(c.encryptionKey)
		if err != nil {
			return nil, fmt.Errorf("--encryption-key: %w", err)
		}
		return k, nil
	}
	path := c.encryptionKeyFile
	if path == "" {
		if err := sqlite.PrepareDataDir(c.dataDir, c.allowOpenDataDir); err != nil {
			return nil, err
		}
		path = filepath.Join(c.dataDir, "encryption.key")
	}
	k, err := secretbox.LoadOrCreateKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("encryption key file %s: %w", path, err)
	}
	return k, nil
}

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// splitList splits a list on commas and white space.
func splitList(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }

// byteSize is a flag of a number of bytes: 1048576, 1024KiB, 32MiB, 1GiB.
type byteSize int

func (b *byteSize) String() string {
	if b == nil {
		return "0"
	}
	switch n := int(*b); {
	case n != 0 && n%(1<<30) == 0:
		return strconv.Itoa(n>>30) + "GiB"
	case n != 0 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + "MiB"
	case n != 0 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + "KiB"
	default:
		return strconv.Itoa(n)
	}
}

func (b *byteSize) Set(v string) error {
	num, unit := v, 1
	for _, u := range []struct {
		suffix string
		n      int
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if strings.HasSuffix(v, u.suffix) {
			num, unit = strings.TrimSuffix(v, u.suffix), u.n
		}
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 || n > (1<<40)/unit {
		return fmt.Errorf("want a number of bytes, optionally followed by KiB, MiB or GiB (such as 32MiB)")
	}
	*b = byteSize(n * unit)
	return nil
}

// envOf returns the environment twin of a flag's name: user-cache-bytes gives ROSTER_USER_CACHE_BYTES.
func envOf(flag string) string {
	return "ROSTER_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// replacedFlag is a flag that no longer exists: setting it fails with what replaced it.
type replacedFlag struct{ name, by string }

func (f replacedFlag) String() string { return "" }
func (f replacedFlag) Set(string) error {
	return fmt.Errorf("--%s (env %s) was replaced by --%s (env %s) (docs/storage.md)", f.name, envOf(f.name), f.by, envOf(f.by))
}
