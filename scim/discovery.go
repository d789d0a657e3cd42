package scim

import (
	"net/http"
	"strings"
)

// serviceProviderConfig is RFC 7643 section 5, as this package implements it.
func (rq *request) serviceProviderConfig() map[string]any {
	return map[string]any{
		"schemas":          []string{spcSchema},
		"documentationUri": "https://github.com/rosterhq/roster/blob/main/docs/scim.md",
		"patch":            map[string]any{"supported": true},
		"bulk":             map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":           map[string]any{"supported": true, "maxResults": MaxCount},
		"changePassword":   map[string]any{"supported": false},
		"sort":             map[string]any{"supported": false},
		"etag":             map[string]any{"supported": true},
		"authenticationSchemes": []any{map[string]any{
			"type":        "oauthbearertoken",
			"name":        "OAuth Bearer Token",
			"description": "The directory's secret, sent as Authorization: Bearer <secret>.",
			"primary":     true,
		}},
		"meta": map[string]any{"resourceType": "ServiceProviderConfig", "location": rq.base + "/ServiceProviderConfig"},
	}
}

func (rq *request) schemaJSON(s *Schema) map[string]any {
	return map[string]any{
		"schemas":     []string{schemaSchema},
		"id":          s.ID,
		"name":        s.Name,
		"description": s.Description,
		"attributes":  s.Attributes,
		"meta":        map[string]any{"resourceType": "Schema", "location": rq.base + "/Schemas/" + s.ID},
	}
}

func (rq *request) resourceTypeJSON(rt *ResourceType) map[string]any {
	exts := []any{}
	for _, e := range rt.Extensions {
		exts = append(exts, map[string]any{"schema": e.ID, "required": false})
	}
	return map[string]any{
		"schemas":          []string{resourceTypeSchema},
		"id":               rt.Name,
		"name":             rt.Name,
		"endpoint":         rt.Endpoint,
		"description":      rt.Schema.Description,
		"schema":           rt.Schema.ID,
		"schemaExtensions": exts,
		"meta":             map[string]any{"resourceType": "ResourceType", "location": rq.base + "/ResourceTypes/" + rt.Name},
	}
}

func listOf(items []any) map[string]any {
	return map[string]any{
		"schemas":      []string{listResponseSchema},
		"totalResults": len(items),
		"startIndex":   1,
		"itemsPerPage": len(items),
		"Resources":    items,
	}
}

func (rq *request) schemas(id string) {
	if id == "" {
		var items []any
		for _, s := range allSchemas {
			items = append(items, rq.schemaJSON(s))
		}
		rq.send(http.StatusOK, listOf(items))
		return
	}
	for _, s := range allSchemas {
		if strings.EqualFold(s.ID, id) {
			rq.send(http.StatusOK, rq.schemaJSON(s))
			return
		}
	}
	rq.fail(errorf(http.StatusNotFound, "", "no schema %q", id))
}

func (rq *request) resourceTypes(name string) {
	if name == "" {
		rq.send(http.StatusOK, listOf([]any{rq.resourceTypeJSON(Users), rq.resourceTypeJSON(Groups)}))
		return
	}
	for _, rt := range []*ResourceType{Users, Groups} {
		if strings.EqualFold(rt.Name, name) {
			rq.send(http.StatusOK, rq.resourceTypeJSON(rt))
			return
		}
	}
	rq.fail(errorf(http.StatusNotFound, "", "no resource type %q", name))
}
