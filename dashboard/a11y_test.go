package dashboard_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/rosterhq/roster/operators"
	"github.com/rosterhq/roster/store/sqlite"
)

// TestSetUpDisplayNameError: the set-up form's display name refused by the service has its
// message beside the field, tied to it by aria-describedby as every other field's is (a
// screen reader reads it with the field).
func TestSetUpDisplayNameError(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := newConsole(t, st)
	token, _, ok, err := c.ops.FirstRunLink(ctx)
	if err != nil || !ok {
		t.Fatalf("first-run link: %v %v", ok, err)
	}
	b := c.browser(t)
	tok := b.csrf(operators.SetUpPath + "?token=" + url.QueryEscape(token))
	res := b.post("/dashboard/setup", url.Values{"csrf": {tok}, "token": {token}, "email": {adaEmail},
		"display_name": {strings.Repeat("x", 300)}, "password": {adaPassword}})
	wantStatus(t, "a too long display name", res, 400)
	for _, want := range []string{
		`<input id="display_name" name="display_name" autocomplete="name" value="` + strings.Repeat("x", 300) + `" aria-describedby="display_name-error">`,
		`<span id="display_name-error"><span class="field-error">must be at most 255 characters</span></span>`,
	} {
		if !strings.Contains(res.body, want) {
			t.Fatalf("the set-up form has no %s:\n%s", want, res.body)
		}
	}
}
