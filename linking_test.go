package roster

import (
	"strings"
	"testing"
)

func TestCheckLink(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		name string
		f    LinkFacts
		want string // "" allowed, else a part of the refusal
	}{
		{"own verified domain", LinkFacts{SourceOrganizationID: "org_b", Email: "bob@b.com", DomainOrganizationID: "org_b"}, ""},
		{"own domain, provider says verified", LinkFacts{SourceOrganizationID: "org_b", Email: "bob@b.com", EmailVerified: &yes, DomainOrganizationID: "org_b"}, ""},
		{"own domain, provider says unverified", LinkFacts{SourceOrganizationID: "org_b", Email: "bob@b.com", EmailVerified: &no, DomainOrganizationID: "org_b"}, "not verified"},
		{"another organization's domain", LinkFacts{SourceOrganizationID: "org_b", Email: "ada@a.com", EmailVerified: &yes, DomainOrganizationID: "org_a"}, "a.com"},
		{"nobody's domain", LinkFacts{SourceOrganizationID: "org_b", Email: "zed@gmail.com"}, "gmail.com"},
		{"holder of the identity, domain gone", LinkFacts{SourceOrganizationID: "org_b", Email: "bob@b.com", HoldsIdentity: true}, ""},
		{"holder of the identity, unverified now", LinkFacts{SourceOrganizationID: "org_b", Email: "x@a.com", EmailVerified: &no, DomainOrganizationID: "org_a", HoldsIdentity: true}, ""},
		{"no organization", LinkFacts{Email: "bob@b.com"}, "b.com"},
	} {
		err := CheckLink(tc.f)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.want != "" && (ErrorCode(err) != EPermissionDenied || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: want PERMISSION_DENIED about %q, got %v", tc.name, tc.want, err)
		}
	}
}

func TestMayChangeProfile(t *testing.T) {
	if !MayChangeProfile("org_a", "") || !MayChangeProfile("org_a", "org_a") || MayChangeProfile("org_b", "org_a") {
		t.Fatal("a source changes profiles nobody owns or its organization owns, and no others")
	}
}
