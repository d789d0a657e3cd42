package scimdir

import (
	"context"
	"errors"
	"sync"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
	"github.com/rosterhq/roster/scim"
)

// Defer opens the directory of the URL before its token is checked (scim.DeferringBackend):
// a group update checks the token in its own write, every other call checks it first.
func (b Backend) Defer(token string) scim.DeferredDirectory {
	return &deferred{b: b, token: token, accepted: new(bool)}
}

// deferred is a directory opened by Defer. Its token is accepted (accepted), refused
// (refused), or not yet checked (neither). Every method but UpdateGroup opens the directory
// first (open: Backend.Open, once); UpdateGroup, while the token is unchecked, has the write
// check it (directory.Service.UpdateSCIMGroupWithToken). TestDeferredChecksTheToken calls
// every method with a refused token. Safe for concurrent use, as a scim.Directory must be.
type deferred struct {
	b     Backend
	token string
	// mu guards the rest; open holds it while it checks the token, so that one call checks
	// and the others wait for its answer.
	mu       sync.Mutex
	dir      scim.Directory // the opened directory, once Open accepted the token
	accepted *bool          // the token was accepted (by Open or by a write)
	refused  bool
}

var _ scim.DeferredDirectory = (*deferred)(nil)

func (d *deferred) Verify(ctx context.Context) error {
	d.mu.Lock()
	refused, accepted := d.refused, *d.accepted
	d.mu.Unlock()
	switch {
	case refused:
		return scim.ErrUnauthorized
	case accepted:
		return nil
	}
	_, err := d.open(ctx)
	return err
}

// open checks the token as Open does, once.
func (d *deferred) open(ctx context.Context) (scim.Directory, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.refused {
		return nil, scim.ErrUnauthorized
	}
	if d.dir != nil {
		return d.dir, nil
	}
	dir, err := d.b.Open(ctx, d.token)
	if errors.Is(err, scim.ErrUnauthorized) {
		d.refused = true
	}
	if err != nil {
		return nil, err
	}
	d.dir, *d.accepted = dir, true
	return dir, nil
}

func (d *deferred) UpdateGroup(ctx context.Context, id string, update func(*scim.Resource) (*scim.Resource, scim.MemberChange, error)) (*scim.Resource, error) {
	d.mu.Lock()
	decided := d.refused || *d.accepted
	d.mu.Unlock()
	if decided { // as any other call (a rename's second try)
		dir, err := d.open(ctx)
		if err != nil {
			return nil, err
		}
		return dir.UpdateGroup(ctx, id, update)
	}
	out, accepted, err := d.b.Service.UpdateSCIMGroupWithToken(ctx, d.b.DirectoryID, d.token, directory.SCIMGroup{ID: id, Update: groupUpdate(update)})
	refused := roster.ErrorCode(err) == roster.EUnauthenticated
	d.mu.Lock()
	if accepted {
		*d.accepted = true
	}
	if refused {
		d.refused = true
	}
	d.mu.Unlock()
	if refused {
		return nil, scim.ErrUnauthorized
	}
	if err != nil {
		return nil, scimError(err)
	}
	return groupResource(out)
}

func (d *deferred) CreateUser(ctx context.Context, attrs map[string]any) (*scim.Resource, error) {
	dir, err := d.open(ctx)
	if err != nil {
		return nil, err
	}
	return dir.CreateUser(ctx, attrs)
}

func (d *deferred) GetUser(ctx context.Context, id string) (*scim.Resource, error) {
	dir, err := d.open(ctx)
	if err != nil {
		return nil, err
	}
	return dir.GetUser(ctx, id)
}

func (d *deferred) UpdateUser(ctx context.Context, id string, update func(*scim.Resource) (*scim.Resource, error)) (*scim.Resource, error) {
	dir, err := d.open(ctx)
	if err != nil {
		return nil, err
	}
	return dir.UpdateUser(ctx, id, update)
}

func (d *deferred) DeleteUser(ctx context.Context, id string) error {
	dir, err := d.open(ctx)
	if err != nil {
		return err
	}
	return dir.DeleteUser(ctx, id)
}

func (d *deferred) ListUsers(ctx context.Context, q scim.ListQuery) (scim.Page, error) {
	dir, err := d.open(ctx)
	if err != nil {
		return scim.Page{}, err
	}
	return dir.ListUsers(ctx, q)
}

func (d *deferred) CreateGroup(ctx context.Context, attrs map[string]any, members []string) (*scim.Resource, error) {
	dir, err := d.open(ctx)
	if err != nil {
		return nil, err
	}
	return dir.CreateGroup(ctx, attrs, members)
}

func (d *deferred) GetGroup(ctx context.Context, id string) (*scim.Resource, error) {
	dir, err := d.open(ctx)
	if err != nil {
		return nil, err
	}
	return dir.GetGroup(ctx, id)
}

func (d *deferred) DeleteGroup(ctx context.Context, id string) error {
	dir, err := d.open(ctx)
	if err != nil {
		return err
	}
	return dir.DeleteGroup(ctx, id)
}

func (d *deferred) ListGroups(ctx context.Context, q scim.ListQuery) (scim.Page, error) {
	dir, err := d.open(ctx)
	if err != nil {
		return scim.Page{}, err
	}
	return dir.ListGroups(ctx, q)
}

func (d *deferred) GroupMembers(ctx context.Context, id string) ([]scim.Member, error) {
	dir, err := d.open(ctx)
	if err != nil {
		return nil, err
	}
	return dir.GroupMembers(ctx, id)
}
