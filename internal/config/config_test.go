package config

import (
	"bytes"
	"flag"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

var goodKey = "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0wMTIzNDU="

func TestBind(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string
		check   func(t *testing.T, c *Config)
	}{
		{name: "defaults", check: func(t *testing.T, c *Config) {
			if c.ListenAddr != "127.0.0.1:8080" || c.Workers != 16 || c.InlineSyncTimeout != 2*time.Second ||
				c.QueueRetention != 720*time.Hour || c.NotifyMode != "listen" ||
				c.Commerce7APIURL != "https://api.commerce7.com/v1" || c.ShopifyAPIURL != "https://{shop}" ||
				c.ShopifyAPIVersion != "2026-10" || len(c.ShopifyAppScopes) != 3 || c.LogLevel != "info" || c.QueueLease != 30*time.Second ||
				c.PollInterval != time.Second || c.BackoffBase != time.Minute || c.BackoffMax != 24*time.Hour ||
				c.ShutdownTimeout != 20*time.Second || c.MetricsAddr != "" || c.MetricsInterval != 15*time.Second ||
				c.DBMaxConns != 16 || c.StatementTimeout != 30*time.Second || c.RequestTimeout != 30*time.Second || !c.CookieSecure {
				t.Fatalf("defaults wrong: %+v", c)
			}
		}},
		{name: "env", env: map[string]string{"WORKERS": "4", "LISTEN_ADDR": ":9000", "COMMERCE7_APP_ID": "app"},
			check: func(t *testing.T, c *Config) {
				if c.Workers != 4 || c.ListenAddr != ":9000" {
					t.Fatalf("env not read: %+v", c)
				}
				if c.Commerce7EchoUser != "app" {
					t.Fatalf("COMMERCE7_ECHO_USER default = %q, want the app id", c.Commerce7EchoUser)
				}
			}},
		{name: "flag beats env", env: map[string]string{"WORKERS": "4"}, args: []string{"-WORKERS", "8"},
			check: func(t *testing.T, c *Config) {
				if c.Workers != 8 {
					t.Fatalf("Workers = %d, want 8", c.Workers)
				}
			}},
		{name: "secret key", env: map[string]string{"TIERSYNC_SECRET_KEY": goodKey},
			check: func(t *testing.T, c *Config) {
				if len(c.SecretKey) != 32 {
					t.Fatalf("key is %d bytes", len(c.SecretKey))
				}
			}},
		{name: "trailing slash trimmed", env: map[string]string{"COMMERCE7_API_URL": "http://127.0.0.1:9/v1/"},
			check: func(t *testing.T, c *Config) {
				if c.Commerce7APIURL != "http://127.0.0.1:9/v1" {
					t.Fatalf("got %q", c.Commerce7APIURL)
				}
			}},
		{name: "short key", env: map[string]string{"TIERSYNC_SECRET_KEY": "c2hvcnQ="}, wantErr: "32 bytes"},
		{name: "bad workers", env: map[string]string{"WORKERS": "many"}, wantErr: "WORKERS"},
		{name: "bad duration", env: map[string]string{"INLINE_SYNC_TIMEOUT": "2"}, wantErr: "INLINE_SYNC_TIMEOUT"},
		{name: "bad notify mode", env: map[string]string{"NOTIFY_MODE": "push"}, wantErr: "NOTIFY_MODE"},
		{name: "bad url", env: map[string]string{"COMMERCE7_API_URL": "ftp://x"}, wantErr: "COMMERCE7_API_URL"},
		{name: "pool size from workers", env: map[string]string{"WORKERS": "40"}, check: func(t *testing.T, c *Config) {
			if c.DBMaxConns != 28 {
				t.Fatalf("DBMaxConns = %d, want 40/2+8", c.DBMaxConns)
			}
		}},
		{name: "pool size set", env: map[string]string{"DB_MAX_CONNS": "5", "COOKIE_SECURE": "false"}, check: func(t *testing.T, c *Config) {
			if c.DBMaxConns != 5 || c.CookieSecure {
				t.Fatalf("DBMaxConns %d CookieSecure %v", c.DBMaxConns, c.CookieSecure)
			}
		}},
		{name: "bad pool size", env: map[string]string{"DB_MAX_CONNS": "1"}, wantErr: "DB_MAX_CONNS"},
		{name: "bad cookie flag", env: map[string]string{"COOKIE_SECURE": "maybe"}, wantErr: "COOKIE_SECURE"},
		{name: "bad log level", args: []string{"-LOG_LEVEL", "loud"}, wantErr: "LOG_LEVEL"},
		{name: "direct listens", check: func(t *testing.T, c *Config) {
			if c.DBPooler != "none" || c.Pooled() || !c.Listens() {
				t.Fatalf("DB_POOLER %q: pooled %v, listens %v", c.DBPooler, c.Pooled(), c.Listens())
			}
		}},
		{name: "pooled polls", env: map[string]string{"DB_POOLER": "Transaction"}, check: func(t *testing.T, c *Config) {
			if !c.Pooled() || c.Listens() {
				t.Fatalf("pooled %v, listens %v: want pooled, polling", c.Pooled(), c.Listens())
			}
		}},
		{name: "pooled listens past the pooler", env: map[string]string{"DB_POOLER": "transaction", "DATABASE_LISTEN_URL": "postgres://u@db:5432/t"},
			check: func(t *testing.T, c *Config) {
				if !c.Pooled() || !c.Listens() {
					t.Fatalf("pooled %v, listens %v: want both", c.Pooled(), c.Listens())
				}
			}},
		{name: "poll wins over a listen URL", env: map[string]string{"NOTIFY_MODE": "poll", "DATABASE_LISTEN_URL": "postgres://u@db:5432/t"},
			check: func(t *testing.T, c *Config) {
				if c.Listens() {
					t.Fatal("NOTIFY_MODE=poll listens")
				}
			}},
		{name: "bad pooler", env: map[string]string{"DB_POOLER": "pgbouncer"}, wantErr: "DB_POOLER"},
		{name: "bad listen url", env: map[string]string{"DATABASE_LISTEN_URL": "db:5432"}, wantErr: "DATABASE_LISTEN_URL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			load := Bind(fs, envOf(c.env), Database, Server)
			if err := fs.Parse(c.args); err != nil {
				t.Fatal(err)
			}
			cfg, err := load()
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, cfg)
		})
	}
}

