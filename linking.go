package roster

// Identity linking: one rule for every source of users that belongs to an organization (an
// SSO connection now; SCIM directories, social and passwordless sign-in later). See
// docs/sso.md "Linking identities".

// LinkFacts is what the linking rule decides on. A source of organization
// SourceOrganizationID presents a subject and an email address; the store fills in what it
// found.
type LinkFacts struct {
	SourceOrganizationID string
	Email                string
	// EmailVerified is what the source says about the email address: nil when it says
	// nothing (SAML, SCIM), false when it calls the address unverified (OIDC email_verified).
	EmailVerified *bool
	// DomainOrganizationID is the organization that holds the email's domain in this
	// environment ("" when none does). Domains added through the API are verified.
	DomainOrganizationID string
	// HoldsIdentity: the user already holds this very identity (the source and the subject).
	HoldsIdentity bool
}

// CheckLink says whether a source may sign in, link or create the user of f. The user
// who already holds the identity is that user, whatever the email says now. Otherwise the
// email decides, and only when its domain is a verified domain of the source's own
// organization and the source does not call it unverified. A refusal is PERMISSION_DENIED
// with a message for the person signing in.
func CheckLink(f LinkFacts) error {
	if f.HoldsIdentity {
		return nil
	}
	if f.EmailVerified != nil && !*f.EmailVerified {
		return Errorf(EPermissionDenied, "the identity provider says the email address %s is not verified; "+
			"Roster links and creates users only by verified addresses", f.Email)
	}
	domain := EmailDomain(f.Email)
	if domain == "" || f.DomainOrganizationID == "" || f.DomainOrganizationID != f.SourceOrganizationID {
		return Errorf(EPermissionDenied, "the email domain %s is not a verified domain of this connection's organization, "+
			"so it cannot sign in %s; sign in through your own organization, or ask its administrator to add the domain", domain, f.Email)
	}
	return nil
}

// MayChangeProfile says whether a source of organization sourceOrg may change the profile
// fields of a user whose profile is owned by ownerOrg: the organization whose source
// brought the user in ("" when no source did, as for a user created through the API).
func MayChangeProfile(sourceOrg, ownerOrg string) bool {
	return ownerOrg == "" || ownerOrg == sourceOrg
}
