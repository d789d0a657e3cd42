// Package store defines the storage interface that every backend (store/sqlite,
// store/postgres) implements and store/storetest checks.
//
// Contract: lookups of a missing record return a *roster.Error with roster.ENotFound; a write
// that breaks a uniqueness rule returns roster.EConflict naming the field. Updates take a
// function that is applied to the current record inside one transaction, so
// read-modify-write is atomic on every backend.
package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/rosterhq/roster"
)

// Store is Roster's storage.
type Store interface {
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Stats reports connection pool use, for metrics.
	Stats() sql.DBStats
	Close() error

	CreateEnvironment(ctx context.Context, env roster.Environment) error
	ListEnvironments(ctx context.Context) ([]roster.Environment, error)
	GetEnvironment(ctx context.Context, id string) (roster.Environment, error)

	CreateClient(ctx context.Context, c roster.APIClient) error
	GetClient(ctx context.Context, id string) (roster.APIClient, error)
	ListClients(ctx context.Context, environmentID string) ([]roster.APIClient, error)
	RevokeClient(ctx context.Context, id string, at time.Time) error
	// SetClientRedirectURIs replaces the redirect URIs a client's sign-ins may return to.
	SetClientRedirectURIs(ctx context.Context, id string, uris []string) error

	CreateSigningKey(ctx context.Context, k roster.SigningKey) error
	ListSigningKeys(ctx context.Context, environmentID string) ([]roster.SigningKey, error)
	// SealSigningKey sets key id's private key to sealed if it still is old (otherwise it does
	// nothing: another node sealed it first).
	SealSigningKey(ctx context.Context, id, old, sealed string) error

	CreateOrganization(ctx context.Context, o roster.Organization) error
	GetOrganization(ctx context.Context, environmentID string, ref roster.OrganizationRef) (roster.Organization, error)
	UpdateOrganization(ctx context.Context, environmentID string, ref roster.OrganizationRef, update func(*roster.Organization) error) (roster.Organization, error)
	// DeleteOrganization removes the organization and everything that belongs to it in one
	// transaction.
	DeleteOrganization(ctx context.Context, environmentID string, ref roster.OrganizationRef) error
	ListOrganizations(ctx context.Context, environmentID string, q OrganizationQuery) (Page[roster.Organization], error)

	// CreateUser stores a user and, when m is set, its first membership (m.Roles carry role
	// IDs, or DefaultMemberRole alone), and returns the stored user. check runs inside the
	// transaction.
	CreateUser(ctx context.Context, u roster.User, m *roster.Membership, check UserCheck) (roster.User, error)
	// GetUser returns a user with memberships (organization names and roles) and custom
	// attributes.
	//
	// The users that GetUser and ListUsers return are read-only: a backend may share parts of
	// them with its cache and with other readers (SQLite's user cache decodes each hit anew,
	// but its strings share the cache's bytes and its empty maps are one shared map). A
	// caller that wants to change one changes a roster.User.Clone of it. A write into a shared
	// empty map panics at the next hit; tests built with -tags rostercheck also check that
	// every cached user decodes as it was read.
	GetUser(ctx context.Context, environmentID string, ref roster.UserRef) (roster.User, error)
	UpdateUser(ctx context.Context, environmentID string, ref roster.UserRef, update UserCheck) (roster.User, error)
	// DeleteUser removes a user, their memberships and attributes.
	DeleteUser(ctx context.Context, environmentID string, ref roster.UserRef) error
	// UserFieldSources returns a user (own fields and custom attributes, no memberships) and
	// its provenance records by field (roster.FieldCreated among them), read at one moment
	// (docs/provenance.md). Every write of a user's profile records, in its transaction, the
	// fields whose values it changed: CreateUser and UpdateUser as roster.SourceAPI,
	// ImportUsers as roster.SourceImport (both with the API client of roster.ClientIDFrom(ctx)),
	// SignIn as roster.SourceSSO with the connection, WriteDirectoryUser and
	// ReapplyDirectoryUsers as roster.SourceSCIM with the directory. A user's creation is one
	// record, roster.FieldCreated. DeleteAttribute deletes its key's records.
	UserFieldSources(ctx context.Context, environmentID string, ref roster.UserRef) (roster.User, map[string]roster.FieldSource, error)
	ListUsers(ctx context.Context, environmentID string, q UserQuery) (Page[roster.User], error)
	// ImportUsers applies a batch of checked import lines in one write transaction, each line
	// in a savepoint: a line is applied in full or not at all, and the other lines still
	// commit. A line's refusal is its outcome's Err (a *roster.Error); the error returned is
	// for the whole batch, of which then nothing was applied.
	ImportUsers(ctx context.Context, environmentID string, now time.Time, lines []ImportLine) ([]ImportOutcome, error)
	// ExportUsers calls fn with the users of the environment (or the members of one
	// organization), complete as GetUser returns them, in ID order, batchSize at a time, all
	// read in one read transaction (one point in time).
	ExportUsers(ctx context.Context, environmentID, organizationID string, batchSize int, fn func([]roster.User) error) error

	CreateMembership(ctx context.Context, environmentID string, ref roster.UserRef, m roster.Membership) (roster.User, error)
	// UpdateMembership applies update (whose Roles carry role IDs) in one transaction.
	UpdateMembership(ctx context.Context, environmentID, organizationID string, ref roster.UserRef, update func(*roster.Membership) error) (roster.User, error)
	// DeleteMembership removes a membership; with cascade, a user left without memberships is
	// deleted too. It reports whether the user was deleted.
	DeleteMembership(ctx context.Context, environmentID, organizationID string, ref roster.UserRef, cascade bool) (bool, error)

	CreateRole(ctx context.Context, r roster.Role) error
	GetRole(ctx context.Context, environmentID, organizationID, name string) (roster.Role, error)
	// ListRoles returns the environment roles (organizationID "") or one organization's own
	// roles.
	ListRoles(ctx context.Context, environmentID, organizationID string) ([]roster.Role, error)
	UpdateRole(ctx context.Context, environmentID, organizationID, name string, update func(*roster.Role) error) (roster.Role, error)
	// DeleteRole removes a role; its memberships move to reassignTo (a role ID) when given,
	// otherwise a role still held by a membership is a FAILED_PRECONDITION.
	DeleteRole(ctx context.Context, environmentID, organizationID, name, reassignTo string) error
	// ResolveRoles finds roles by name for a membership in an organization: the
	// organization's own role of a name wins over the environment role. It returns the roles
	// found, in the order of names, and the names that match no role.
	ResolveRoles(ctx context.Context, environmentID, organizationID string, names []string) ([]roster.RoleRef, []string, error)
	// CountRoleMembers counts the memberships that hold a role.
	CountRoleMembers(ctx context.Context, roleID string) (int, error)
	SetDefaultMemberRole(ctx context.Context, environmentID, name string) error
	DefaultMemberRole(ctx context.Context, environmentID string) (string, error)
	// ResolveDefaultMemberRole is ResolveRoles of the default member role's name, in one
	// step: the role, or ok false and the name that matches no role.
	ResolveDefaultMemberRole(ctx context.Context, environmentID, organizationID string) (role roster.RoleRef, name string, ok bool, err error)

	CreatePermission(ctx context.Context, p roster.Permission) error
	GetPermission(ctx context.Context, environmentID, name string) (roster.Permission, error)
	// ListPermissions returns one page of the environment's permissions in creation order,
	// and the number of all of them.
	ListPermissions(ctx context.Context, environmentID string, q PageQuery) (Page[roster.Permission], error)
	UpdatePermission(ctx context.Context, environmentID, name string, update func(*roster.Permission) error) (roster.Permission, error)
	DeletePermission(ctx context.Context, environmentID, name string) error

	CreateAttribute(ctx context.Context, d roster.AttributeDefinition) error
	GetAttribute(ctx context.Context, environmentID, key string) (roster.AttributeDefinition, error)
	ListAttributes(ctx context.Context, environmentID string) ([]roster.AttributeDefinition, error)
	// UpdateAttribute applies update; stored values are checked against the new definition
	// (every value must still be valid, and unique when it becomes unique).
	UpdateAttribute(ctx context.Context, environmentID, key string, update func(*roster.AttributeDefinition) error) (roster.AttributeDefinition, error)
	// DeleteAttribute removes a definition and every stored value of it.
	DeleteAttribute(ctx context.Context, environmentID, key string) error

	CreateConnection(ctx context.Context, c roster.Connection) error
	GetConnection(ctx context.Context, environmentID, id string) (roster.Connection, error)
	// ListConnections returns connections in creation order: an organization's, those of the
	// organization that owns a domain, or the environment's.
	ListConnections(ctx context.Context, environmentID string, q ConnectionQuery) ([]roster.Connection, error)
	UpdateConnection(ctx context.Context, environmentID, id string, update func(*roster.Connection) error) (roster.Connection, error)
	// DeleteConnection removes a connection, its identities and its sign-ins in progress.
	DeleteConnection(ctx context.Context, environmentID, id string) error

	// CreateDomain stores a domain; a domain name belongs to one organization per environment.
	CreateDomain(ctx context.Context, d roster.Domain) error
	GetDomain(ctx context.Context, environmentID, id string) (roster.Domain, error)
	// FindDomain returns the domain of a name (normalized), whichever organization has it.
	FindDomain(ctx context.Context, environmentID, name string) (roster.Domain, error)
	// ListDomains returns an organization's domains in creation order, of one type or all ("").
	ListDomains(ctx context.Context, environmentID, organizationID string, typ roster.DomainType) ([]roster.Domain, error)
	DeleteDomain(ctx context.Context, environmentID, id string) error

	// CreateLoginRequest stores a sign-in in progress (and forgets expired ones).
	CreateLoginRequest(ctx context.Context, r roster.LoginRequest) error
	// TakeLoginRequest returns a sign-in in progress and deletes it, so that a provider's
	// answer is used at most once.
	TakeLoginRequest(ctx context.Context, id string) (roster.LoginRequest, error)
	// SignIn stores the outcome of a sign-in in one transaction: the user (found by identity,
	// then by email, or created), the membership, the identity and the authorization code.
	SignIn(ctx context.Context, in SignIn) (roster.User, error)
	// RedeemAuthCode marks a code used and returns it. A code that was used before is
	// refused with FAILED_PRECONDITION, and the refresh tokens issued for it are revoked.
	RedeemAuthCode(ctx context.Context, hash string, now time.Time) (roster.AuthCode, error)
	CreateRefreshToken(ctx context.Context, t roster.RefreshToken) error
	// RotateRefreshToken revokes a valid refresh token and stores its successor (next's
	// Hash, CreateTime and ExpireTime; the rest is carried over). Presenting a revoked token
	// again revokes every token of its sign-in.
	RotateRefreshToken(ctx context.Context, hash string, next roster.RefreshToken, now time.Time) (roster.RefreshToken, error)
	// GetSAMLKey returns the environment's SAML service-provider key; CreateSAMLKey stores it
	// once (a second one conflicts: another node made it first).
	GetSAMLKey(ctx context.Context, environmentID string) (roster.SAMLKey, error)
	CreateSAMLKey(ctx context.Context, k roster.SAMLKey) error
	// RememberAssertion records an accepted SAML assertion until it expires; one already
	// recorded for the connection is refused with ALREADY_EXISTS (a replay).
	RememberAssertion(ctx context.Context, connectionID, assertionID string, expire, now time.Time) error
	// ListIdentities returns a user's provider identities, oldest first.
	ListIdentities(ctx context.Context, userID string) ([]roster.Identity, error)
	// LatestIdentity returns the identity of a connection that signed in last (latest
	// LastLoginTime; one row), NOT_FOUND when none has.
	LatestIdentity(ctx context.Context, environmentID, connectionID string) (roster.Identity, error)
	// CreateConnectionTest stores a test sign-in's result and forgets expired ones.
	CreateConnectionTest(ctx context.Context, t roster.ConnectionTest) error
	// GetConnectionTest returns a test sign-in's result that has not expired at now.
	GetConnectionTest(ctx context.Context, environmentID, id string, now time.Time) (roster.ConnectionTest, error)

	DirectoryStore
	OperatorStore
	EventStore
	WebhookStore
}

