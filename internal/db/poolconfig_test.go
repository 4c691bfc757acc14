package db

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestPoolConfig: behind a transaction pooler the pool sends no startup parameter but
// application_name and keeps no named prepared statement; directly, it sets jit and the
// statement timeout at connect, and caches statements as pgx does by default.
func TestPoolConfig(t *testing.T) {
	const url = "postgres://u@h:5432/d"
	cases := []struct {
		name     string
		url      string
		opts     Options
		params   map[string]string // startup parameters expected, exactly
		execMode pgx.QueryExecMode
	}{
		{"direct", url, Options{StatementTimeout: 30 * time.Second},
			map[string]string{"application_name": "tiersync", "jit": "off", "statement_timeout": "30000"}, pgx.QueryExecModeCacheStatement},
		{"direct, the URL's own jit", url + "?jit=on", Options{},
			map[string]string{"application_name": "tiersync", "jit": "on"}, pgx.QueryExecModeCacheStatement},
		{"pooled", url, Options{StatementTimeout: 30 * time.Second, Pooled: true},
			map[string]string{"application_name": "tiersync"}, pgx.QueryExecModeCacheDescribe},
		{"pooled, the URL's exec mode kept", url + "?default_query_exec_mode=exec", Options{Pooled: true},
			map[string]string{"application_name": "tiersync"}, pgx.QueryExecModeExec},
		{"pooled, the URL's statement cache replaced", url + "?default_query_exec_mode=cache_statement", Options{Pooled: true},
			map[string]string{"application_name": "tiersync"}, pgx.QueryExecModeCacheDescribe},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := PoolConfig(c.url, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := cfg.ConnConfig.RuntimeParams
			if len(got) != len(c.params) {
				t.Fatalf("startup parameters %v, want %v", got, c.params)
			}
			for k, v := range c.params {
				if got[k] != v {
					t.Fatalf("startup parameters %v, want %v", got, c.params)
				}
			}
			if cfg.ConnConfig.DefaultQueryExecMode != c.execMode {
				t.Fatalf("exec mode %v, want %v", cfg.ConnConfig.DefaultQueryExecMode, c.execMode)
			}
		})
	}
}
