package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

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
	if len(args) == 0 {
		fmt.Fprint(stderr, eventsUsage)
		return &usageError{"events: no subcommand given (list, show or replay)"}
	}
	var err error
	switch sub, rest := args[0], args[1:]; sub {
	case "list":
		err = eventsList(ctx, rest, getenv, stdout, stderr)
	case "show":
		err = eventsShow(ctx, rest, getenv, stdout, stderr)
	case "replay":
		err = eventsReplay(ctx, rest, getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, eventsUsage)
		return nil
	default:
		fmt.Fprint(stderr, eventsUsage)
		return &usageError{fmt.Sprintf("events: unknown subcommand %q (want list, show or replay)", sub)}
	}
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return reportAPIError(stderr, err)
}

func eventsList(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("events list", "[flags]", stderr)
	var af adminFlags
	af.register(fs)
	var source, status, since, until, after string
	var limit int
	var allPages, asJSON bool
	fs.StringVar(&source, "source", "", "only events of this source")
	fs.StringVar(&status, "status", "", "only events in this status")
	fs.StringVar(&since, "since", "", "only events received at or after this time")
	fs.StringVar(&until, "until", "", "only events received before this time")
	fs.IntVar(&limit, "limit", 0, fmt.Sprintf("page size (server default %d, at most %d)", store.DefaultLimit, store.MaxLimit))
	fs.StringVar(&after, "after", "", "cursor: the next value printed by the previous page")
	fs.BoolVar(&allPages, "all-pages", false, "follow the cursor to the last page")
	fs.BoolVar(&asJSON, "json", false, "print the API's JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &usageError{fmt.Sprintf("events list: unexpected argument %q", pos[0])}
	}
	if limit < 0 || limit > store.MaxLimit {
		return &usageError{fmt.Sprintf("events list: --limit %d: want 1 to %d", limit, store.MaxLimit)}
	}
	q, err := filterQuery(source, status, since, until, time.Now())
	if err != nil {
		return err
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	c, err := af.client(getenv)
	if err != nil {
		return err
	}

	var all admin.EventListJSON
	all.Events = []admin.EventJSON{}
	for {
		if after != "" {
			q.Set("after", after)
		}
		var page admin.EventListJSON
		if err := c.get(ctx, "/api/events?"+q.Encode(), &page); err != nil {
			return err
		}
		all.Events = append(all.Events, page.Events...)
		all.Next = page.Next
		if !allPages || page.Next == "" {
			break
		}
		if page.Next == after {
			return fmt.Errorf("events list: the admin API returned the same cursor %q twice", after)
		}
		after = page.Next
	}
	if asJSON {
		return writeIndented(stdout, all)
	}
	if len(all.Events) == 0 {
		fmt.Fprintln(stdout, "no events")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSOURCE\tSTATUS\tATTEMPTS\tRECEIVED\tEVENT ID\tLAST ERROR")
	for _, e := range all.Events {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", printable(e.ID, 40), printable(e.Source, 24), e.Status,
			e.Attempts, formatTime(&e.ReceivedAt), printable(e.EventID, 32), printable(e.LastError, 60))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if all.Next != "" {
		fmt.Fprintf(stderr, "more events: add --after %s (or --all-pages)\n", all.Next)
	}
	return nil
}

func eventsShow(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("events show", "ID [flags]", stderr)
	var af adminFlags
	af.register(fs)
	asJSON := fs.Bool("json", false, "print the API's JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] == "" {
		return &usageError{"events show: give exactly one event id"}
	}
	c, err := af.client(getenv)
	if err != nil {
		return err
	}
	path := "/api/events/" + url.PathEscape(pos[0])
	if *asJSON {
		var raw json.RawMessage
		if err := c.get(ctx, path, &raw); err != nil {
			return err
		}
		return writeIndented(stdout, raw)
	}
	var e admin.EventDetailJSON
	if err := c.get(ctx, path, &e); err != nil {
		return err
	}
	return printEvent(stdout, e)
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

	if len(e.Attempts) == 0 {
		fmt.Fprintln(w, "\nno delivery attempts yet")
		return nil
	}
	fmt.Fprintln(w, "\nattempts:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  #\tSTARTED\tSTATUS\tDURATION\tCATEGORY\tERROR\tRESPONSE")
	for _, a := range e.Attempts {
		status := "-"
		if a.Status != 0 {
			status = strconv.Itoa(a.Status)
		}
		dur := time.Duration(a.DurationMS * float64(time.Millisecond)).Round(time.Microsecond)
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\t%s\n", a.N, formatTime(&a.StartedAt), status, dur,
			orDash(a.Category), orDash(printable(a.Error, 80)), orDash(printable(a.ResponseExcerpt, 60)))
	}
	return tw.Flush()
}

func eventsReplay(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("events replay", "ID... | [--source S] [--status S] [--since T] [--until T] [--all]", stderr)
	var af adminFlags
	af.register(fs)
	var source, status, since, until string
	var all bool
	fs.StringVar(&source, "source", "", "bulk: events of this source")
	fs.StringVar(&status, "status", "", "bulk: events in this status (usually dead)")
	fs.StringVar(&since, "since", "", "bulk: events received at or after this time")
	fs.StringVar(&until, "until", "", "bulk: events received before this time")
	fs.BoolVar(&all, "all", false, "bulk: replay every event the filters match, even with no filter")
	ids, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	bulk := source != "" || status != "" || since != "" || until != "" || all
	switch {
	case len(ids) > 0 && bulk:
		return &usageError{"events replay: give event ids or filters, not both"}
	case len(ids) == 0 && !bulk:
		return &usageError{"events replay: give event ids, or filters (--source, --status, --since, --until), or --all"}
	}
	c, err := af.client(getenv)
	if err != nil {
		return err
	}

	if bulk {
		q, err := filterQuery(source, status, since, until, time.Now())
		if err != nil {
			return err
		}
		body := admin.ReplayFilterJSON{Source: q.Get("source"), Status: q.Get("status"), Since: q.Get("since"), Until: q.Get("until"), All: all}
		var out struct {
			Replayed int `json:"replayed"`
		}
		if err := c.post(ctx, "/api/events/replay", body, &out); err != nil {
			return err
		}
		var filter []string
		for _, k := range []string{"source", "status", "since", "until"} {
			if v := q.Get(k); v != "" {
				filter = append(filter, k+"="+v)
			}
		}
		if len(filter) == 0 {
			filter = append(filter, "all events")
		}
		noun := "events"
		if out.Replayed == 1 {
			noun = "event"
		}
		fmt.Fprintf(stdout, "replayed %d %s (%s)\n", out.Replayed, noun, printable(strings.Join(filter, " "), 0))
		return nil
	}

	failed := 0
	for _, id := range ids {
		var out struct{ ID, Status string }
		err := c.post(ctx, "/api/events/"+url.PathEscape(id)+"/replay", nil, &out)
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
			fmt.Fprintf(stderr, "fender: replay %s: %s\n", id, ae.message())
			failed++
			continue
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "replayed %s (%s)\n", out.ID, out.Status)
	}
	if failed > 0 {
		err := fmt.Errorf("%d of %d replays failed", failed, len(ids))
		fmt.Fprintln(stderr, "fender:", err)
		return &reportedError{err: err, code: exitRuntime}
	}
	return nil
}

// filterQuery checks the event filter flags and returns them as query
// values (times as RFC 3339, relative ones resolved against now).
func filterQuery(source, status, since, until string, now time.Time) (url.Values, error) {
	q := url.Values{}
	if source != "" {
		q.Set("source", source)
	}
	if status != "" {
		if !store.ValidStatus(status) {
			return nil, &usageError{fmt.Sprintf("--status %q: want pending, delivered, dead or superseded", status)}
		}
		q.Set("status", status)
	}
	for _, f := range []struct{ name, value string }{{"since", since}, {"until", until}} {
		if f.value == "" {
			continue
		}
		t, err := parseTimeFlag(f.value, now)
		if err != nil {
			return nil, &usageError{fmt.Sprintf("--%s %q: %v", f.name, f.value, err)}
		}
		q.Set(f.name, t.UTC().Format(time.RFC3339Nano))
	}
	return q, nil
}