// EventStore reads the change feed (docs/events.md). Events are written by the writes
// themselves, in their transactions: a write that commits has its events, one that rolls
// back has none.
type EventStore interface {
	// ListEvents returns up to q.Limit of the environment's events after q.After, in feed
	// order (commit order: a position handed out is never later preceded by a new event).
	ListEvents(ctx context.Context, environmentID string, q EventQuery) ([]StoredEvent, error)
	// EventHead returns the position after the environment's last event in the feed (where
	// a reader that wants only new events starts).
	EventHead(ctx context.Context, environmentID string) (EventCursor, error)
	// EventScanBound returns the position of the n-th event after after in the
	// environment's feed and true, or the feed's last position (after, when there is no
	// event after it) and false when fewer follow: the bound of a filtered read that
	// passes over at most n events (EventQuery.Through).
	EventScanBound(ctx context.Context, environmentID string, after EventCursor, n int) (EventCursor, bool, error)
	// PruneEvents deletes up to limit of the oldest events (of every environment) that
	// occurred before before, from the head of the feed, and returns how many it deleted:
	// the operator's retention (docs/events.md). It stops at the first event of the head
	// that is not that old. Positions in the feed do not change.
	PruneEvents(ctx context.Context, before time.Time, limit int) (int, error)
	// RecordEvents writes events that are not part of a write (a failed sign-in), in a
	// transaction of their own.
	RecordEvents(ctx context.Context, events ...roster.Event) error
}

