package scim_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/rosterhq/roster/scim"
)

func TestProjection(t *testing.T) {
	e := newEnv(t)
	id := e.createUser(entraCreate)
	r := e.must(200, "GET", "/Users/"+id+"?attributes=userName,NAME.givenName,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "")
	want := map[string]any{
		"id": id, "schemas": r.body["schemas"], "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@testuser.com",
		"name":        map[string]any{"givenName": "givenName"},
		enterpriseURN: map[string]any{"department": "Eng"},
	}
	if !reflect.DeepEqual(r.body, want) {
		t.Errorf("attributes=: %s", r.raw)
	}
	r = e.must(200, "GET", "/Users/"+id+"?excludedAttributes=emails,name.familyName,id,"+enterpriseURN, "")
	if _, ok := r.body["emails"]; ok || get(r.body, "name.familyName") != nil || get(r.body, "name.givenName") != "givenName" || r.body["id"] != id || r.body[enterpriseURN] != nil {
		t.Errorf("excludedAttributes=: %s", r.raw)
	}
	r = e.must(200, "GET", "/Users?attributes=emails.value", "")
	if !reflect.DeepEqual(get(r.body, "Resources.0.emails"), []any{map[string]any{"value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"}}) {
		t.Errorf("list attributes=emails.value: %s", r.raw)
	}
	// a PATCH on a group with attributes= answers 200 with them
	gid := e.createGroup(`{"displayName":"g"}`)
	r = e.must(200, "PATCH", "/Groups/"+gid+"?attributes=displayName", patchOps(`{"op":"replace","path":"displayName","value":"h"}`))
	if r.body["displayName"] != "h" {
		t.Errorf("group PATCH with attributes: %s", r.raw)
	}
}

// TestPartlyIndexedFilter: a filter whose indexed part is a superset is finished in memory on
// at most scim.MaxCandidates resources; more is 400 tooMany.
func TestPartlyIndexedFilter(t *testing.T) {
	e := newEnv(t)
	dir, err := e.b.Open(context.Background(), testToken)
	if err != nil {
		t.Fatal(err)
	}
	for i := range scim.MaxCandidates + 1 {
		typ := "home"
		if i%2 == 0 {
			typ = "work"
		}
		attrs := map[string]any{"userName": fmt.Sprintf("u%d", i), "title": fmt.Sprint(i % 3),
			"emails": []any{map[string]any{"value": fmt.Sprintf("u%d@x.test", i), "type": typ}}}
		if _, err := dir.CreateUser(context.Background(), attrs); err != nil {
			t.Fatal(err)
		}
	}
	r := e.must(200, "GET", "/Users?count=5&startIndex=2&filter="+url.QueryEscape(`userName sw "u10" and title eq "1"`), "")
	// u10, u100..u109 and u1000 start with u10; of those, i%3 == 1: 10, 100, 103, 106, 109, 1000
	if r.body["totalResults"] != 6.0 || r.body["itemsPerPage"] != 5.0 || r.body["startIndex"] != 2.0 {
		t.Fatalf("partly indexed filter: total %v items %v", r.body["totalResults"], r.body["itemsPerPage"])
	}
	if get(r.body, "Resources.0.userName") != "u100" {
		t.Errorf("second match is %v, want u100", get(r.body, "Resources.0.userName"))
	}
	r = e.must(200, "GET", "/Users?filter="+url.QueryEscape(`emails[type eq "work"].value eq "u4@x.test"`), "")
	if r.body["totalResults"] != 1.0 {
		t.Errorf("Entra email filter: %s", r.raw)
	}
	e.wantError(e.do("GET", "/Users?filter="+url.QueryEscape(`userName sw "u" and title eq "1"`), ""), 400, "tooMany")
}

// failingBackend opens a directory whose every call fails with an internal error.
type failingBackend struct{ scim.Directory }

func (failingBackend) Open(ctx context.Context, token string) (scim.Directory, error) {
	return failingBackend{}, nil
}

func (failingBackend) GetUser(ctx context.Context, id string) (*scim.Resource, error) {
	return nil, errors.New("database is on fire")
}

// TestInternalErrorsAndTokens: an internal error is a 500 with no detail, logged without the
// token.
func TestInternalErrorsAndTokens(t *testing.T) {
	var logs bytes.Buffer
	h := &scim.Handler{Backend: failingBackend{}, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	req := httptest.NewRequest("GET", "/Users/x", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 500 || strings.Contains(w.Body.String(), "fire") {
		t.Fatalf("internal error answer: %d %s", w.Code, w.Body.String())
	}
	if !strings.Contains(logs.String(), "fire") || strings.Contains(logs.String(), testToken) {
		t.Fatalf("log: %s", logs.String())
	}
	e := newEnv(t)
	e.wantError(e.do("GET", "/Users/a/b", ""), 404, "")
}

// busyBackend opens a directory whose every call finds the database busy.
type busyBackend struct{ scim.Directory }

func (busyBackend) Open(ctx context.Context, token string) (scim.Directory, error) {
	return busyBackend{}, nil
}

func (busyBackend) GetUser(ctx context.Context, id string) (*scim.Resource, error) {
	return nil, &scim.Error{Status: 503, Detail: "the database is busy with conflicting writes; try again"}
}

// TestBusyIsRetryable: a 503 (nothing written; scimdir maps UNAVAILABLE to it) says when to
// try again, as IdPs' clients read it.
func TestBusyIsRetryable(t *testing.T) {
	h := &scim.Handler{Backend: busyBackend{}}
	req := httptest.NewRequest("GET", "/Users/x", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 503 || w.Header().Get("Retry-After") != "1" || !strings.Contains(w.Body.String(), "busy") {
		t.Fatalf("busy answer: %d, Retry-After %q, %s", w.Code, w.Header().Get("Retry-After"), w.Body.String())
	}
}