func TestHelpHidesSecrets(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	var out bytes.Buffer
	fs.SetOutput(&out)
	load := Bind(fs, envOf(map[string]string{"TIERSYNC_API_TOKEN": "s3cr3t-token-value", "DATABASE_URL": "postgres://u:pw@h/db",
		"ALERT_WEBHOOK_URL": "https://hooks.slack.example/services/T0/B0/slacksecret"}), Database, Server)
	fs.PrintDefaults()
	if strings.Contains(out.String(), "s3cr3t") || strings.Contains(out.String(), "pw@") || strings.Contains(out.String(), "slacksecret") {
		t.Fatalf("--help shows a secret:\n%s", out.String())
	}
	for _, name := range []string{"DATABASE_URL", "LISTEN_ADDR", "TIERSYNC_API_TOKEN", "TIERSYNC_SECRET_KEY", "WORKERS",
		"COMMERCE7_API_URL", "SHOPIFY_API_URL", "INLINE_SYNC_TIMEOUT", "QUEUE_RETENTION", "NOTIFY_MODE", "ALERT_WEBHOOK_URL"} {
		if !strings.Contains(out.String(), "-"+name) {
			t.Errorf("--help does not list %s", name)
		}
	}
	cfg, err := load()
	if err != nil || cfg.APIToken != "s3cr3t-token-value" || cfg.DatabaseURL != "postgres://u:pw@h/db" {
		t.Fatalf("secret from env not used: %v %+v", err, cfg)
	}
}

func TestCheckServer(t *testing.T) {
	ok := func() *Config {
		return &Config{DatabaseURL: "postgres://x", APIToken: "0123456789abcdef", SecretKey: []byte("secret-key-for-tests-only-012345")}
	}
	if err := ok().CheckServer(); err != nil {
		t.Fatal(err)
	}
	refused := []struct {
		name   string
		change func(c *Config)
		want   string
	}{
		{"token of one character", func(c *Config) { c.APIToken = strings.Repeat("a", 32) }, "TIERSYNC_API_TOKEN"},
		{"token of 7 characters", func(c *Config) { c.APIToken = strings.Repeat("abcdefg", 5) }, "8 different"},
		{"zero key", func(c *Config) { c.SecretKey = make([]byte, 32) }, "TIERSYNC_SECRET_KEY is one byte repeated"},
		{"webhook user without password", func(c *Config) { c.Commerce7WebhookUser = "hooks" }, "COMMERCE7_WEBHOOK_USER and COMMERCE7_WEBHOOK_PASSWORD"},
		{"webhook password without user", func(c *Config) { c.Commerce7WebhookPassword = "pw" }, "must be set together"},
	}
	for _, tc := range refused {
		c := ok()
		tc.change(c)
		if err := c.CheckServer(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: CheckServer = %v, want an error mentioning %q", tc.name, err, tc.want)
		}
	}
	both := ok()
	both.Commerce7WebhookUser, both.Commerce7WebhookPassword = "hooks", "pw"
	if err := both.CheckServer(); err != nil {
		t.Errorf("both webhook settings: %v", err)
	}
	bad := &Config{APIToken: "short"}
	err := bad.CheckServer()
	for _, want := range []string{"DATABASE_URL", "TIERSYNC_API_TOKEN", "TIERSYNC_SECRET_KEY"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckServer error %v does not mention %s", err, want)
		}
	}
}

// TestREADMEListsEverySetting keeps the README's configuration table honest.
func TestREADMEListsEverySetting(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings() {
		if !strings.Contains(string(readme), "`"+s.name+"`") {
			t.Errorf("README.md does not document %s", s.name)
		}
	}
}

// TestEverySettingHasAKind: --help shows each setting's kind from Kind; a new setting
// without one would show as a bare flag.
func TestEverySettingHasAKind(t *testing.T) {
	for _, s := range settings() {
		if Kind(s.name) == "" {
			t.Errorf("%s has no kind", s.name)
		}
	}
}

func TestLogFormat(t *testing.T) {
	for _, c := range []struct{ raw, want, err string }{
		{"", "json", ""}, {"text", "text", ""}, {"JSON", "json", ""}, {"yaml", "", "LOG_FORMAT"},
	} {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		load := Bind(fs, envOf(map[string]string{"LOG_FORMAT": c.raw}), Database)
		cfg, err := load()
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("LOG_FORMAT=%q: %v, want an error naming %s", c.raw, err, c.err)
			}
			continue
		}
		if err != nil || cfg.LogFormat != c.want {
			t.Errorf("LOG_FORMAT=%q: %q %v, want %q", c.raw, cfg.LogFormat, err, c.want)
		}
	}
}