// WebhookStore keeps webhook endpoints, their delivery state, delivery log and redelivery
// queue (docs/webhooks.md). The worker's writes are fenced by its lease: a node whose lease
// was taken over writes nothing (ErrLeaseLost).
type WebhookStore interface {
	// CreateWebhookEndpoint stores an endpoint whose feed position starts at the
	// environment's EventHead (it gets the events from its creation on). More than
	// roster.MaxWebhooksPerEnvironment is refused (roster.CapReached).
	CreateWebhookEndpoint(ctx context.Context, e roster.WebhookEndpoint) error
	GetWebhookEndpoint(ctx context.Context, environmentID, id string) (roster.WebhookEndpoint, error)
	// ListWebhookEndpoints returns the environment's endpoints, oldest first.
	ListWebhookEndpoints(ctx context.Context, environmentID string) ([]roster.WebhookEndpoint, error)
	// UpdateWebhookEndpoint applies update in one transaction. A change of URL, secret or
	// enabled state ends any lease on the endpoint; enabling a disabled endpoint clears its
	// failure state, so that it is retried at once from its cursor.
	UpdateWebhookEndpoint(ctx context.Context, environmentID, id string, update func(*roster.WebhookEndpoint) error) (roster.WebhookEndpoint, error)
	// DeleteWebhookEndpoint removes an endpoint, its delivery log and redelivery queue.
	DeleteWebhookEndpoint(ctx context.Context, environmentID, id string) error
	// ListWebhookDeliveries returns the endpoint's delivery log, newest first, before
	// q.Before (a Seq; 0 = from the newest).
	ListWebhookDeliveries(ctx context.Context, environmentID, endpointID string, q WebhookDeliveryQuery) ([]roster.WebhookDelivery, error)
	// QueueWebhookRedelivery queues one event of the environment for a manual redelivery to
	// the endpoint, and makes the endpoint due now. An unknown event is NOT_FOUND.
	QueueWebhookRedelivery(ctx context.Context, environmentID, endpointID, eventID string, at time.Time) error

	// ClaimWebhookEndpoints leases up to max enabled endpoints that are due (next attempt
	// at or before now) and whose lease is free or expired, to owner until now+ttl.
	ClaimWebhookEndpoints(ctx context.Context, owner string, now time.Time, ttl time.Duration, max int) ([]WebhookLease, error)
	// SaveWebhookProgress writes a batch of deliveries and the endpoint's new state in one
	// transaction, if owner still holds the lease (else ErrLeaseLost and nothing is written).
	SaveWebhookProgress(ctx context.Context, owner string, p WebhookProgress) error
}

// ErrLeaseLost is SaveWebhookProgress's answer to a node whose lease was taken over (or
// ended by an update of the endpoint).
var ErrLeaseLost = errors.New("webhook endpoint lease lost")

// WebhookDeliveryQuery pages an endpoint's delivery log.
type WebhookDeliveryQuery struct {
	Before int64 // deliveries with a lower Seq; 0: from the newest
	Limit  int   // 1 to MaxWebhookDeliveryPage
}

// MaxWebhookDeliveryPage bounds one page of the delivery log.
const MaxWebhookDeliveryPage = 200

