package roster

import (
	"errors"
	"fmt"
	"testing"
)

func TestRolePermissionsCap(t *testing.T) {
	r := Role{Name: "viewer"}
	for i := 0; i < MaxPermissionsPerRole; i++ {
		r.Permissions = append(r.Permissions, fmt.Sprintf("p%d", i))
	}
	if err := r.Validate(); err != nil {
		t.Fatalf("%d permissions: %v", MaxPermissionsPerRole, err)
	}
	r.Permissions = append(r.Permissions, "one_more")
	err := r.Validate()
	var e *Error
	if !errors.As(err, &e) || e.Code != EInvalid || len(e.Violations) != 1 || e.Violations[0].Field != "role.permissions" {
		t.Fatalf("%d permissions: %v", len(r.Permissions), err)
	}
}
