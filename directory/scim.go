package directory

// What the SCIM endpoint does to the directory (docs/scim.md "What provisioning does"). The
// SCIM protocol package calls these through its adapter (scim/scimdir); they know nothing of
// SCIM's wire form: the adapter hands in rows and a profile function.

import (
	"context"
	"sync"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// defaultRoles is the role a member gets when no group gives one: the organization's default
// member role (none when it cannot be resolved, as for an environment whose default role was
// deleted).
func (s *Service) defaultRoles(ctx context.Context, environmentID, organizationID string) ([]roster.RoleRef, error) {
	role, _, ok, err := s.store.ResolveDefaultMemberRole(ctx, environmentID, organizationID)
	if err != nil || !ok {
		return nil, err
	}
	return []roster.RoleRef{role}, nil
}

// SCIMUser is one SCIM write of a user: Create (a new row) or ID with Update.
type SCIMUser struct {
	Create  *roster.DirectoryUser
	ID      string
	Update  func(*roster.DirectoryUser) error
	Email   func(roster.DirectoryUser) string
	Profile func(u *roster.User, row roster.DirectoryUser, st store.SignInState, defs store.AttributeDefs) error
	// ProfileOf, when set, replaces Profile with the profile function of the directory as
	// read in the write's transaction (store.DirectoryUserWrite.ProfileOf).
	ProfileOf SCIMProfile
}

// WriteSCIMUser creates or updates a directory user of d with its Roster user (store:
// WriteDirectoryUser): the row is checked (roster.DirectoryUser.Validate), IDs and times set.
func (s *Service) WriteSCIMUser(ctx context.Context, d roster.Directory, in SCIMUser) (roster.DirectoryUser, error) {
	now := s.now()
	w := store.DirectoryUserWrite{Directory: d, ID: in.ID, NewUserID: s.ids.New(roster.PrefixUser), Email: in.Email,
		Profile: in.Profile, ProfileOf: in.ProfileOf, Now: now}
	if in.Create != nil {
		row := *in.Create
		row.ID, row.EnvironmentID, row.DirectoryID, row.CreateTime, row.UpdateTime = s.ids.New(roster.PrefixDirectoryUser), d.EnvironmentID, d.ID, now, now
		if err := row.Validate(); err != nil {
			return roster.DirectoryUser{}, err
		}
		w.Create = &row
	} else {
		w.Update = func(row *roster.DirectoryUser) error {
			if err := in.Update(row); err != nil {
				return err
			}
			row.UpdateTime = now
			return row.Validate()
		}
	}
	u, err := s.store.WriteDirectoryUser(ctx, w)
	if err == nil {
		s.recordSync(ctx, d.ID)
	}
	return u, err
}

// recordSync records a SCIM write as the directory's last sync, at most once per
// roster.DirectorySecretUseGranularity: the store skips a write within it, and this process
// skips even asking the store when it recorded the directory within it (docs/scim.md "The
// write path").
func (s *Service) recordSync(ctx context.Context, directoryID string) {
	now := s.now()
	if !s.syncs.due(directoryID, now) {
		return
	}
	if err := s.store.RecordDirectorySync(ctx, directoryID, now); err != nil {
		s.log.WarnContext(ctx, "directory: last sync not recorded", "directory", directoryID, "err", err)
		return
	}
	s.syncs.done(directoryID, now)
}

// maxSyncTimes bounds syncTimes: about 100 bytes a directory, some 400 KB in all.
const maxSyncTimes = 4096

// syncTimes remembers when this process last recorded each directory's last sync. When it
// holds maxSyncTimes directories it forgets them all, which costs one store read per
// directory's next write.
type syncTimes struct {
	mu sync.Mutex
	at map[string]time.Time
}

// due reports whether the directory's last sync may need recording at now.
func (t *syncTimes) due(directoryID string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	last, ok := t.at[directoryID]
	return !ok || now.Sub(last) >= roster.DirectorySecretUseGranularity || now.Before(last)
}

// done notes that the directory's last sync was recorded (or found recent) at now.
func (t *syncTimes) done(directoryID string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.at[directoryID]; !ok && len(t.at) >= maxSyncTimes || t.at == nil {
		t.at = make(map[string]time.Time)
	}
	t.at[directoryID] = now
}

// DeleteSCIMUser deprovisions a directory user (store: DeprovisionDirectoryUser).
func (s *Service) DeleteSCIMUser(ctx context.Context, d roster.Directory, id string) error {
	err := s.store.DeprovisionDirectoryUser(ctx, d.EnvironmentID, d.ID, id)
	if err == nil {
		s.recordSync(ctx, d.ID)
	}
	return err
}

// SCIMUser reads a directory user.
func (s *Service) SCIMUser(ctx context.Context, d roster.Directory, id string) (roster.DirectoryUser, error) {
	return s.store.GetDirectoryUser(ctx, d.EnvironmentID, d.ID, id)
}

// QuerySCIMUsers runs a filter over a directory's users.
func (s *Service) QuerySCIMUsers(ctx context.Context, d roster.Directory, c *store.DirectoryCond, offset, limit int) ([]store.DirectoryResource, int, error) {
	return s.store.QueryDirectoryUsers(ctx, d.EnvironmentID, d.ID, c, offset, limit)
}

// SCIMGroup is one SCIM write of a group: Create with Members, or ID with Update.
type SCIMGroup struct {
	Create  *roster.DirectoryGroup
	Members store.DirectoryMemberChange
	ID      string
	Update  func(*roster.DirectoryGroup) (store.DirectoryMemberChange, error)
}

// WriteSCIMGroup creates or updates a group and its members; the members' roles follow.
func (s *Service) WriteSCIMGroup(ctx context.Context, d roster.Directory, in SCIMGroup) (roster.DirectoryGroup, error) {
	now := s.now()
	w := store.DirectoryGroupWrite{EnvironmentID: d.EnvironmentID, DirectoryID: d.ID, ID: in.ID, Members: in.Members, Now: now}
	if in.Create != nil {
		g := *in.Create
		g.ID, g.EnvironmentID, g.DirectoryID, g.CreateTime, g.UpdateTime = s.ids.New(roster.PrefixDirectoryGroup), d.EnvironmentID, d.ID, now, now
		if err := g.Validate(); err != nil {
			return roster.DirectoryGroup{}, err
		}
		w.Create = &g
	} else {
		w.Update = groupUpdate(in, now)
	}
	g, err := s.store.WriteDirectoryGroup(ctx, w)
	if err == nil {
		s.recordSync(ctx, d.ID)
	}
	return g, err
}

// groupUpdate is a group write's update: in's, then the update time and the rules.
func groupUpdate(in SCIMGroup, now time.Time) func(*roster.DirectoryGroup) (store.DirectoryMemberChange, error) {
	return func(g *roster.DirectoryGroup) (store.DirectoryMemberChange, error) {
		c, err := in.Update(g)
		if err != nil {
			return c, err
		}
		g.UpdateTime = now
		return c, g.Validate()
	}
}

// UpdateSCIMGroupWithToken is WriteSCIMGroup's update for a request whose bearer token has not
// been checked: the write checks it, as AuthenticateDirectory does, in its own first
// statement (store.DirectoryGroupWrite.Secret), which spares a member PATCH the round trip
// of checking it before. A refused token is UNAUTHENTICATED, the same for every reason, and
// nothing is written. accepted says whether the token was: an error with accepted false and
// not UNAUTHENTICATED came before the check (the database's), and the caller checks the token
// on its own (AuthenticateDirectory) before it answers.
func (s *Service) UpdateSCIMGroupWithToken(ctx context.Context, directoryID, token string, in SCIMGroup) (g roster.DirectoryGroup, accepted bool, err error) {
	hash, ok := tokenHash(token)
	if !ok || in.Create != nil || in.Update == nil {
		return roster.DirectoryGroup{}, false, errSCIMUnauthorized
	}
	now := s.now()
	check := &store.SecretCheck{Hash: hash}
	g, err = s.store.WriteDirectoryGroup(ctx, store.DirectoryGroupWrite{DirectoryID: directoryID, ID: in.ID, Now: now, Secret: check,
		Update: groupUpdate(in, now)})
	if roster.ErrorCode(err) == roster.EUnauthenticated {
		return roster.DirectoryGroup{}, false, errSCIMUnauthorized
	}
	if accepted = check.Found.ID != ""; accepted {
		s.recordSecretUse(ctx, check.Found)
	}
	if err == nil {
		s.recordSync(ctx, directoryID)
	}
	return g, accepted, err
}

// DeleteSCIMGroup deletes a group; its members' roles follow.
func (s *Service) DeleteSCIMGroup(ctx context.Context, d roster.Directory, id string) error {
	def, err := s.defaultRoles(ctx, d.EnvironmentID, d.OrganizationID)
	if err != nil {
		return err
	}
	if err := s.store.RemoveDirectoryGroup(ctx, d.EnvironmentID, d.ID, id, def); err != nil {
		return err
	}
	s.recordSync(ctx, d.ID)
	return nil
}

// SCIMGroup reads a group.
func (s *Service) SCIMGroup(ctx context.Context, d roster.Directory, id string) (roster.DirectoryGroup, error) {
	return s.store.GetDirectoryGroup(ctx, d.EnvironmentID, d.ID, id)
}

// QuerySCIMGroups runs a filter over a directory's groups.
func (s *Service) QuerySCIMGroups(ctx context.Context, d roster.Directory, c *store.DirectoryCond, offset, limit int) ([]store.DirectoryResource, int, error) {
	return s.store.QueryDirectoryGroups(ctx, d.EnvironmentID, d.ID, c, offset, limit)
}

// SCIMGroupMembers lists a group's member users and groups.
func (s *Service) SCIMGroupMembers(ctx context.Context, d roster.Directory, id string) (users, groups []string, err error) {
	return s.store.DirectoryGroupMemberIDs(ctx, d.EnvironmentID, d.ID, id)
}