// WebhookState is an endpoint's delivery state.
type WebhookState struct {
	Cursor       EventCursor // the last event delivered (acknowledged)
	NextAttempt  time.Time
	Attempts     int        // failed attempts at the event after Cursor
	FailingSince *time.Time // first failure of the current run of failures
}

// WebhookLease is a claimed endpoint: its settings, state and queued manual redeliveries.
type WebhookLease struct {
	Endpoint     roster.WebhookEndpoint
	State        WebhookState
	Until        time.Time
	Redeliveries []QueuedRedelivery
}

// QueuedRedelivery is a manual redelivery waiting in the queue, with its event.
type QueuedRedelivery struct {
	Seq   int64
	Event StoredEvent
}

// WebhookProgress is what a worker writes after a batch of deliveries.
type WebhookProgress struct {
	EndpointID  string
	Deliveries  []roster.WebhookDelivery
	State       WebhookState
	Redelivered []int64   // queue entries (Seq) done
	Disable     bool      // disable the endpoint (roster.WebhookDisabledFailing)
	Release     bool      // end the lease
	ExtendUntil time.Time // else: the lease's new end
}

// EventCursor is a position in the feed: the transaction and sequence number of the event's
// block (Tx is 0 on SQLite) and the event's index in the block. The zero cursor is the start.
type EventCursor struct{ Tx, Seq, Index int64 }

// After reports whether position c comes after b in the feed.
func (c EventCursor) After(b EventCursor) bool {
	if c.Tx != b.Tx {
		return c.Tx > b.Tx
	}
	if c.Seq != b.Seq {
		return c.Seq > b.Seq
	}
	return c.Index > b.Index
}

// EventQuery selects events of the feed.
type EventQuery struct {
	After          EventCursor
	Types          []string // types, or prefixes ending in "*" (roster.EventTypeMatches); none: all
	OrganizationID string   // only this organization's events
	Limit          int      // at most this many (1 to MaxEventPage)
	// Through, when not the zero cursor, is the last position the read may pass: a filtered
	// read stops there (EventScanBound) instead of passing over every event after After.
	Through EventCursor
}

// MaxEventPage bounds one read of the feed.
const MaxEventPage = 1000

// StoredEvent is an event as the feed holds it: its position, what it can be filtered by,
// and its envelope (roster.Event.Envelope), the JSON that webhooks deliver.
type StoredEvent struct {
	Cursor         EventCursor
	ID, Type       string
	EnvironmentID  string
	OrganizationID string
	OccurredAt     time.Time
	Body           []byte
}

// OperatorStore keeps the dashboard's operators, their one-time set-up links and their
// sessions (docs/operators.md). Operators belong to the deployment, not to an environment.
// Nothing here is cached: a management command's write is seen by a running server at once.
type OperatorStore interface {
	// CreateOperator stores a new operator and, when token is set, its set-up link, in one
	// transaction. An email (EmailKey) that an operator who is not removed has is
	// ALREADY_EXISTS on "email".
	CreateOperator(ctx context.Context, op roster.Operator, token *roster.OperatorToken) error
	// GetOperator returns an operator by ID, removed or not.
	GetOperator(ctx context.Context, id string) (roster.Operator, error)
	// FindOperator returns the operator (not removed) whose email has this EmailKey.
	FindOperator(ctx context.Context, emailKey string) (roster.Operator, error)
	// ListOperators returns the operators that are not removed, oldest first.
	ListOperators(ctx context.Context) ([]roster.Operator, error)
	// UpdateOperator applies update to an operator that is not removed, in one transaction
	// (a read-modify-write that concurrent updates cannot cross). With w.RevokeSessions
	// every live session of the operator is revoked at w.Now; with w.Token, the operator's
	// unused links are voided and w.Token stored; with w.Remove the operator is removed (its
	// sessions revoked and links voided too).
	UpdateOperator(ctx context.Context, id string, update func(*roster.Operator) error, w OperatorWrite) (roster.Operator, error)
	// CreateFirstOperatorToken stores a first-operator link (OperatorID "") and voids the
	// earlier unused ones, so that only the newest printed link works.
	CreateFirstOperatorToken(ctx context.Context, t roster.OperatorToken) error
	// GetOperatorToken returns a link by hash, used or not.
	GetOperatorToken(ctx context.Context, hash string) (roster.OperatorToken, error)
	// RedeemOperatorToken uses a link once, in one transaction: a link that is unknown,
	// used, expired, or whose operator is removed is NOT_FOUND. For an operator's link, set
	// changes the operator (it chooses the password); for a first-operator link, set fills a
	// new operator (ID, email, password) that is then created, which is FAILED_PRECONDITION
	// when an operator exists already. Of two concurrent redemptions exactly one succeeds.
	RedeemOperatorToken(ctx context.Context, hash string, now time.Time, set func(t roster.OperatorToken, op *roster.Operator) error) (roster.Operator, error)

	// SignInFailures returns the sign-in throttle of an email (EmailKey); an email without
	// failures has the zero value with EmailKey set.
	SignInFailures(ctx context.Context, emailKey string) (roster.SignInFailures, error)
	// RecordSignInFailure applies update to an email's throttle (the zero value with EmailKey
	// set when it has none) in one transaction, so that concurrent failures, on any node, all
	// count, and stores it with update time now. It also deletes other emails' rows last
	// updated before staleBefore and not locked at now.
	RecordSignInFailure(ctx context.Context, emailKey string, now, staleBefore time.Time, update func(*roster.SignInFailures)) (roster.SignInFailures, error)
	// ClearSignInFailures forgets an email's failures (after a success or a reset).
	ClearSignInFailures(ctx context.Context, emailKey string) error

	CreateOperatorSession(ctx context.Context, s roster.OperatorSession) error
	// GetOperatorSession returns a session by hash, revoked or expired alike, with its
	// operator (removed or not): the caller decides.
	GetOperatorSession(ctx context.Context, hash string) (roster.OperatorSession, roster.Operator, error)
	// TouchOperatorSession records a session's use: last seen at, idle expiry moved to
	// idleExpire. A revoked session is left as it is.
	TouchOperatorSession(ctx context.Context, hash string, at, idleExpire time.Time) error
	// RevokeOperatorSession ends one session (again: nothing changes).
	RevokeOperatorSession(ctx context.Context, hash string, at time.Time) error
	// RevokeOperatorSessions ends every live session of an operator ("sign out everywhere")
	// and reports how many it ended.
	RevokeOperatorSessions(ctx context.Context, operatorID string, at time.Time) (int, error)

	// AppendOperatorAudit records one operator action (migration 0017).
	AppendOperatorAudit(ctx context.Context, e roster.OperatorAuditEntry) error
	// ListOperatorAudit returns at most limit entries, newest first (by CreateTime, then ID),
	// starting after the entry before (the zero value: from the newest).
	ListOperatorAudit(ctx context.Context, before AuditCursor, limit int) ([]roster.OperatorAuditEntry, error)
}

