package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// testGroupWriteChecksSecret: a group update with a SCIM token's hash to check
// (DirectoryGroupWrite.Secret) writes only when the hash is a current secret of its enabled
// directory, reading the directory's environment; any other hash, an expired secret, a
// disabled directory, a deleted organization are UNAUTHENTICATED with nothing written,
// whether or not the group exists; the right hash on a missing group is NOT_FOUND.
func testGroupWriteChecksSecret(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, org, d := orgWithDirectory(t, s)
	other := newDirectory(t, s, env.ID, org.ID, "MICROSOFT_AD")
	u := newDirUser(t, s, d, "ann@acme.test")
	g := newDirGroup(t, s, d, "Eng")
	secret := func(dir roster.Directory, expire *time.Time, replace bool) string {
		sec, token, err := roster.NewDirectorySecret(ids.New(roster.PrefixDirectorySecret), dir.ID, now())
		if err != nil {
			t.Fatal(err)
		}
		sec.ExpireTime = expire
		if err := s.CreateDirectorySecret(ctx, env.ID, org.ID, sec, replace); err != nil {
			t.Fatal(err)
		}
		return token
	}
	token, otherToken := secret(d, nil, false), secret(other, nil, false)
	write := func(token, group string, change store.DirectoryMemberChange) (*store.SecretCheck, error) {
		check := &store.SecretCheck{Hash: roster.HashDirectorySecret(token)}
		_, err := s.WriteDirectoryGroup(ctx, store.DirectoryGroupWrite{DirectoryID: d.ID, ID: group, Now: now(), Secret: check,
			Update: func(*roster.DirectoryGroup) (store.DirectoryMemberChange, error) { return change, nil }})
		return check, err
	}
	members := func() int {
		got, err := s.GetDirectoryGroup(ctx, env.ID, d.ID, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.MemberCount
	}
	add := store.DirectoryMemberChange{Add: []string{u.ID}}
	for _, bad := range []string{otherToken, token + "x", ""} {
		for _, group := range []string{g.ID, "dirgroup_1"} {
			check, err := write(bad, group, add)
			mustCode(t, err, roster.EUnauthenticated)
			if check.Found.ID != "" {
				t.Fatalf("a refused hash found the secret %+v", check.Found)
			}
		}
	}
	if n := members(); n != 0 {
		t.Fatalf("refused writes added %d members", n)
	}
	check, err := write(token, g.ID, add)
	if err != nil || check.Found.ID == "" || check.Found.DirectoryID != d.ID {
		t.Fatalf("the directory's own token: %+v, %v", check.Found, err)
	}
	if n := members(); n != 1 {
		t.Fatalf("%d members after the accepted write", n)
	}
	check, err = write(token, "dirgroup_1", add)
	mustCode(t, err, roster.ENotFound)
	if check.Found.ID == "" {
		t.Fatal("a missing group's write did not say the token was accepted")
	}
	remove := store.DirectoryMemberChange{Remove: []string{u.ID}}
	// expired (a secret replaced with one that ended a second ago)
	past := now().Add(-time.Second)
	expired := secret(d, &past, true)
	_, err = write(expired, g.ID, remove)
	mustCode(t, err, roster.EUnauthenticated)
	_, err = write(token, g.ID, remove) // replaced
	mustCode(t, err, roster.EUnauthenticated)
	token = secret(d, nil, true)
	// disabled
	if _, err := s.UpdateDirectory(ctx, env.ID, org.ID, d.ID, func(d *roster.Directory) error { d.Enabled = false; return nil }); err != nil {
		t.Fatal(err)
	}
	_, err = write(token, g.ID, remove)
	mustCode(t, err, roster.EUnauthenticated)
	if n := members(); n != 1 {
		t.Fatalf("refused removes left %d members", n)
	}
	if _, err := s.UpdateDirectory(ctx, env.ID, org.ID, d.ID, func(d *roster.Directory) error { d.Enabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := write(token, g.ID, remove); err != nil {
		t.Fatal(err)
	}
	if n := members(); n != 0 {
		t.Fatalf("%d members after the accepted remove", n)
	}
	// a deleted organization
	if err := s.DeleteOrganization(ctx, env.ID, roster.OrganizationRef{ID: org.ID}); err != nil {
		t.Fatal(err)
	}
	_, err = write(token, g.ID, add)
	mustCode(t, err, roster.EUnauthenticated)
}
