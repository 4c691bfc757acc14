// Package config reads tiersync's settings from environment variables, with command-line
// flags of the same names taking precedence (DESIGN §7).
package config

import (
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Config holds every setting. Durations are Go durations ("2s", "720h").
type Config struct {
	DatabaseURL string
	// DBPooler is "none" (DATABASE_URL reaches PostgreSQL) or "transaction" (a pooler in
	// transaction mode sits between: see Pooled).
	DBPooler string
	// DatabaseListenURL is a direct PostgreSQL URL for the one LISTEN connection ("": the
	// pool's own URL, or polling behind a transaction pooler).
	DatabaseListenURL string
	ListenAddr        string
	APIToken          string
	// SecretKey is TIERSYNC_SECRET_KEY decoded: 32 bytes for AES-256-GCM.
	SecretKey []byte

	Workers           int
	ShutdownTimeout   time.Duration
	InlineSyncTimeout time.Duration
	QueueRetention    time.Duration
	QueueLease        time.Duration
	PollInterval      time.Duration
	BackoffBase       time.Duration
	BackoffMax        time.Duration
	NotifyMode        string

	Commerce7APIURL          string
	Commerce7AppID           string
	Commerce7Key             string
	Commerce7WebhookUser     string
	Commerce7WebhookPassword string
	Commerce7EchoUser        string

	ShopifyAPIURL     string
	ShopifyAPIVersion string
	// ShopifyWebhookSecret is the one secret that signed every shop's webhooks before
	// each client had its own: deprecated, sealed at start into the `token` clients that
	// have none (shopifyapp.Store.AdoptLegacyWebhookSecret).
	ShopifyWebhookSecret string
	// The deployment's own Shopify app, which merchants install (shopify_auth oauth).
	ShopifyAppClientID     string
	ShopifyAppClientSecret string
	ShopifyAppScopes       []string
	// PublicURL is where Shopify reaches this deployment: the OAuth callback and the
	// webhook subscriptions point under it.
	PublicURL string

	ScheduleExpire string // cron spec of process-expired-enrollments; "off" disables
	ScheduleSync   string // cron spec of the process-crm-sync-queue sweep; "off" disables
	// ScheduleReconcile is the cron spec of reconcile-memberships; "off" disables.
	ScheduleReconcile string
	// ReconcileConcurrency is how many clients one reconcile run reads at once.
	ReconcileConcurrency int
	// ReconcileAlertThreshold is how many differences in one client's run raise an alert
	// (0: never).
	ReconcileAlertThreshold int
	ExpireBatchSize         int
	AlertPendingAge         time.Duration
	AlertInterval           time.Duration

	AlertWebhookURL string
	LogLevel        string
	// LogFormat is json or text: the one format of every command's log lines.
	LogFormat string

	// MetricsAddr serves /metrics on a listener of its own; "" serves it on LISTEN_ADDR.
	MetricsAddr string
	// MetricsInterval is how often the queue gauges are recomputed in the background.
	MetricsInterval time.Duration
	// DBMaxConns is the request and worker pool's size (the readiness probe has its own
	// connection beside it).
	DBMaxConns int
	// StatementTimeout is every pooled connection's statement_timeout (0: none).
	StatementTimeout time.Duration
	// RequestTimeout bounds one API request; its queries are cancelled with it.
	RequestTimeout time.Duration
	// CookieSecure marks the admin session cookie Secure (HTTPS only).
	CookieSecure bool
}

// Setting names, as environment variables and as flags.
const (
	EnvDatabaseURL = "DATABASE_URL"
	EnvAPIToken    = "TIERSYNC_API_TOKEN"
	EnvSecretKey   = "TIERSYNC_SECRET_KEY"
)

// Group selects which settings a subcommand takes, so that `migrate --help` does not list
// worker settings.
type Group int

const (
	// Database is DATABASE_URL, LOG_LEVEL and LOG_FORMAT alone.
	Database Group = iota
	// Server is everything `serve` needs.
	Server
)

type setting struct {
	name, def, usage string
	group            Group
	bind             func(c *Config, raw string) error
}

func settings() []setting {
	str := func(p func(*Config) *string) func(*Config, string) error {
		return func(c *Config, raw string) error { *p(c) = raw; return nil }
	}
	dur := func(name string, p func(*Config) *time.Duration) func(*Config, string) error {
		return func(c *Config, raw string) error {
			d, err := time.ParseDuration(raw)
			if err != nil || d < 0 {
				return fmt.Errorf("%s: %q is not a duration such as 2s, 15m or 720h", name, raw)
			}
			*p(c) = d
			return nil
		}
	}
	return []setting{
		{EnvDatabaseURL, "", "PostgreSQL URL, e.g. postgres://user:pass@host:5432/tiersync", Database,
			str(func(c *Config) *string { return &c.DatabaseURL })},
		{"DB_POOLER", "none", "none: DATABASE_URL reaches PostgreSQL itself; transaction: through a pooler in transaction mode (PgBouncer, pgcat, Supavisor): no prepared statements kept, no startup settings, no session locks, and no LISTEN but through DATABASE_LISTEN_URL", Database,
			func(c *Config, raw string) error {
				switch strings.ToLower(raw) {
				case PoolerNone, PoolerTransaction:
					c.DBPooler = strings.ToLower(raw)
					return nil
				}
				return fmt.Errorf("DB_POOLER: %q is not none or transaction", raw)
			}},
		{"LOG_LEVEL", "info", "log level: debug, info, warn or error", Database,
			func(c *Config, raw string) error {
				switch strings.ToLower(raw) {
				case "debug", "info", "warn", "error":
					c.LogLevel = strings.ToLower(raw)
					return nil
				}
				return fmt.Errorf("LOG_LEVEL: %q is not debug, info, warn or error", raw)
			}},
		{"LOG_FORMAT", "json", "log lines on stderr: json (one object a line, for a log collector) or text (key=value); a command's own output on stdout is unaffected", Database,
			func(c *Config, raw string) error {
				switch strings.ToLower(raw) {
				case "json", "text":
					c.LogFormat = strings.ToLower(raw)
					return nil
				}
				return fmt.Errorf("LOG_FORMAT: %q is not json or text", raw)
			}},
		{"LISTEN_ADDR", "127.0.0.1:8080", "address the HTTP server listens on", Server,
			str(func(c *Config) *string { return &c.ListenAddr })},
		{EnvAPIToken, "", "bearer token required on /api/* and for the admin page: at least 16 characters, 8 different ones", Server,
			str(func(c *Config) *string { return &c.APIToken })},
		{EnvSecretKey, "", "32 random bytes in standard base64 (openssl rand -base64 32); seals stored CRM credentials: keep it, a start with another key is refused", Server,
			func(c *Config, raw string) error {
				if raw == "" {
					c.SecretKey = nil
					return nil
				}
				key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(raw))
				if err != nil || len(key) != 32 {
					return fmt.Errorf("%s: must be 32 bytes in standard base64, as `openssl rand -base64 32` prints them", EnvSecretKey)
				}
				c.SecretKey = key
				return nil
			}},
		{"WORKERS", "16", "number of sync workers in this process (0: this replica only serves HTTP)", Server,
			func(c *Config, raw string) error {
				n, err := strconv.Atoi(raw)
				if err != nil || n < 0 || n > 1024 {
					return fmt.Errorf("WORKERS: %q is not a number from 0 to 1024", raw)
				}
				c.Workers = n
				return nil
			}},
		{"SHUTDOWN_TIMEOUT", "20s", "on SIGTERM, how long running rows and requests get to finish before rows are released", Server,
			dur("SHUTDOWN_TIMEOUT", func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
		{"INLINE_SYNC_TIMEOUT", "2s", "how long POST /api/enrollments waits for a Commerce7 row to complete", Server,
			dur("INLINE_SYNC_TIMEOUT", func(c *Config) *time.Duration { return &c.InlineSyncTimeout })},
		{"QUEUE_RETENTION", "720h", "completed and cancelled queue rows older than this are deleted", Server,
			dur("QUEUE_RETENTION", func(c *Config) *time.Duration { return &c.QueueRetention })},
		{"QUEUE_LEASE", "30s", "how long a claimed row stays a worker's without a heartbeat; a dead worker's rows return after it", Server,
			dur("QUEUE_LEASE", func(c *Config) *time.Duration { return &c.QueueLease })},
		{"POLL_INTERVAL", "1s", "how often workers look for due rows without a NOTIFY", Server,
			dur("POLL_INTERVAL", func(c *Config) *time.Duration { return &c.PollInterval })},
		{"RETRY_BACKOFF_BASE", "1m", "a failed row waits RETRY_BACKOFF_BASE·2^attempts (±10 %) before its next attempt", Server,
			dur("RETRY_BACKOFF_BASE", func(c *Config) *time.Duration { return &c.BackoffBase })},
		{"RETRY_BACKOFF_MAX", "24h", "the longest wait between attempts", Server,
			dur("RETRY_BACKOFF_MAX", func(c *Config) *time.Duration { return &c.BackoffMax })},
		{"SCHEDULE_EXPIRE", "0 2 * * *", "cron schedule (UTC) of process-expired-enrollments; off disables it", Server,
			cronSpec("SCHEDULE_EXPIRE", func(c *Config) *string { return &c.ScheduleExpire })},
		{"SCHEDULE_SYNC", "*/5 * * * *", "cron schedule (UTC) of the process-crm-sync-queue sweep (wake workers, prune, alerts); off disables it", Server,
			cronSpec("SCHEDULE_SYNC", func(c *Config) *string { return &c.ScheduleSync })},
		{"SCHEDULE_RECONCILE", "0 3 * * 0", "cron schedule (UTC) of reconcile-memberships (compare every client's memberships with its CRM, repair the differences); off disables it", Server,
			cronSpec("SCHEDULE_RECONCILE", func(c *Config) *string { return &c.ScheduleReconcile })},
		{"RECONCILE_CONCURRENCY", "8", "clients a reconcile run reads at once (each within its own CRM rate limit)", Server,
			intIn("RECONCILE_CONCURRENCY", 1, 256, func(c *Config) *int { return &c.ReconcileConcurrency })},
		{"RECONCILE_ALERT_THRESHOLD", "25", "differences in one client's reconcile run that raise an alert (0: never)", Server,
			intIn("RECONCILE_ALERT_THRESHOLD", 0, 1000000, func(c *Config) *int { return &c.ReconcileAlertThreshold })},
		{"EXPIRE_BATCH_SIZE", "5000", "enrollments expired per transaction", Server,
			func(c *Config, raw string) error {
				n, err := strconv.Atoi(raw)
				if err != nil || n < 1 || n > 100000 {
					return fmt.Errorf("EXPIRE_BATCH_SIZE: %q is not a number from 1 to 100000", raw)
				}
				c.ExpireBatchSize = n
				return nil
			}},
		{"ALERT_PENDING_AGE", "1h", "alert when the oldest pending queue row is older than this", Server,
			dur("ALERT_PENDING_AGE", func(c *Config) *time.Duration { return &c.AlertPendingAge })},
		{"ALERT_INTERVAL", "15m", "at most one alert of each kind per interval", Server,
			dur("ALERT_INTERVAL", func(c *Config) *time.Duration { return &c.AlertInterval })},
		{"DATABASE_LISTEN_URL", "", "a direct PostgreSQL URL (past the pooler) for the one LISTEN connection that wakes the workers; unset behind DB_POOLER=transaction, the workers poll (POLL_INTERVAL)", Server,
			func(c *Config, raw string) error {
				if raw != "" && !strings.HasPrefix(raw, "postgres://") && !strings.HasPrefix(raw, "postgresql://") {
					return errors.New("DATABASE_LISTEN_URL: not a postgres:// URL")
				}
				c.DatabaseListenURL = raw
				return nil
			}},
		{"NOTIFY_MODE", "listen", "listen: wake workers with LISTEN/NOTIFY (behind DB_POOLER=transaction, only with DATABASE_LISTEN_URL); poll: polling only", Server,
			func(c *Config, raw string) error {
				if raw != "listen" && raw != "poll" {
					return fmt.Errorf("NOTIFY_MODE: %q is not listen or poll", raw)
				}
				c.NotifyMode = raw
				return nil
			}},
		{"COMMERCE7_API_URL", "https://api.commerce7.com/v1", "Commerce7 API base URL", Server,
			urlSetting("COMMERCE7_API_URL", func(c *Config) *string { return &c.Commerce7APIURL })},
		{"COMMERCE7_APP_ID", "", "Commerce7 app id (HTTP Basic user)", Server,
			str(func(c *Config) *string { return &c.Commerce7AppID })},
		{"COMMERCE7_KEY", "", "Commerce7 app secret key (HTTP Basic password)", Server,
			str(func(c *Config) *string { return &c.Commerce7Key })},
		{"COMMERCE7_WEBHOOK_USER", "", "Basic auth user Commerce7 webhooks must send (webhooks refused when unset)", Server,
			str(func(c *Config) *string { return &c.Commerce7WebhookUser })},
		{"COMMERCE7_WEBHOOK_PASSWORD", "", "Basic auth password Commerce7 webhooks must send", Server,
			str(func(c *Config) *string { return &c.Commerce7WebhookPassword })},
		{"COMMERCE7_ECHO_USER", "", "webhook user field that marks our own writes echoed back (default: COMMERCE7_APP_ID)", Server,
			str(func(c *Config) *string { return &c.Commerce7EchoUser })},
		{"SHOPIFY_API_URL", "https://{shop}", "Shopify Admin API base URL; {shop} is replaced by the shop domain", Server,
			urlSetting("SHOPIFY_API_URL", func(c *Config) *string { return &c.ShopifyAPIURL })},
		{"SHOPIFY_API_VERSION", "2026-10", "Shopify Admin API version (a deprecation header from Shopify is logged and counted: tiersync_shopify_deprecated_answers_total)", Server,
			str(func(c *Config) *string { return &c.ShopifyAPIVersion })},
		{"SHOPIFY_WEBHOOK_SECRET", "", "deprecated: the one webhook secret of every shop before per-client secrets; sealed at start into the token clients that have none", Server,
			str(func(c *Config) *string { return &c.ShopifyWebhookSecret })},
		{"SHOPIFY_APP_CLIENT_ID", "", "this deployment's Shopify app (merchants install it: shopify_auth oauth), client id", Server,
			str(func(c *Config) *string { return &c.ShopifyAppClientID })},
		{"SHOPIFY_APP_CLIENT_SECRET", "", "this deployment's Shopify app, client secret (signs its webhooks and install callbacks)", Server,
			str(func(c *Config) *string { return &c.ShopifyAppClientSecret })},
		{"SHOPIFY_APP_SCOPES", "read_customers,write_customers,read_orders", "access scopes the app asks a shop for, comma-separated", Server,
			func(c *Config, raw string) error {
				c.ShopifyAppScopes = nil
				for _, sc := range strings.Split(raw, ",") {
					if sc = strings.TrimSpace(sc); sc != "" {
						c.ShopifyAppScopes = append(c.ShopifyAppScopes, sc)
					}
				}
				return nil
			}},
		{"PUBLIC_URL", "", "https URL where Shopify reaches this deployment (install callback, webhook subscriptions)", Server,
			func(c *Config, raw string) error {
				if raw == "" {
					c.PublicURL = ""
					return nil
				}
				return urlSetting("PUBLIC_URL", func(c *Config) *string { return &c.PublicURL })(c, raw)
			}},
		{"ALERT_WEBHOOK_URL", "", "Slack-compatible webhook for alerts (none when unset); a secret, never logged", Server,
			str(func(c *Config) *string { return &c.AlertWebhookURL })},
		{"METRICS_ADDR", "", "serve /metrics on this address instead of LISTEN_ADDR (e.g. 127.0.0.1:9090, reachable by the scraper only)", Server,
			str(func(c *Config) *string { return &c.MetricsAddr })},
		{"METRICS_INTERVAL", "15s", "how often the queue gauges behind /metrics are recomputed (one query, shared by every scrape)", Server,
			dur("METRICS_INTERVAL", func(c *Config) *time.Duration { return &c.MetricsInterval })},
		{"DB_MAX_CONNS", "", "database connections in this process's pool (default: WORKERS/2 + 8); /readyz has one more of its own", Server,
			func(c *Config, raw string) error {
				if raw == "" {
					c.DBMaxConns = 0 // derived from WORKERS in Bind
					return nil
				}
				n, err := strconv.Atoi(raw)
				if err != nil || n < 2 || n > 1000 {
					return fmt.Errorf("DB_MAX_CONNS: %q is not a number from 2 to 1000", raw)
				}
				c.DBMaxConns = n
				return nil
			}},
		{"DB_STATEMENT_TIMEOUT", "30s", "statement_timeout of every pooled connection (0 for none); the expiration job and migrations set their own", Server,
			dur("DB_STATEMENT_TIMEOUT", func(c *Config) *time.Duration { return &c.StatementTimeout })},
		{"REQUEST_TIMEOUT", "30s", "deadline of one HTTP request; its queries are cancelled when it passes", Server,
			dur("REQUEST_TIMEOUT", func(c *Config) *time.Duration { return &c.RequestTimeout })},
		{"COOKIE_SECURE", "true", "mark the admin session cookie Secure (HTTPS only); set false for plain-HTTP local use", Server,
			func(c *Config, raw string) error {
				b, err := strconv.ParseBool(raw)
				if err != nil {
					return fmt.Errorf("COOKIE_SECURE: %q is not true or false", raw)
				}
				c.CookieSecure = b
				return nil
			}},
	}
}

func urlSetting(name string, p func(*Config) *string) func(*Config, string) error {
	return func(c *Config, raw string) error {
		u, err := url.Parse(strings.ReplaceAll(raw, "{shop}", "shop.example"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%s: %q is not an http(s) URL", name, raw)
		}
		*p(c) = strings.TrimRight(raw, "/")
		return nil
	}
}

// Bind registers the settings of the given groups on fs, each defaulting to its environment
// variable (read through getenv) or else its built-in default. The returned function,
// called after fs.Parse, fills and checks the Config.
func Bind(fs *flag.FlagSet, getenv func(string) string, groups ...Group) func() (*Config, error) {
	want := map[Group]bool{}
	for _, g := range groups {
		want[g] = true
	}
	type bound struct {
		s   setting
		raw *string
	}
	var all []bound
	for _, s := range settings() {
		if !want[s.group] {
			continue
		}
		def := s.def
		if v, ok := lookup(getenv, s.name); ok {
			def = v
		}
		if isSecret(s.name) {
			// Keep secrets out of --help, which prints a flag's default: the flag's default is
			// empty and the environment's value is filled in behind it.
			raw := fs.String(s.name, "", s.usage+" [env "+s.name+"]")
			*raw = def
			all = append(all, bound{s, raw})
			continue
		}
		all = append(all, bound{s, fs.String(s.name, def, s.usage+" [env "+s.name+"]")})
	}
	return func() (*Config, error) {
		c := &Config{}
		var errs []error
		for _, b := range all {
			if err := b.s.bind(c, *b.raw); err != nil {
				errs = append(errs, err)
			}
		}
		if c.Commerce7EchoUser == "" {
			c.Commerce7EchoUser = c.Commerce7AppID
		}
		if c.DBMaxConns == 0 {
			c.DBMaxConns = DefaultMaxConns(c.Workers)
		}
		return c, errors.Join(errs...)
	}
}

// kinds are what each setting's value is, shown by --help in place of Go's "string"
// (every setting is bound as a string so that its own parser checks it).
var kinds = map[string]string{
	EnvDatabaseURL: "url", "DB_POOLER": "none|transaction", "DATABASE_LISTEN_URL": "url", "LOG_LEVEL": "level", "LOG_FORMAT": "json|text", "LISTEN_ADDR": "host:port",
	EnvAPIToken: "token", EnvSecretKey: "base64", "WORKERS": "number", "SHUTDOWN_TIMEOUT": "duration",
	"INLINE_SYNC_TIMEOUT": "duration", "QUEUE_RETENTION": "duration", "QUEUE_LEASE": "duration",
	"POLL_INTERVAL": "duration", "RETRY_BACKOFF_BASE": "duration", "RETRY_BACKOFF_MAX": "duration",
	"SCHEDULE_EXPIRE": "cron|off", "SCHEDULE_SYNC": "cron|off", "SCHEDULE_RECONCILE": "cron|off",
	"RECONCILE_CONCURRENCY": "number", "RECONCILE_ALERT_THRESHOLD": "number", "EXPIRE_BATCH_SIZE": "number",
	"ALERT_PENDING_AGE": "duration", "ALERT_INTERVAL": "duration", "NOTIFY_MODE": "listen|poll",
	"COMMERCE7_API_URL": "url", "COMMERCE7_APP_ID": "string", "COMMERCE7_KEY": "string",
	"COMMERCE7_WEBHOOK_USER": "string", "COMMERCE7_WEBHOOK_PASSWORD": "string", "COMMERCE7_ECHO_USER": "string",
	"SHOPIFY_API_URL": "url", "SHOPIFY_API_VERSION": "string", "SHOPIFY_WEBHOOK_SECRET": "string",
	"SHOPIFY_APP_CLIENT_ID": "string", "SHOPIFY_APP_CLIENT_SECRET": "string", "SHOPIFY_APP_SCOPES": "list",
	"PUBLIC_URL": "url", "ALERT_WEBHOOK_URL": "url", "METRICS_ADDR": "host:port", "METRICS_INTERVAL": "duration",
	"DB_MAX_CONNS": "number", "DB_STATEMENT_TIMEOUT": "duration", "REQUEST_TIMEOUT": "duration", "COOKIE_SECURE": "bool",
}

// Kind is what setting name's value is (duration, number, url, …), or "" for a name that
// is not a setting.
func Kind(name string) string { return kinds[name] }

// MarkRequired marks the named settings, bound on fs, as required in --help: each
// command marks what it cannot run without, so that `queue ls --help` does not claim
// it needs the API token.
func MarkRequired(fs *flag.FlagSet, names ...string) {
	for _, n := range names {
		if f := fs.Lookup(n); f != nil {
			f.Usage += " (required)"
		}
	}
}

// DB_POOLER's values.
const (
	PoolerNone        = "none"
	PoolerTransaction = "transaction"
)

// Pooled reports whether a transaction pooler sits between tiersync and PostgreSQL.
func (c *Config) Pooled() bool { return c.DBPooler == PoolerTransaction }

// Listens reports whether the workers wake on NOTIFY: NOTIFY_MODE=listen, and a
// connection that can hold a LISTEN (a direct DATABASE_URL, or DATABASE_LISTEN_URL).
func (c *Config) Listens() bool {
	return c.NotifyMode == "listen" && (!c.Pooled() || c.DatabaseListenURL != "")
}

// DefaultMaxConns is DB_MAX_CONNS when unset: the workers share connections (a worker
// holds one only while it writes), and 8 more serve HTTP requests and the scheduler.
func DefaultMaxConns(workers int) int { return workers/2 + 8 }

// isSecret says which settings --help must not show a value of. Every URL that can carry
// credentials counts: the database's (a password), the alert webhook's (the URL is the
// Slack secret).
func isSecret(name string) bool {
	for _, suffix := range []string{"_TOKEN", "_KEY", "_PASSWORD", "_SECRET", "DATABASE_URL", "DATABASE_LISTEN_URL", "_WEBHOOK_URL"} {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return false
}

func lookup(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

// CheckServer reports the settings `serve` cannot run without.
func (c *Config) CheckServer() error {
	var errs []error
	if c.DatabaseURL == "" {
		errs = append(errs, fmt.Errorf("%s is required", EnvDatabaseURL))
	}
	if len(c.APIToken) < 16 || distinct(c.APIToken) < 8 {
		errs = append(errs, fmt.Errorf("%s is required: at least 16 characters and 8 different ones (e.g. openssl rand -hex 24)", EnvAPIToken))
	}
	switch {
	case c.SecretKey == nil:
		errs = append(errs, fmt.Errorf("%s is required: 32 random bytes in standard base64 (openssl rand -base64 32)", EnvSecretKey))
	case distinct(string(c.SecretKey)) < 2:
		// All zero bytes (or any one byte repeated) is a placeholder, not a key.
		errs = append(errs, fmt.Errorf("%s is one byte repeated, not a random key: use openssl rand -base64 32", EnvSecretKey))
	}
	// A user without a password would let anyone who learns the user name in; a password
	// without a user is a half-finished setting. Either way, say so at start.
	if (c.Commerce7WebhookUser == "") != (c.Commerce7WebhookPassword == "") {
		errs = append(errs, errors.New("COMMERCE7_WEBHOOK_USER and COMMERCE7_WEBHOOK_PASSWORD must be set together (or both left unset)"))
	}
	if (c.ShopifyAppClientID == "") != (c.ShopifyAppClientSecret == "") || (c.ShopifyAppClientID != "" && c.PublicURL == "") {
		errs = append(errs, errors.New("SHOPIFY_APP_CLIENT_ID, SHOPIFY_APP_CLIENT_SECRET and PUBLIC_URL must be set together (or the two app settings left unset)"))
	}
	return errors.Join(errs...)
}

// distinct counts the different bytes of s.
func distinct(s string) int {
	var seen [256]bool
	n := 0
	for i := 0; i < len(s); i++ {
		if !seen[s[i]] {
			seen[s[i]] = true
			n++
		}
	}
	return n
}

// cronSpec accepts a five-field cron expression (robfig/cron's standard parser) or "off".
func cronSpec(name string, field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, raw string) error {
		raw = strings.TrimSpace(raw)
		if raw != "off" {
			if _, err := cron.ParseStandard(raw); err != nil {
				return fmt.Errorf("%s: %q is not a cron schedule (five fields, e.g. \"0 2 * * *\") or off: %v", name, raw, err)
			}
		}
		*field(c) = raw
		return nil
	}
}

// intIn parses a whole number from lo to hi.
func intIn(name string, lo, hi int, field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, raw string) error {
		n, err := strconv.Atoi(strings.TrimSpace(raw))
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("%s: %q is not a number from %d to %d", name, raw, lo, hi)
		}
		*field(c) = n
		return nil
	}
}