// AuditCursor is where a page of the audit log starts: the entries older than (Time, ID).
type AuditCursor struct {
	Time time.Time
	ID   string
}

// OperatorWrite says what else UpdateOperator does in its transaction.
type OperatorWrite struct {
	Now            time.Time
	RevokeSessions bool
	Token          *roster.OperatorToken // a new link (its OperatorID is the operator's)
	Remove         bool
}

// DirectoryStore keeps SCIM directories (docs/directories.md). A directory is found by
// environment, organization ("" for any organization of the environment) and ID: another
// environment's or organization's directory is NOT_FOUND. Users and groups are found by
// environment, directory and ID.
type DirectoryStore interface {
	// CreateDirectory stores a directory of an existing organization: one per organization
	// and provider (ALREADY_EXISTS on directory.directory_provider), at most
	// roster.MaxDirectoriesPerOrganization (FAILED_PRECONDITION).
	CreateDirectory(ctx context.Context, d roster.Directory) error
	GetDirectory(ctx context.Context, environmentID, organizationID, id string) (roster.Directory, error)
	// ListDirectories returns an organization's directories, oldest first.
	ListDirectories(ctx context.Context, environmentID, organizationID string) ([]roster.Directory, error)
	UpdateDirectory(ctx context.Context, environmentID, organizationID, id string, update func(*roster.Directory) error) (roster.Directory, error)
	// DeleteDirectory removes a directory with its secrets, users, groups, members and role
	// assignments. Roster users and memberships it provisioned stay.
	DeleteDirectory(ctx context.Context, environmentID, organizationID, id string) error
	// DirectoryStats counts a directory's users and groups.
	DirectoryStats(ctx context.Context, environmentID, directoryID string) (DirectoryStats, error)
	// SetDirectoryRoleAssignments replaces a directory's group-to-role assignments (RoleID
	// set, RoleName filled on return). A group that is not the directory's is NOT_FOUND.
	SetDirectoryRoleAssignments(ctx context.Context, environmentID, organizationID, directoryID string, a []roster.DirectoryRoleAssignment) ([]roster.DirectoryRoleAssignment, error)
	// SetDirectoryGroupRole replaces one group's assignment (roleID "" removes it) and keeps
	// the others as they are when it commits: two changes of different groups at once both
	// stay. A group that is not the directory's is NOT_FOUND; a directory keeps at most
	// roster.MaxRoleAssignments. It returns the directory's assignments.
	SetDirectoryGroupRole(ctx context.Context, environmentID, organizationID, directoryID, groupID, roleID string) ([]roster.DirectoryRoleAssignment, error)
	// RecordDirectorySync sets a directory's last SCIM write time (at most once per
	// roster.DirectorySecretUseGranularity, so it rarely writes).
	RecordDirectorySync(ctx context.Context, directoryID string, at time.Time) error

	// CreateDirectorySecret stores a directory's secret. With replace, every other secret of
	// the directory is deleted in the same transaction (it stops working at once); without,
	// a directory that has a secret refuses with ALREADY_EXISTS.
	CreateDirectorySecret(ctx context.Context, environmentID, organizationID string, sec roster.DirectorySecret, replace bool) error
	ListDirectorySecrets(ctx context.Context, directoryID string) ([]roster.DirectorySecret, error)
	// FindDirectoryBySecret finds the enabled directory whose secret has this hash, with the
	// secret and the directory's organization. A disabled or deleted directory, an expired or
	// unknown secret: NOT_FOUND.
	FindDirectoryBySecret(ctx context.Context, hash string, now time.Time) (DirectoryAuth, error)
	// RecordDirectorySecretUse sets a secret's last-used time, at most once per
	// roster.DirectorySecretUseGranularity.
	RecordDirectorySecretUse(ctx context.Context, secretID string, at time.Time) error
	// RecordSCIMRequests keeps SCIM requests of directories and removes each directory's
	// older ones beyond its latest keep, in one transaction.
	RecordSCIMRequests(ctx context.Context, rs []SCIMRequest, keep int) error
	// ListSCIMRequests returns a directory's latest SCIM requests, newest first.
	ListSCIMRequests(ctx context.Context, directoryID string, limit int) ([]SCIMRequest, error)

	// CreateDirectoryUser stores a directory user; a userName taken in the directory
	// (case-insensitively) is ALREADY_EXISTS on userName, and so is a Roster user linked twice.
	CreateDirectoryUser(ctx context.Context, u roster.DirectoryUser) error
	GetDirectoryUser(ctx context.Context, environmentID, directoryID, id string) (roster.DirectoryUser, error)
	// UpdateDirectoryUser applies update inside one transaction (a SCIM PUT or PATCH).
	UpdateDirectoryUser(ctx context.Context, environmentID, directoryID, id string, update func(*roster.DirectoryUser) error) (roster.DirectoryUser, error)
	// DeleteDirectoryUser removes a directory user and its group memberships.
	DeleteDirectoryUser(ctx context.Context, environmentID, directoryID, id string) error
	ListDirectoryUsers(ctx context.Context, environmentID, directoryID string, q DirectoryUserQuery) (Page[roster.DirectoryUser], error)

	CreateDirectoryGroup(ctx context.Context, g roster.DirectoryGroup) error
	GetDirectoryGroup(ctx context.Context, environmentID, directoryID, id string) (roster.DirectoryGroup, error)
	UpdateDirectoryGroup(ctx context.Context, environmentID, directoryID, id string, update func(*roster.DirectoryGroup) error) (roster.DirectoryGroup, error)
	// DeleteDirectoryGroup removes a group, its member rows and its role assignment.
	DeleteDirectoryGroup(ctx context.Context, environmentID, directoryID, id string) error
	ListDirectoryGroups(ctx context.Context, environmentID, directoryID string, q DirectoryGroupQuery) (Page[roster.DirectoryGroup], error)
	// AddDirectoryGroupMembers adds directory users to a group, one row each (members already
	// in it are left as they are), and sets the group's update time. It reports how many rows
	// it added and the user IDs that are not users of the directory (not added).
	AddDirectoryGroupMembers(ctx context.Context, environmentID, directoryID, groupID string, userIDs []string, at time.Time) (added int, missing []string, err error)
	// RemoveDirectoryGroupMembers removes members of a group by user ID and sets the group's
	// update time; it reports how many rows it removed.
	RemoveDirectoryGroupMembers(ctx context.Context, environmentID, directoryID, groupID string, userIDs []string, at time.Time) (int, error)
	// ListDirectoryGroupMembers returns up to limit member user IDs of a group after the
	// given one ("" from the start), in ID order.
	ListDirectoryGroupMembers(ctx context.Context, environmentID, directoryID, groupID, after string, limit int) ([]string, error)
	// DirectoryUserGroups returns, for each of the given users of a directory, the groups it
	// is a member of (ID, display name and update time only), in group ID order.
	DirectoryUserGroups(ctx context.Context, environmentID, directoryID string, userIDs []string) (map[string][]roster.DirectoryGroup, error)

	// The SCIM endpoint's writes (docs/scim.md "The store-backed directory"): each is one
	// transaction over the directory user or group, the Roster user it links, the membership
	// and the roles that follow from groups.

	// WriteDirectoryUser creates (w.Create) or updates (w.ID, w.Update) a directory user and
	// links it to a Roster user: the one it already links, else (roster.CheckLink) the user of
	// its email, else a new user; an ACTIVE membership of the directory's organization when
	// the row is active, INACTIVE when not. A refused link is PERMISSION_DENIED; a userName
	// taken in the directory, or a Roster user already linked to another user of the
	// directory, is ALREADY_EXISTS. Nothing is written on an error.
	WriteDirectoryUser(ctx context.Context, w DirectoryUserWrite) (roster.DirectoryUser, error)
	// DeprovisionDirectoryUser deletes a directory user, ends its Roster user's membership of
	// the organization, and deletes the Roster user when nothing else holds it (no other
	// membership, SSO identity or directory user).
	DeprovisionDirectoryUser(ctx context.Context, environmentID, directoryID, id string) error
	// QueryDirectoryUsers returns users matching c (nil: all) in creation order, skipping
	// offset and returning at most limit, and the number of all that match: a SCIM list page,
	// each user as the page writes it (DirectoryResource).
	QueryDirectoryUsers(ctx context.Context, environmentID, directoryID string, c *DirectoryCond, offset, limit int) ([]DirectoryResource, int, error)
	// QueryDirectoryGroups is QueryDirectoryUsers for groups.
	QueryDirectoryGroups(ctx context.Context, environmentID, directoryID string, c *DirectoryCond, offset, limit int) ([]DirectoryResource, int, error)
	// WriteDirectoryGroup creates (w.Create) or updates (w.ID, w.Update) a group and applies
	// its member change, writing only the member rows named; the roles of the members added
	// or removed follow (the organization's default member role, read in the write's
	// transaction, for a member no assigned group gives a role). A member
	// ID that is neither a user nor a group of the directory is INVALID_ARGUMENT on
	// "members" and nothing is written. A write that changes only members moves the group's
	// update time at most once per roster.DirectoryGroupMemberTimeGranularity, and the group
	// returned has no MemberCount (a write never counts the members).
	WriteDirectoryGroup(ctx context.Context, w DirectoryGroupWrite) (roster.DirectoryGroup, error)
	// RemoveDirectoryGroup deletes a group and recomputes its members' roles.
	RemoveDirectoryGroup(ctx context.Context, environmentID, directoryID, id string, defaultRoles []roster.RoleRef) error
	// DirectoryGroupMemberIDs lists a group's members: user IDs, then group IDs.
	DirectoryGroupMemberIDs(ctx context.Context, environmentID, directoryID, id string) (users, groups []string, err error)
	// RecomputeDirectoryRoles sets the roles of every linked user of a directory from its
	// groups' role assignments (after AssignRoles).
	RecomputeDirectoryRoles(ctx context.Context, environmentID, directoryID string, defaultRoles []roster.RoleRef) error
	// ReapplyDirectoryUsers runs, in one transaction, the profile function of a SCIM write on
	// each user of one batch, from its stored row, and stores the users whose profile or
	// custom attributes changed. A user whose profile another organization's source owns
	// (roster.MayChangeProfile), or whose Roster user is gone, is skipped. The directory is
	// locked as for a SCIM write, so a SCIM write of the same users waits or goes first.
	ReapplyDirectoryUsers(ctx context.Context, r DirectoryReapply) (DirectoryReapplyBatch, error)
}

