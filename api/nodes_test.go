package api_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/rosterhq/roster/internal/rostertest"
	"github.com/rosterhq/roster/secretbox"
	"github.com/rosterhq/roster/store/postgres"
	"github.com/rosterhq/roster/store/postgres/pgtest"
)

// Several Roster nodes on one PostgreSQL database keep their reads consistent (issue 12): a
// write through one node is seen by the very next read on the other, for a user read by ID, by
// external ID and in a page of its organization's members, over and over (so that a JSON memo
// entry or a cached answer of an earlier round would show). Each node has its own store, as
// separate processes would; each round writes through one node and reads through the other,
// in turns.
func TestWritesOnOneNodeAreReadOnTheOther(t *testing.T) {
	dsn := pgtest.NewSchema(t)
	key := make([]byte, secretbox.KeySize)
	_, _ = rand.Read(key)
	var nodes [2]*rostertest.Roster
	for i := range nodes {
		st, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		nodes[i] = rostertest.Start(t, "postgres", rostertest.WithNode(st, key, "http://roster.test"))
	}
	token := nodes[0].Token(t)
	org := newOrgREST(t, nodes[0], token, "Nodes")
	wantStatus(t, nodes[1].REST(t, token, "POST", "/api/v1/roles", `{"name": "auditor", "display_name": "Auditor"}`), 200)

	// seen reads the user through r by ID, by external ID and in the organization's page, and
	// checks each shows what check wants (or, for want nil, that the user is gone).
	seen := func(r *rostertest.Roster, round int, id, ext string, check func(u map[string]any) error) {
		t.Helper()
		byID := r.REST(t, token, "GET", "/api/v1/users/"+id, "")
		byExt := r.REST(t, token, "GET", "/api/v1/users:external/"+ext, "")
		page := r.REST(t, token, "GET", "/api/v1/organizations/"+org+"/users?page_size=100", "")
		wantStatus(t, page, 200)
		var inPage map[string]any
		users, _ := page.Body["users"].([]any)
		for _, u := range users {
			if obj(u)["id"] == id {
				inPage = obj(u)
			}
		}
		if check == nil {
			if byID.Status != 404 || byExt.Status != 404 || inPage != nil {
				t.Fatalf("round %d: a deleted user is still read: by id %d, by external id %d, in the page: %v", round, byID.Status, byExt.Status, inPage != nil)
			}
			return
		}
		for what, u := range map[string]map[string]any{"by id": user(byID), "by external id": user(byExt), "in the page": inPage} {
			if u == nil {
				t.Fatalf("round %d: the user is not read %s: %s / %s", round, what, byID.Raw, byExt.Raw)
			}
			if err := check(u); err != nil {
				t.Fatalf("round %d: read %s: %v", round, what, err)
			}
		}
	}
	roleNames := func(u map[string]any) []string {
		var names []string
		for _, m := range u["memberships"].([]any) {
			if obj(m)["organization_id"] == org {
				for _, r := range obj(m)["roles"].([]any) {
					names = append(names, obj(r)["name"].(string))
				}
			}
		}
		return names
	}
	rounds := 25
	if testing.Short() {
		rounds = 5
	}
	for round := range rounds {
		w, r := nodes[round%2], nodes[(round+1)%2]
		ext := fmt.Sprintf("node-user-%d", round)
		res := w.REST(t, token, "POST", "/api/v1/organizations/"+org+"/users", fmt.Sprintf(`{"email": "n%d@nodes.test", "external_id": %q}`, round, ext))
		wantStatus(t, res, 200)
		id := user(res)["id"].(string)
		seen(r, round, id, ext, func(u map[string]any) error {
			if u["email"] != fmt.Sprintf("n%d@nodes.test", round) {
				return fmt.Errorf("created: email %v", u["email"])
			}
			return nil
		})
		for step := range 3 {
			// Write through one node, read through the other, the roles swapped each step.
			w, r = r, w
			name := fmt.Sprintf("Given %d.%d", round, step)
			wantStatus(t, w.REST(t, token, "PATCH", "/api/v1/users/"+id, fmt.Sprintf(`{"user_profile": {"given_name": %q}}`, name)), 200)
			seen(r, round, id, ext, func(u map[string]any) error {
				if g := obj(u, "user_profile")["given_name"]; g != name {
					return fmt.Errorf("after the profile update: given_name %v, want %q", g, name)
				}
				return nil
			})
			role := []string{"auditor", "member", "admin"}[step]
			wantStatus(t, r.REST(t, token, "PATCH", "/api/v1/memberships/organizations/"+org+"/users/"+id, fmt.Sprintf(`{"roles": [{"name": %q}]}`, role)), 200)
			seen(w, round, id, ext, func(u map[string]any) error {
				if got := roleNames(u); len(got) != 1 || got[0] != role {
					return fmt.Errorf("after the membership update: roles %v, want [%s]", got, role)
				}
				return nil
			})
		}
		wantStatus(t, w.REST(t, token, "DELETE", "/api/v1/users/"+id, ""), 200)
		seen(r, round, id, ext, nil)
	}
}
