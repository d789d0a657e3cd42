// Package storetest is the conformance suite that every store.Store backend must pass.
package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// Run runs every conformance test; newStore returns an empty, migrated store.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Environments", testEnvironments},
		{"Clients", testClients},
		{"SigningKeys", testSigningKeys},
		{"OrganizationCRUD", testOrganizationCRUD},
		{"OrganizationUniqueness", testOrganizationUniqueness},
		{"OrganizationEnvironmentIsolation", testOrganizationIsolation},
		{"OrganizationUpdateAtomic", testOrganizationUpdateAtomic},
		{"OrganizationConcurrentCreate", testOrganizationConcurrentCreate},
		{"OrganizationPagination", testOrganizationPagination},
		{"OrganizationPaginationUnderInserts", testOrganizationPaginationUnderInserts},
		{"OrganizationSearch", testOrganizationSearch},
	}
	tests = append(tests, userTests...)
	tests = append(tests, ssoTests...)
	tests = append(tests, readTests...)
	tests = append(tests, concurrencyTests...)
	tests = append(tests, limitTests...)
	tests = append(tests, bulkTests...)
	tests = append(tests, directoryTests...)
	tests = append(tests, provenanceTests...)
	tests = append(tests, operatorTests...)
	tests = append(tests, eventTests...)
	tests = append(tests, userEventTests...)
	tests = append(tests, eventDirectoryTests...)
	tests = append(tests, webhookTests...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			t.Cleanup(func() { s.Close() })
			tt.fn(t, s)
		})
	}
}

var ids = roster.NewIDGenerator()

// now is truncated to microseconds, the stores' resolution.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func newEnv(t *testing.T, s store.Store, name string) roster.Environment {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	env := roster.Environment{ID: ids.New(roster.PrefixEnvironment), Name: name, CursorKey: key, CreateTime: now()}
	if err := s.CreateEnvironment(context.Background(), env); err != nil {
		t.Fatalf("create environment: %v", err)
	}
	return env
}

func newOrg(envID, name, externalID string) roster.Organization {
	return roster.NewOrganization{DisplayName: name, ExternalID: externalID, Metadata: map[string]string{"plan": "gold"}}.
		Build(ids.New(roster.PrefixOrganization), envID, now())
}

func mustCode(t *testing.T, err error, code roster.Code) {
	t.Helper()
	if got := roster.ErrorCode(err); err == nil || got != code {
		t.Fatalf("want %s error, got %v (%s)", code, err, got)
	}
}