// DirectoryReapply is one batch of a mapping re-applied to a directory's users (see
// ReapplyDirectoryUsers).
type DirectoryReapply struct {
	EnvironmentID, DirectoryID string
	// AfterSeq and Limit pick the batch: the directory users after this position, in creation
	// order, at most Limit of them.
	AfterSeq int64
	Limit    int
	// Profile returns the profile function of a SCIM write of d (the directory as read in the
	// batch's transaction, so with its current mapping); see DirectoryUserWrite.Profile.
	Profile func(d roster.Directory) func(u *roster.User, row roster.DirectoryUser, st SignInState, defs AttributeDefs) error
	Now     time.Time
}

// DirectoryReapplyBatch is what one batch did.
type DirectoryReapplyBatch struct {
	Examined, Changed, Skipped int
	// LastSeq is the position of the last directory user read (the next batch's AfterSeq);
	// LastID its ID, also when the batch failed on it.
	LastSeq int64
	LastID  string
}

// DirectoryUserWrite is one SCIM write of a user (see WriteDirectoryUser).
type DirectoryUserWrite struct {
	Directory roster.Directory
	Create    *roster.DirectoryUser // a create: the new row, ID and times set
	ID        string                // an update: the row's ID
	// Update changes the current row inside the transaction; its error is returned as is.
	Update    func(*roster.DirectoryUser) error
	NewUserID string // the Roster user's ID, if one is created
	// Email picks the Roster email of a row ("" refuses the write as INVALID_ARGUMENT).
	Email func(roster.DirectoryUser) string
	// Profile writes the row onto the Roster user (fresh, with Email and times set, when
	// st.IsNew); with st.MayChangeProfile false its profile changes are not stored.
	Profile func(u *roster.User, row roster.DirectoryUser, st SignInState, defs AttributeDefs) error
	// ProfileOf, when set, is used instead of Profile: it gives the profile function of the
	// directory as read inside the write's transaction (its current mapping, which cannot
	// change before the write commits).
	ProfileOf func(d roster.Directory) func(u *roster.User, row roster.DirectoryUser, st SignInState, defs AttributeDefs) error
	Now       time.Time
}

