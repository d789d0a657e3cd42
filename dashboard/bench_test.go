package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/dashboard"
	"github.com/rosterhq/roster/operators"
)

// BenchmarkListPages renders the list pages of the API clients, roles and audit screens
// against a SQLite store seeded with 100k audit entries, 1,000 permissions and 200 API
// clients: the server time of one page (target < 50 ms, issue 14).
func BenchmarkListPages(b *testing.B) {
	ctx := context.Background()
	st, _, dir, env := sqliteConsole(b)
	start := time.Now()
	const audits = 100_000
	seq := roster.NewIDGenerator()
	at := time.Now().Add(-time.Hour).UTC()
	for i := 0; i < audits; i++ {
		e := roster.OperatorAuditEntry{ID: seq.New(roster.PrefixOperatorAudit), OperatorID: "op_x", Email: adaEmail, Action: "attribute.create",
			Target: fmt.Sprintf("key_%d", i), RemoteAddr: "192.0.2.1:1234", CreateTime: at.Add(time.Duration(i) * time.Millisecond)}
		if err := st.AppendOperatorAudit(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < 1000; i++ {
		if _, err := dir.CreatePermission(ctx, env, roster.Permission{Name: fmt.Sprintf("perm:%04d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < 200; i++ {
		if _, err := dir.CreateClient(ctx, env, fmt.Sprintf("client %d", i), "", ""); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("seeded %d audit entries, 1000 permissions, 200 clients in %s", audits, time.Since(start).Round(time.Millisecond))
	get := signedInGet(b, dashboard.Config{Directory: dir, Environment: env, Operators: operators.New(st, operators.Settings{Password: cheap})})
	// A page deep in the log: follow the older link 1,000 pages in (50,000 entries).
	deep := "/dashboard/audit"
	older := regexp.MustCompile(`href="([^"]+)" id="older"`)
	for i := 0; i < 1000; i++ {
		m := older.FindStringSubmatch(get(b, deep))
		if m == nil {
			b.Fatalf("no older link on page %d", i)
		}
		deep = strings.ReplaceAll(m[1], "&amp;", "&")
	}
	for _, p := range []struct{ name, path string }{
		{"audit-newest", "/dashboard/audit"},
		{"audit-page-1000", deep},
		{"roles", "/dashboard/roles"},
		{"clients", "/dashboard/clients"},
	} {
		b.Run(p.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				get(b, p.path)
			}
		})
	}
}

// signedInGet signs the operator ada in to the dashboard cfg builds (creating her through
// cfg.Operators) and returns a GET of it that must answer 200, with the answer's body.
func signedInGet(b *testing.B, cfg dashboard.Config) func(b *testing.B, path string) string {
	b.Helper()
	ctx := context.Background()
	if _, err := cfg.Operators.Create(ctx, roster.NewOperator{Email: adaEmail}, adaPassword); err != nil {
		b.Fatal(err)
	}
	ses, err := cfg.Operators.SignIn(ctx, adaEmail, adaPassword, "192.0.2.1:1")
	if err != nil {
		b.Fatal(err)
	}
	h := dashboard.New(cfg)
	return func(b *testing.B, path string) string {
		req := httptest.NewRequest("GET", path, nil)
		req.AddCookie(&http.Cookie{Name: "roster_session", Value: ses.Token})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("GET %s: %d\n%s", path, rec.Code, rec.Body.String())
		}
		return rec.Body.String()
	}
}