func testEnvironments(t *testing.T, s store.Store) {
	ctx := context.Background()
	env := newEnv(t, s, "default")
	got, err := s.GetEnvironment(ctx, env.ID)
	if err != nil || got.Name != "default" || string(got.CursorKey) != string(env.CursorKey) || !got.CreateTime.Equal(env.CreateTime) {
		t.Fatalf("get environment = %+v, %v", got, err)
	}
	dup := env
	dup.ID = ids.New(roster.PrefixEnvironment)
	mustCode(t, s.CreateEnvironment(ctx, dup), roster.EConflict)
	_, err = s.GetEnvironment(ctx, "env_1")
	mustCode(t, err, roster.ENotFound)
	envs, err := s.ListEnvironments(ctx)
	if err != nil || len(envs) != 1 || envs[0].ID != env.ID {
		t.Fatalf("list environments = %+v, %v", envs, err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
}

func testClients(t *testing.T, s store.Store) {
	ctx := context.Background()
	env := newEnv(t, s, "default")
	c := roster.APIClient{ID: ids.New(roster.PrefixClient), EnvironmentID: env.ID, Name: "admin", SecretHash: "hash", CreateTime: now()}
	if err := s.CreateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	mustCode(t, s.CreateClient(ctx, c), roster.EConflict)
	got, err := s.GetClient(ctx, c.ID)
	if err != nil || got.Name != "admin" || got.SecretHash != "hash" || got.Revoked() {
		t.Fatalf("get client = %+v, %v", got, err)
	}
	at := now()
	if err := s.RevokeClient(ctx, c.ID, at); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeClient(ctx, c.ID, at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetClient(ctx, c.ID)
	if !got.Revoked() || !got.RevokeTime.Equal(at) {
		t.Fatalf("revoked client = %+v; want revoke time %v kept", got, at)
	}
	mustCode(t, s.RevokeClient(ctx, "skc_1", at), roster.ENotFound)
	_, err = s.GetClient(ctx, "skc_1")
	mustCode(t, err, roster.ENotFound)
	list, err := s.ListClients(ctx, env.ID)
	if err != nil || len(list) != 1 {
		t.Fatalf("list clients = %+v, %v", list, err)
	}
}

func testSigningKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	env := newEnv(t, s, "default")
	old := roster.SigningKey{ID: "k1", EnvironmentID: env.ID, Algorithm: "RS256", PrivateKeySealed: "pem1", CreateTime: now().Add(-time.Hour)}
	retire := now()
	old.RetireTime = &retire
	cur := roster.SigningKey{ID: "k2", EnvironmentID: env.ID, Algorithm: "RS256", PrivateKeySealed: "pem2", CreateTime: now()}
	for _, k := range []roster.SigningKey{old, cur} {
		if err := s.CreateSigningKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := s.ListSigningKeys(ctx, env.ID)
	if err != nil || len(keys) != 2 || keys[0].ID != "k2" || keys[1].RetireTime == nil || keys[1].PrivateKeySealed != "pem1" {
		t.Fatalf("list keys = %+v, %v", keys, err)
	}

	// SealSigningKey replaces a key's private key only while it still holds the value the
	// caller read, so two nodes sealing at once cannot lose either's work.
	if err := s.SealSigningKey(ctx, "k1", "pem1", "sealed1"); err != nil {
		t.Fatal(err)
	}
	if err := s.SealSigningKey(ctx, "k1", "pem1", "sealed-by-a-slower-node"); err != nil {
		t.Fatal(err)
	}
	keys, err = s.ListSigningKeys(ctx, env.ID)
	if err != nil || len(keys) != 2 || keys[1].PrivateKeySealed != "sealed1" || keys[0].PrivateKeySealed != "pem2" {
		t.Fatalf("keys after sealing k1 = %+v, %v", keys, err)
	}
}

func testOrganizationCRUD(t *testing.T, s store.Store) {
	ctx := context.Background()
	env := newEnv(t, s, "default")
	o := newOrg(env.ID, "Megasoft Inc", "CUST-12345-MGSFT")
	slug := "megasoft"
	o.Slug = &slug
	if err := s.CreateOrganization(ctx, o); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []roster.OrganizationRef{{ID: o.ID}, {ExternalID: "CUST-12345-MGSFT"}} {
		got, err := s.GetOrganization(ctx, env.ID, ref)
		if err != nil {
			t.Fatalf("get %+v: %v", ref, err)
		}
		if got.ID != o.ID || got.DisplayName != "Megasoft Inc" || *got.ExternalID != "CUST-12345-MGSFT" ||
			got.Metadata["plan"] != "gold" || *got.Slug != "megasoft" || got.LogoURL != nil || !got.CreateTime.Equal(o.CreateTime) {
			t.Fatalf("get %+v = %+v", ref, got)
		}
	}
	_, err := s.GetOrganization(ctx, env.ID, roster.OrganizationRef{ExternalID: "nope"})
	mustCode(t, err, roster.ENotFound)

	later := o.UpdateTime.Add(time.Second)
	updated, err := s.UpdateOrganization(ctx, env.ID, roster.OrganizationRef{ExternalID: "CUST-12345-MGSFT"}, func(x *roster.Organization) error {
		name, ext := "Megasoft", "TENANT-12345-MGSFT"
		return roster.OrganizationPatch{DisplayName: &name, ExternalID: &ext, Metadata: map[string]string{"invoice_email": "billing@megasoft.com", "plan": ""}}.Apply(x, later)
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetOrganization(ctx, env.ID, roster.OrganizationRef{ExternalID: "TENANT-12345-MGSFT"})
	if got.DisplayName != "Megasoft" || len(got.Metadata) != 1 || got.Metadata["invoice_email"] != "billing@megasoft.com" ||
		!got.UpdateTime.Equal(later) || !got.CreateTime.Equal(o.CreateTime) || updated.DisplayName != got.DisplayName {
		t.Fatalf("after update = %+v", got)
	}

	if err := s.DeleteOrganization(ctx, env.ID, roster.OrganizationRef{ID: o.ID}); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetOrganization(ctx, env.ID, roster.OrganizationRef{ID: o.ID})
	mustCode(t, err, roster.ENotFound)
	mustCode(t, s.DeleteOrganization(ctx, env.ID, roster.OrganizationRef{ID: o.ID}), roster.ENotFound)
	_, err = s.UpdateOrganization(ctx, env.ID, roster.OrganizationRef{ID: o.ID}, func(*roster.Organization) error { return nil })
	mustCode(t, err, roster.ENotFound)
}

func testOrganizationUniqueness(t *testing.T, s store.Store) {
	ctx := context.Background()
	env := newEnv(t, s, "default")
	a := newOrg(env.ID, "A", "ext-1")
	if err := s.CreateOrganization(ctx, a); err != nil {
		t.Fatal(err)
	}
	err := s.CreateOrganization(ctx, newOrg(env.ID, "B", "ext-1"))
	mustCode(t, err, roster.EConflict)
	var e *roster.Error
	if !errors.As(err, &e) || len(e.Violations) != 1 || e.Violations[0].Field != "organization.external_id" {
		t.Fatalf("conflict should name organization.external_id: %+v", err)
	}
	// Organizations without an external ID do not collide with each other.
	for i := 0; i < 3; i++ {
		if err := s.CreateOrganization(ctx, newOrg(env.ID, "none", "")); err != nil {
			t.Fatalf("org without external id #%d: %v", i, err)
		}
	}
	// Slugs are unique too.
	slug := "acme"
	b, c := newOrg(env.ID, "B", "ext-2"), newOrg(env.ID, "C", "ext-3")
	b.Slug, c.Slug = &slug, &slug
	if err := s.CreateOrganization(ctx, b); err != nil {
		t.Fatal(err)
	}
	mustCode(t, s.CreateOrganization(ctx, c), roster.EConflict)

	// An update onto a taken external ID conflicts and changes nothing.
	_, err = s.UpdateOrganization(ctx, env.ID, roster.OrganizationRef{ID: b.ID}, func(o *roster.Organization) error {
		ext := "ext-1"
		o.ExternalID = &ext
		o.DisplayName = "renamed"
		return nil
	})
	mustCode(t, err, roster.EConflict)
	got, _ := s.GetOrganization(ctx, env.ID, roster.OrganizationRef{ID: b.ID})
	if *got.ExternalID != "ext-2" || got.DisplayName != "B" {
		t.Fatalf("refused update changed the record: %+v", got)
	}
	// An update function's error aborts the transaction.
	_, err = s.UpdateOrganization(ctx, env.ID, roster.OrganizationRef{ID: b.ID}, func(o *roster.Organization) error {
		o.DisplayName = "changed"
		return roster.Errorf(roster.EInvalid, "no")
	})
	mustCode(t, err, roster.EInvalid)
	if got, _ := s.GetOrganization(ctx, env.ID, roster.OrganizationRef{ID: b.ID}); got.DisplayName != "B" {
		t.Fatalf("failed update changed the record: %+v", got)
	}
}

func testOrganizationIsolation(t *testing.T, s store.Store) {
	ctx := context.Background()
	e1, e2 := newEnv(t, s, "one"), newEnv(t, s, "two")
	o1 := newOrg(e1.ID, "One", "shared-ext")
	if err := s.CreateOrganization(ctx, o1); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateOrganization(ctx, newOrg(e2.ID, "Two", "shared-ext")); err != nil {
		t.Fatalf("same external id in another environment: %v", err)
	}
	_, err := s.GetOrganization(ctx, e2.ID, roster.OrganizationRef{ID: o1.ID})
	mustCode(t, err, roster.ENotFound)
	mustCode(t, s.DeleteOrganization(ctx, e2.ID, roster.OrganizationRef{ID: o1.ID}), roster.ENotFound)
	page, err := s.ListOrganizations(ctx, e2.ID, store.OrganizationQuery{Page: store.PageQuery{Size: 10}})
	if err != nil || page.Total != 1 || len(page.Items) != 1 || page.Items[0].EnvironmentID != e2.ID {
		t.Fatalf("list of env two = %+v, %v", page, err)
	}
}

// testOrganizationUpdateAtomic: concurrent read-modify-write updates must not lose each other.
func testOrganizationUpdateAtomic(t *testing.T, s store.Store) {
	ctx := context.Background()
	env := newEnv(t, s, "default")
	o := newOrg(env.ID, "A", "")
	if err := s.CreateOrganization(ctx, o); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := s.UpdateOrganization(ctx, env.ID, roster.OrganizationRef{ID: o.ID}, func(x *roster.Organization) error {
				return roster.OrganizationPatch{Metadata: map[string]string{fmt.Sprintf("key%d", i): "v"}}.Apply(x, now())
			})
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, _ := s.GetOrganization(ctx, env.ID, roster.OrganizationRef{ID: o.ID})
	if len(got.Metadata) != 9 {
		t.Fatalf("lost updates: metadata = %v", got.Metadata)
	}
}

// testOrganizationConcurrentCreate: 20 racing creators with one external ID, one wins.
func testOrganizationConcurrentCreate(t *testing.T, s store.Store) {
	ctx := context.Background()
	env := newEnv(t, s, "default")
	const n = 20
	var wg sync.WaitGroup
	results := make(chan error, n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results <- s.CreateOrganization(ctx, newOrg(env.ID, "Racer", "race-ext"))
		}()
	}
	close(start)
	wg.Wait()
	close(results)
	ok, conflicts := 0, 0
	for err := range results {
		switch {
		case err == nil:
			ok++
		case roster.ErrorCode(err) == roster.EConflict:
			conflicts++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	ext := "race-ext"
	page, err := s.ListOrganizations(ctx, env.ID, store.OrganizationQuery{ExternalID: &ext, Page: store.PageQuery{Size: 10}})
	if ok != 1 || conflicts != n-1 || err != nil || page.Total != 1 {
		t.Fatalf("ok=%d conflicts=%d rows=%d err=%v", ok, conflicts, page.Total, err)
	}
}

func createMany(t *testing.T, s store.Store, envID, prefix string, n int) []roster.Organization {
	t.Helper()
	var out []roster.Organization
	for i := 0; i < n; i++ {
		o := newOrg(envID, fmt.Sprintf("Org %03d", i), fmt.Sprintf("%s-%03d", prefix, i))
		if err := s.CreateOrganization(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		out = append(out, o)
	}
	return out
}

func seqOf(o roster.Organization) int64 {
	n, _ := roster.IDNumber(o.ID, roster.PrefixOrganization)
	return n
}

func testOrganizationPagination(t *testing.T, s store.Store) {
	ctx := context.Background()
	env := newEnv(t, s, "default")
	all := createMany(t, s, env.ID, "ext", 23)
	var seen []string
	q := store.OrganizationQuery{Page: store.PageQuery{Size: 5}}
	for pages := 0; ; pages++ {
		page, err := s.ListOrganizations(ctx, env.ID, q)
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != 23 {
			t.Fatalf("total = %d", page.Total)
		}
		for _, o := range page.Items {
			seen = append(seen, o.ID)
		}
		if !page.More {
			break
		}
		q.Page.After = seqOf(page.Items[len(page.Items)-1])
	}
	if len(seen) != 23 {
		t.Fatalf("saw %d organizations", len(seen))
	}
	for i, o := range all {
		if seen[i] != o.ID {
			t.Fatalf("page order: position %d is %s, want %s", i, seen[i], o.ID)
		}
	}
	// Backwards from the end: the last full page before the last item.
	page, err := s.ListOrganizations(ctx, env.ID, store.OrganizationQuery{Page: store.PageQuery{Size: 5, Before: seqOf(all[22])}})
	if err != nil || len(page.Items) != 5 || page.Items[0].ID != all[17].ID || page.Items[4].ID != all[21].ID || !page.More {
		t.Fatalf("backward page = %v items, more=%v, err=%v", len(page.Items), page.More, err)
	}
	page, _ = s.ListOrganizations(ctx, env.ID, store.OrganizationQuery{Page: store.PageQuery{Size: 5, Before: seqOf(all[3])}})
	if len(page.Items) != 3 || page.More || page.Items[0].ID != all[0].ID {
		t.Fatalf("first backward page = %d items, more=%v", len(page.Items), page.More)
	}
	ext := "ext-007"
	page, _ = s.ListOrganizations(ctx, env.ID, store.OrganizationQuery{ExternalID: &ext, Page: store.PageQuery{Size: 5}})
	if page.Total != 1 || len(page.Items) != 1 || page.Items[0].ID != all[7].ID {
		t.Fatalf("external id filter = %+v", page)
	}
}

// testOrganizationPaginationUnderInserts: rows inserted while a client pages through the list
// never make it see a row twice or miss one that existed when it started.
func testOrganizationPaginationUnderInserts(t *testing.T, s store.Store) {
	ctx := context.Background()
	env := newEnv(t, s, "default")
	before := createMany(t, s, env.ID, "start", 12)
	seen := map[string]int{}
	q := store.OrganizationQuery{Page: store.PageQuery{Size: 4}}
	for {
		page, err := s.ListOrganizations(ctx, env.ID, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Items {
			seen[o.ID]++
		}
		createMany(t, s, env.ID, fmt.Sprintf("later%d", len(seen)), 3) // concurrent writers between pages
		if !page.More {
			break
		}
		q.Page.After = seqOf(page.Items[len(page.Items)-1])
	}
	for id, n := range seen {
		if n > 1 {
			t.Fatalf("%s seen %d times", id, n)
		}
	}
	for _, o := range before {
		if seen[o.ID] != 1 {
			t.Fatalf("%s (present at start) was skipped", o.ID)
		}
	}
}

func testOrganizationSearch(t *testing.T, s store.Store) {
	ctx := context.Background()
	env := newEnv(t, s, "default")
	mk := func(name, ext string) roster.Organization {
		o := newOrg(env.ID, name, ext)
		if err := s.CreateOrganization(ctx, o); err != nil {
			t.Fatal(err)
		}
		return o
	}
	mega := mk("Megasoft Inc", "CUST-12345-MGSFT")
	mk("Acme Corporation", "CUST-999-ACME")
	pct := mk("100% Cotton_Co", "")
	search := func(q string) []string {
		page, err := s.ListOrganizations(ctx, env.ID, store.OrganizationQuery{Search: q, Page: store.PageQuery{Size: 10}})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, o := range page.Items {
			names = append(names, o.DisplayName)
		}
		if page.Total != len(names) {
			t.Fatalf("search %q total %d for %d items", q, page.Total, len(names))
		}
		return names
	}
	if got := search("megaSOFT"); len(got) != 1 || got[0] != "Megasoft Inc" {
		t.Fatalf("search by name = %v", got)
	}
	if got := search("cust-"); len(got) != 2 {
		t.Fatalf("search by external id = %v", got)
	}
	if got := search(mega.ID[4:]); len(got) != 1 || got[0] != "Megasoft Inc" {
		t.Fatalf("search by id = %v", got)
	}
	// LIKE wildcards in the query are literal characters.
	if got := search("0%"); len(got) != 1 || got[0] != pct.DisplayName {
		t.Fatalf("search %%: %v", got)
	}
	if got := search("n_co"); len(got) != 1 {
		t.Fatalf("search _: %v", got)
	}
	if got := search("zzz"); len(got) != 0 {
		t.Fatalf("search miss = %v", got)
	}
}