// DirectoryMemberChange is what a group write does to its members (user or group IDs).
type DirectoryMemberChange struct {
	Add, Remove []string
	Replace     bool // the members become exactly Add
}

// DirectoryGroupWrite is one SCIM write of a group (see WriteDirectoryGroup).
type DirectoryGroupWrite struct {
	Create                         *roster.DirectoryGroup
	EnvironmentID, DirectoryID, ID string
	Update                         func(*roster.DirectoryGroup) (DirectoryMemberChange, error)
	Members                        DirectoryMemberChange // a create's members
	Now                            time.Time
	// Secret, on an update, makes the write check its caller's SCIM bearer token in its
	// first statement (the round trip of checking it before is spared): the directory must
	// be enabled, its organization alive and Secret.Hash the hash of one of its current
	// secrets at Now. Else nothing is written and the error is UNAUTHENTICATED. EnvironmentID
	// is then left empty: it is the directory's. The store fills in Secret.Found.
	Secret *SecretCheck
}

// DefaultMemberRole, as the only role of CreateUser's membership, stands for the
// organization's default member role (ResolveDefaultMemberRole's rule), which the store reads
// where it costs least: on PostgreSQL in the write's first statement (a round trip fewer than
// reading it before), on SQLite from its catalog cache. When there is none, CreateUser answers
// a *NoDefaultRoleError and writes nothing.
var DefaultMemberRole = roster.RoleRef{ID: "\x00default-member-role"}

// NoDefaultRoleError is CreateUser's answer when DefaultMemberRole finds no role: Name is the
// default member role's name, which matches no role of the environment or organization.
type NoDefaultRoleError struct{ Name string }

func (e *NoDefaultRoleError) Error() string {
	return "store: no role is named " + e.Name + ", the default member role"
}

// SecretCheck is a write's check of a SCIM bearer token's hash (DirectoryGroupWrite.Secret).
type SecretCheck struct {
	Hash  string
	Found roster.DirectorySecret // the secret the hash matched, when it did
}

// DirectoryCond is a storage-neutral filter over a directory's indexed attributes (the
// scim package's Cond, which the store does not import): Op is and, or, not (Args) or a
// comparison eq, ne, co, sw, ew, gt, ge, lt, le, pr of Attr: for users id, userName,
// externalId, emails.value, displayName (string), active (bool), meta.lastModified
// (time.Time); for groups id, displayName, externalId, meta.lastModified. Strings compare
// case-insensitively (lower-cased) unless CaseExact, ordered comparisons byte-wise; an
// absent value ("") matches no comparison, and ne is "not eq".
type DirectoryCond struct {
	Op        string
	Args      []DirectoryCond
	Attr      string
	Value     any
	CaseExact bool
}

