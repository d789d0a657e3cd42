package dashboard

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
)

// The Events screen (issue 15, docs/events.md "The feed"): the change feed read through
// directory.ListEvents, the call of roster.v1 EventService, so filters, cursors and
// messages are the API's. It reads from the start (or from a cursor) forward, as an
// application does: the feed's cursor only moves forward, and an operator can paste the
// next_cursor an application saved to see exactly what it reads next.

// eventPage is how many events a page shows.
const eventPage = 25

func (h *Handler) registerEvents(m *http.ServeMux) {
	h.pages["events"] = h.parsePage("events", "event-types")
	m.HandleFunc("GET "+Prefix+"/events", h.session(h.events))
}

type shownEvent struct {
	ID, Type, OrganizationID, OccurredAt string
	Envelope                             string // indented JSON, escaped by the template
}

type eventsData struct {
	Events       []shownEvent
	Types        []typeOption
	Selected     []string // the types and prefixes filtered by
	Organization string
	After        string
	Next         string // the next page's link, when more events follow
	Start        string // the first page of these filters, when this is not it
	Live         string // the same filters from the cursor after this page, for new events
	Filtered     bool
}

func (h *Handler) events(w http.ResponseWriter, r *http.Request, s request) {
	q := r.URL.Query()
	in := directory.EventListInput{After: q.Get("after"), OrganizationID: strings.TrimSpace(q.Get("organization_id")), PageSize: eventPage}
	for _, t := range q["types"] {
		if t = strings.TrimSpace(t); t != "" {
			in.Types = append(in.Types, t)
		}
	}
	d := eventsData{Types: typeOptions(in.Types), Selected: in.Types, Organization: in.OrganizationID, After: in.After, Filtered: len(in.Types) > 0 || in.OrganizationID != ""}
	p := page{Title: "Events", Nav: "events", Operator: &s.op, CSRF: s.csrf, Data: &d}
	filters := url.Values{}
	if len(in.Types) > 0 {
		filters["types"] = in.Types
	}
	if in.OrganizationID != "" {
		filters.Set("organization_id", in.OrganizationID)
	}
	link := func(after string) string {
		v := url.Values{}
		for k, vs := range filters {
			v[k] = vs
		}
		if after != "" {
			v.Set("after", after)
		}
		if len(v) == 0 {
			return Prefix + "/events"
		}
		return Prefix + "/events?" + v.Encode()
	}
	res, err := h.cfg.Directory.ListEvents(r.Context(), h.cfg.Environment, in)
	if err != nil {
		p.Error, p.Fields = roster.ErrorMessage(err), fieldErrors(err, "types", "organization_id", "after")
		h.render(w, statusOf(err), "events", p)
		return
	}
	for _, e := range res.Events {
		var pretty bytes.Buffer
		if json.Indent(&pretty, e.Body, "", "  ") != nil {
			pretty.Reset()
			pretty.Write(e.Body)
		}
		d.Events = append(d.Events, shownEvent{ID: e.ID, Type: e.Type, OrganizationID: e.OrganizationID,
			OccurredAt: e.OccurredAt.UTC().Format("2006-01-02 15:04:05 UTC"), Envelope: pretty.String()})
	}
	if res.HasMore {
		d.Next = link(res.NextCursor)
	}
	if in.After != "" {
		d.Start = link("")
	}
	if !res.HasMore && res.NextCursor != "" {
		d.Live = link(res.NextCursor)
	}
	h.render(w, http.StatusOK, "events", p)
}
