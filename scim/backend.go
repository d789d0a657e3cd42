package scim

import "context"

// Backend is what the SCIM handler needs from storage. Authentication is the Backend's:
// Open compares the bearer token with the directory's secret (in constant time) and returns
// the one directory it opens, or ErrUnauthorized (a wrong token, a disabled or deleted
// directory, a deleted organization). The handler never logs the token.
type Backend interface {
	Open(ctx context.Context, token string) (Directory, error)
}

// A DeferringBackend can also open a directory before its token is checked, for a request
// whose first call may check the token inside its own write (a group PATCH: the database's
// round trip of checking it before is spared). The handler defers only a group PATCH, and
// answers nothing before the token was accepted: an error that came first (a body it refuses,
// a failed write) waits for DeferredDirectory.Verify, so that a wrong token still gets 401.
type DeferringBackend interface {
	Backend
	Defer(token string) DeferredDirectory
}

// DeferredDirectory is a Directory whose token is checked by its first call: every method
// returns ErrUnauthorized, and writes nothing, when the token is refused.
type DeferredDirectory interface {
	Directory
	// Verify returns nil once the token was accepted and ErrUnauthorized once it was
	// refused; when no call has decided yet, it checks the token (as Backend.Open).
	Verify(ctx context.Context) error
}

// Directory is one SCIM directory's users and groups. Its methods return ErrNotFound for an
// id that is not in this directory, ErrUniqueness when a userName (compared
// case-insensitively) is taken in the directory, a *Error for any other client mistake (an
// unknown member id: 400 invalidValue), and any other error for an internal failure (500,
// detail logged, not shown).
//
// Attributes passed in are canonical (see Resource) and already validated; the Backend stores
// them as they are (json.Marshal gives the raw resource) and extracts what it indexes
// (Resource.UserName, ExternalID, DisplayName, Active, Emails). The Backend sets ID, Created,
// LastModified and Version.
type Directory interface {
	CreateUser(ctx context.Context, attrs map[string]any) (*Resource, error)
	GetUser(ctx context.Context, id string) (*Resource, error)
	// UpdateUser calls update with the current user inside one transaction (or under a lock)
	// and stores what it returns, so read-modify-write is atomic; an error from update is
	// returned as is and nothing is written.
	UpdateUser(ctx context.Context, id string, update func(*Resource) (*Resource, error)) (*Resource, error)
	DeleteUser(ctx context.Context, id string) error
	ListUsers(ctx context.Context, q ListQuery) (Page, error)

	// CreateGroup creates a group with these members (ids of users or groups of the directory).
	CreateGroup(ctx context.Context, attrs map[string]any, members []string) (*Resource, error)
	GetGroup(ctx context.Context, id string) (*Resource, error)
	// UpdateGroup is UpdateUser for a group, and update also says what happens to the members:
	// the Backend writes only the member rows named (MemberChange), never the whole list,
	// in the same transaction as the attributes.
	UpdateGroup(ctx context.Context, id string, update func(*Resource) (*Resource, MemberChange, error)) (*Resource, error)
	DeleteGroup(ctx context.Context, id string) error
	ListGroups(ctx context.Context, q ListQuery) (Page, error)
	// GroupMembers lists a group's members (asked only when the answer shows members).
	GroupMembers(ctx context.Context, id string) ([]Member, error)
}

// ListQuery is one page of a list.
type ListQuery struct {
	// Filter is nil for all resources; else a condition over the indexed attributes (Cond).
	Filter *Cond
	// StartIndex is 1-based. The order is the Backend's but must be stable across pages and
	// requests (creation order, then id, say), whatever StartIndex and Count are.
	StartIndex int
	// Count is the page size: 0 asks only for TotalResults.
	Count int
}

// Page is a page of a list and the number of resources matching in all.
type Page struct {
	Resources    []*Resource
	TotalResults int
}