// DirectoryResource is a directory user or group as a SCIM list page writes it: its ID, the
// raw SCIM resource stored (roster.DirectoryUser.Raw) and its times. A page reads only these
// of each row: the other columns were most of a page's scan (docs/scim.md "Paging").
type DirectoryResource struct {
	ID                     string
	Raw                    []byte
	CreateTime, UpdateTime time.Time
}

// SCIMRequest is one request a directory's SCIM endpoint answered.
type SCIMRequest struct {
	DirectoryID string
	Method      string
	Path        string // below the directory's endpoint, without the query
	Status      int
	Time        time.Time
}

// DirectoryStats are the counts GetDirectory shows.
type DirectoryStats struct {
	Users, Groups                   int
	UserUpdateTime, GroupUpdateTime *time.Time // the latest, nil when there is none
}

// DirectoryAuth is what a SCIM bearer token finds.
type DirectoryAuth struct {
	Directory    roster.Directory
	Secret       roster.DirectorySecret
	Organization roster.Organization
}

// DirectoryUserQuery selects directory users; the zero value selects all.
type DirectoryUserQuery struct {
	UpdatedAfter *time.Time // update time strictly after
	GroupID      string     // members of this group of the directory
	UserNameKey  string     // roster.UserNameKey of a userName
	ExternalID   *string
	UserID       string // the one linked to this Roster user
	Page         PageQuery
}

// DirectoryGroupQuery selects directory groups; the zero value selects all.
type DirectoryGroupQuery struct {
	UpdatedAfter *time.Time
	DisplayName  *string // exact
	ExternalID   *string
	Page         PageQuery
}

// ImportLine is a checked import line with its role names resolved.
type ImportLine struct {
	User  roster.ImportUser
	NewID string // the ID of the user, if the line creates one
	// Memberships match User.Memberships one to one.
	Memberships []ImportMembership
}

// ImportMembership is what the directory resolved for a membership of an import line.
type ImportMembership struct {
	Roles []roster.RoleRef // the line's roles (nil: none given)
	// DefaultRoles is what a new membership gets when the line gives no roles; DefaultErr,
	// when set, refuses such a membership instead (the default member role does not exist).
	DefaultRoles []roster.RoleRef
	DefaultErr   error
}

// ImportOutcome is what a line did; Err is a *roster.Error naming the line's field.
type ImportOutcome struct {
	UserID string
	Result roster.ImportResult
	Err    error
}

// ConnectionQuery selects connections; at most one field is set.
type ConnectionQuery struct {
	OrganizationID string
	Domain         string // normalized domain name
	// Limit, when above 0, stops the list after Limit+1 connections (so that the caller
	// learns there are more than Limit).
	Limit int
}

// SignIn is the storage half of a sign-in. The store applies the linking rule
// (roster.CheckLink) inside its transaction: the user is the holder of the identity
// (connection and subject); otherwise the user of Email, found or created, only when Email's
// domain is a domain of the connection's organization and EmailVerified is not false.
// Anything else is refused with PERMISSION_DENIED and nothing is stored.
type SignIn struct {
	Connection    roster.Connection
	Identity      roster.Identity // Subject, RawClaims and times; UserID is filled in
	Email         string
	EmailVerified *bool  // what the provider says of Email (nil: nothing)
	NewUserID     string // the ID of the user, if one is created
	// Update changes the user (fresh, with Email and times set, when st.IsNew) inside the
	// transaction. When st.MayChangeProfile is false, changes to u.Profile are not stored.
	Update func(u *roster.User, st SignInState, defs AttributeDefs) error
	// Membership is the membership a user who is not yet a member gets (nil: refuse such a
	// user with PERMISSION_DENIED). Its Roles carry role IDs.
	Membership *roster.Membership
	// Roles, when not nil, replace an existing member's roles (role IDs).
	Roles []roster.RoleRef
	Code  roster.AuthCode // stored with UserID filled in
}

// SignInState is what the store found for a sign-in.
type SignInState struct {
	IsNew bool // the sign-in creates the user
	// MayChangeProfile is false when the user's profile is owned by a source of another
	// organization than the connection's (roster.MayChangeProfile).
	MayChangeProfile bool
}

// UserCheck changes or checks a user inside the transaction that stores it; defs loads the
// environment's attribute definitions by key (only when called).
type UserCheck func(u *roster.User, defs AttributeDefs) error

// AttributeDefs returns the environment's attribute definitions by key.
type AttributeDefs func() (map[string]roster.AttributeDefinition, error)

// UserQuery selects users for a list or search.
type UserQuery struct {
	OrganizationID string // only members of this organization
	Search         string // case-insensitive substring of email, id or external id
	EmailKey       string // exactly this email (EmailKey form)
	Page           PageQuery
	// CountUpTo, when above 0, stops the count at that many (Page.Total at most CountUpTo,
	// Page.TotalAtLeast set when it stopped): a screen that shows "1,000+" need not count
	// 100,000 matches. 0 counts them all.
	CountUpTo int
}

// OrganizationQuery selects organizations for a list or search.
type OrganizationQuery struct {
	ExternalID *string // exact match
	Search     string  // case-insensitive substring of display name, id or external id
	Page       PageQuery
}

// PageQuery asks for one page in keyset order (ascending ID number). At most one of After and
// Before is set; Before pages backwards.
type PageQuery struct {
	Size   int
	After  int64 // return rows whose ID number is greater
	Before int64 // return the last Size rows whose ID number is smaller
}

// Page is one page of results in ascending order.
type Page[T any] struct {
	Items []T
	// More reports whether rows exist beyond this page in the direction it was read.
	More bool
	// Total counts every row that matches the query, on all pages.
	Total int
	// TotalAtLeast reports that the count stopped at the query's CountUpTo: at least Total
	// rows match.
	TotalAtLeast bool
}
