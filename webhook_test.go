package roster

import "testing"

func TestWebhookEndpointValidate(t *testing.T) {
	ok := WebhookEndpoint{URL: "https://example.com/hooks", EventTypes: []string{"user.created", "organization.directory.*"}, Enabled: true}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid endpoint refused: %v", err)
	}
	bad := map[string]WebhookEndpoint{
		"no url":        {},
		"relative":      {URL: "/hooks"},
		"ftp":           {URL: "ftp://example.com/x"},
		"userinfo":      {URL: "https://u:p@example.com/x"},
		"long":          {URL: "https://example.com/" + string(make([]byte, MaxWebhookURL))},
		"unknown type":  {URL: "https://example.com", EventTypes: []string{"user.exploded"}},
		"bad prefix":    {URL: "https://example.com", EventTypes: []string{"nothing.*"}},
		"twice":         {URL: "https://example.com", EventTypes: []string{"user.created", "user.created"}},
		"reason":        {URL: "https://example.com", Enabled: true, DisabledReason: WebhookDisabledFailing},
		"unknown state": {URL: "https://example.com", DisabledReason: "bored"},
	}
	for name, e := range bad {
		if err := e.Validate(); ErrorCode(err) != EInvalid {
			t.Errorf("%s: want INVALID, got %v", name, err)
		}
	}
}
