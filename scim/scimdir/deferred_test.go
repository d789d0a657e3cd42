package scimdir_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/rosterhq/roster/directory"
	"github.com/rosterhq/roster/scim"
	"github.com/rosterhq/roster/scim/scimdir"
	"github.com/rosterhq/roster/scim/scimtest"
)

// secret makes the fixture directory's secret and returns its token.
func (f fixture) secret(t *testing.T, dirID string) string {
	t.Helper()
	_, plain, err := f.svc.CreateDirectorySecret(context.Background(), f.env, f.org.ID, dirID, false)
	if err != nil {
		t.Fatal(err)
	}
	return plain
}

// TestDeferredChecksTheToken: a directory opened before its token is checked (Defer) refuses,
// in every one of its methods, a token of another directory (the zero arguments never reach
// the store: the token is checked first), and with its own token passes the SCIM Backend's
// contract, group updates checking the token inside their write.
func TestDeferredChecksTheToken(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, backend)
			d2, err := f.svc.CreateDirectory(ctx, f.env, f.org.ID, "SCIM", "MICROSOFT_AD")
			if err != nil {
				t.Fatal(err)
			}
			f.secret(t, f.dir.ID)
			otherToken := f.secret(t, d2.Directory.ID)
			errType := reflect.TypeFor[error]()
			methods := reflect.TypeFor[scim.DeferredDirectory]()
			for i := range methods.NumMethod() {
				m := methods.Method(i)
				d := scimdir.Backend{Service: f.svc, DirectoryID: f.dir.ID}.Defer(otherToken)
				fn := reflect.ValueOf(d).MethodByName(m.Name)
				args := []reflect.Value{reflect.ValueOf(ctx)}
				for j := 1; j < fn.Type().NumIn(); j++ {
					args = append(args, reflect.Zero(fn.Type().In(j)))
				}
				out := fn.Call(args)
				last := out[len(out)-1]
				if last.Type() != errType {
					t.Fatalf("%s returns no error last", m.Name)
				}
				if err, _ := last.Interface().(error); !errors.Is(err, scim.ErrUnauthorized) {
					t.Errorf("%s with another directory's token: %v, want ErrUnauthorized", m.Name, err)
				}
				if err := d.Verify(ctx); !errors.Is(err, scim.ErrUnauthorized) {
					t.Errorf("Verify after %s: %v", m.Name, err)
				}
			}
		})
	}
	for _, backend := range backends {
		t.Run(backend+"/contract", func(t *testing.T) {
			scimtest.Conformance(t, func(t *testing.T) scim.Directory {
				f := newFixture(t, backend, "x.test", "y.test", "work.test", "home.test")
				return scimdir.Backend{Service: f.svc, DirectoryID: f.dir.ID}.Defer(f.secret(t, f.dir.ID))
			})
		})
	}
}

// TestDeferredRequestLog: the directory's request log (the dashboard's) keeps a group PATCH
// whose write accepted the token, and not one it refused.
func TestDeferredRequestLog(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, backend)
			token := f.secret(t, f.dir.ID)
			srv := httptest.NewServer(scimdir.Handler(f.svc, "http://roster.test", slog.New(slog.NewTextHandler(io.Discard, nil))))
			defer srv.Close()
			send := func(token, method, path, body string) int {
				req, _ := http.NewRequest(method, srv.URL+directory.SCIMPathPrefix+f.dir.ID+path, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				res, err := srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				return res.StatusCode
			}
			rename := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"externalId","value":"x"}]}`
			if st := send(token, "POST", "/Groups", `{"displayName":"Eng"}`); st != 201 {
				t.Fatalf("create: %d", st)
			}
			page, _, err := f.svc.QuerySCIMGroups(ctx, f.dir, nil, 0, 1)
			if err != nil || len(page) != 1 {
				t.Fatalf("groups %v, %v", page, err)
			}
			if st := send(token+"x", "PATCH", "/Groups/"+page[0].ID, rename); st != 401 {
				t.Fatalf("a wrong token: %d", st)
			}
			if st := send(token, "PATCH", "/Groups/"+page[0].ID, rename); st != 204 {
				t.Fatalf("the right token: %d", st)
			}
			if err := f.svc.Close(ctx); err != nil {
				t.Fatal(err)
			}
			rs, err := f.svc.ListSCIMRequests(ctx, f.env, f.org.ID, f.dir.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 2 || rs[0].Method != "PATCH" || rs[0].Status != 204 || rs[1].Method != "POST" {
				t.Fatalf("request log %+v, want the POST and the accepted PATCH", rs)
			}
		})
	}
}
