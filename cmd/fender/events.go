package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"text/tabwriter"

	"github.com/fender-dev/fender/internal/admin"
	"github.com/fender-dev/fender/internal/store"
)

const eventsUsage = `Usage:
  fender events list   [--source S] [--status S] [--since T] [--until T] [--limit N] [--after CURSOR] [--all-pages] [--json]
  fender events show   ID [--json]
  fender events replay ID...
  fender events replay [--source S] [--status S] [--since T] [--until T] [--all]

Every subcommand takes --admin URL (default $FENDER_ADMIN_URL, else
http://127.0.0.1:9090) and --token TOKEN (default $FENDER_ADMIN_TOKEN).
Statuses: pending, delivered, dead, superseded. Times are RFC 3339
(2030-01-02T15:04:05Z) or a duration back from now (90m, 24h).
A bulk replay needs at least one filter, or --all to replay every event.
`

// eventsCmd is `fender events`: the inbox over the admin API.
func eventsCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return eventsResource.cmd(ctx, args, getenv, stdout, stderr)
}

// eventsResource is what `fender events` lists, shows and replays.
var eventsResource = &resource[admin.EventJSON, admin.EventListJSON, admin.EventDetailJSON]{
	name:   "event",
	plural: "events",
	usage:  eventsUsage,
	filters: []filterFlag{
		{name: "source", metavar: "S", help: "events of this source"},
		{name: "status", metavar: "S", help: "events in this status", bulkNote: " (usually dead)",
			valid: store.ValidStatus, want: "want pending, delivered, dead or superseded"},
		{name: "since", metavar: "T", help: "events received at or after this time", isTime: true},
		{name: "until", metavar: "T", help: "events received before this time", isTime: true},
	},
	page:   func(l *admin.EventListJSON) (*[]admin.EventJSON, *string) { return &l.Events, &l.Next },
	header: "ID\tSOURCE\tSTATUS\tATTEMPTS\tRECEIVED\tEVENT ID\tLAST ERROR",
	row: func(w io.Writer, e admin.EventJSON) {
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", printable(e.ID, 40), printable(e.Source, 24), e.Status,
			e.Attempts, formatTime(&e.ReceivedAt), printable(e.EventID, 32), printable(e.LastError, 60))
	},
	print: printEvent,
	bulkBody: func(q url.Values, all bool) any {
		return admin.ReplayFilterJSON{Source: q.Get("source"), Status: q.Get("status"), Since: q.Get("since"), Until: q.Get("until"), All: all}
	},
}

func printEvent(w io.Writer, e admin.EventDetailJSON) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	field := func(name, value string) { fmt.Fprintf(tw, "%s\t%s\n", name, value) }
	field("id", printable(e.ID, 0))
	field("source", printable(e.Source, 0))
	field("event_id", printable(e.EventID, 0))
	field("status", e.Status)
	field("attempts", strconv.Itoa(len(e.Attempts)))
	field("received_at", formatTime(&e.ReceivedAt))
	field("next_at", formatTime(e.NextAt))
	field("delivered_at", formatTime(e.DeliveredAt))
	field("resource_key", orDash(printable(e.ResourceKey, 0)))
	field("content_type", orDash(printable(e.ContentType, 0)))
	field("recovered", strconv.FormatBool(e.Recovered))
	field("last_error", orDash(printable(e.LastError, 0)))
	names := make([]string, 0, len(e.Headers))
	for k := range e.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		field("header", printable(k, 0)+": "+printable(e.Headers[k], 0))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w, "\nbody:")
	fmt.Fprintln(w, bodyText(e.Body, e.BodyBase64))

	return printAttempts(w, e.Attempts, "no delivery attempts yet")
}
