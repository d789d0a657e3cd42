package scim

import "testing"

// ValidateWithSCIMMY checks answers against SCIMMY's RFC 7643 definitions (User with the
// enterprise extension, Group): one error per resource, "" when valid. For scim_test.
func ValidateWithSCIMMY(t *testing.T, types []string, resources []map[string]any) []string {
	t.Helper()
	var in oracleIn
	for i, r := range resources {
		in.Validate = append(in.Validate, oracleValidateIn{Type: types[i], Resource: r})
	}
	out := runOracle(t, in)
	if len(out.Validate) != len(resources) {
		t.Fatalf("SCIMMY validated %d of %d resources", len(out.Validate), len(resources))
	}
	errs := make([]string, len(resources))
	for i, v := range out.Validate {
		errs[i] = v.Error
	}
	return errs
}
