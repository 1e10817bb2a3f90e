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
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fender-dev/fender/internal/admin"
	"github.com/fender-dev/fender/internal/store"
)

// resource is one kind of record the operator commands manage over the
// admin API (fender events, fender jobs) with the same three subcommands:
// list, show and replay. T is an item of a list page P, D the detail of
// one record. What differs between resources (filters, columns,
// rendering) is here; the commands are the methods.
type resource[T, P, D any] struct {
	name   string // singular: "event"
	plural string // the command and the path under /api/: "events"
	usage  string // the text of `fender {plural} help`
	// filters are the filter flags of list and bulk replay, in the order
	// they are listed and printed.
	filters []filterFlag
	// page returns the items and the cursor of a list page.
	page func(p *P) (items *[]T, next *string)
	// header and row print the list table (tab separated).
	header string
	row    func(w io.Writer, item T)
	// print renders one record for show.
	print func(w io.Writer, d D) error
	// bulkBody is the body of a bulk replay of the filters q.
	bulkBody func(q url.Values, all bool) any
}

// filterFlag is one filter of a resource, a flag and a query parameter.
type filterFlag struct {
	name    string // the flag and the query parameter
	metavar string // its value in the synopsis
	help    string // after "only " (list) or "bulk: " (replay)
	// bulkNote is added to help under replay.
	bulkNote string
	// isTime marks a time: RFC 3339 or a duration back from now.
	isTime bool
	// valid checks a value (nil: any), else the usage error says want.
	valid func(string) bool
	want  string
}

// cmd is `fender {plural}`.
func (r *resource[T, P, D]) cmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, r.usage)
		return &usageError{r.plural + ": no subcommand given (list, show or replay)"}
	}
	var err error
	switch sub, rest := args[0], args[1:]; sub {
	case "list":
		err = r.list(ctx, rest, getenv, stdout, stderr)
	case "show":
		err = r.show(ctx, rest, getenv, stdout, stderr)
	case "replay":
		err = r.replay(ctx, rest, getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, r.usage)
		return nil
	default:
		fmt.Fprint(stderr, r.usage)
		return &usageError{fmt.Sprintf("%s: unknown subcommand %q (want list, show or replay)", r.plural, sub)}
	}
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return reportAPIError(stderr, err)
}

// registerFilters adds the filter flags to fs, their help after prefix,
// and returns where their values land, by name.
func (r *resource[T, P, D]) registerFilters(fs *flag.FlagSet, prefix string, bulk bool) map[string]*string {
	vals := make(map[string]*string, len(r.filters))
	for _, f := range r.filters {
		help := prefix + f.help
		if bulk {
			help += f.bulkNote
		}
		vals[f.name] = fs.String(f.name, "", help)
	}
	return vals
}

// query checks the filter values and returns them as query values (times
// as RFC 3339, relative ones resolved against now).
func (r *resource[T, P, D]) query(vals map[string]*string, now time.Time) (url.Values, error) {
	q := url.Values{}
	for _, f := range r.filters {
		v := *vals[f.name]
		switch {
		case v == "":
			continue
		case f.isTime:
			t, err := parseTimeFlag(v, now)
			if err != nil {
				return nil, &usageError{fmt.Sprintf("--%s %q: %v", f.name, v, err)}
			}
			v = t.UTC().Format(time.RFC3339Nano)
		case f.valid != nil && !f.valid(v):
			return nil, &usageError{fmt.Sprintf("--%s %q: %s", f.name, v, f.want)}
		}
		q.Set(f.name, v)
	}
	return q, nil
}

func (r *resource[T, P, D]) list(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet(r.plural+" list", "[flags]", stderr)
	var af adminFlags
	af.register(fs)
	vals := r.registerFilters(fs, "only ", false)
	var after string
	var limit int
	var allPages, asJSON bool
	fs.IntVar(&limit, "limit", 0, fmt.Sprintf("page size (server default %d, at most %d)", store.DefaultLimit, store.MaxLimit))
	fs.StringVar(&after, "after", "", "cursor: the next value printed by the previous page")
	fs.BoolVar(&allPages, "all-pages", false, "follow the cursor to the last page")
	fs.BoolVar(&asJSON, "json", false, "print the API's JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &usageError{fmt.Sprintf("%s list: unexpected argument %q", r.plural, pos[0])}
	}
	if limit < 0 || limit > store.MaxLimit {
		return &usageError{fmt.Sprintf("%s list: --limit %d: want 1 to %d", r.plural, limit, store.MaxLimit)}
	}
	q, err := r.query(vals, time.Now())
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

	var all P
	items, next := r.page(&all)
	*items = []T{}
	for {
		if after != "" {
			q.Set("after", after)
		}
		var page P
		if err := c.get(ctx, "/api/"+r.plural+"?"+q.Encode(), &page); err != nil {
			return err
		}
		pageItems, pageNext := r.page(&page)
		*items = append(*items, *pageItems...)
		*next = *pageNext
		if !allPages || *pageNext == "" {
			break
		}
		if *pageNext == after {
			return fmt.Errorf("%s list: the admin API returned the same cursor %q twice", r.plural, after)
		}
		after = *pageNext
	}
	if asJSON {
		return writeIndented(stdout, all)
	}
	if len(*items) == 0 {
		fmt.Fprintln(stdout, "no "+r.plural)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, r.header)
	for _, item := range *items {
		r.row(tw, item)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if *next != "" {
		fmt.Fprintf(stderr, "more %s: add --after %s (or --all-pages)\n", r.plural, *next)
	}
	return nil
}

func (r *resource[T, P, D]) show(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet(r.plural+" show", "ID [flags]", stderr)
	var af adminFlags
	af.register(fs)
	asJSON := fs.Bool("json", false, "print the API's JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] == "" {
		return &usageError{fmt.Sprintf("%s show: give exactly one %s id", r.plural, r.name)}
	}
	c, err := af.client(getenv)
	if err != nil {
		return err
	}
	path := "/api/" + r.plural + "/" + url.PathEscape(pos[0])
	if *asJSON {
		var raw json.RawMessage
		if err := c.get(ctx, path, &raw); err != nil {
			return err
		}
		return writeIndented(stdout, raw)
	}
	var d D
	if err := c.get(ctx, path, &d); err != nil {
		return err
	}
	return r.print(stdout, d)
}

func (r *resource[T, P, D]) replay(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	synopsis := "ID... |"
	flags := make([]string, 0, len(r.filters))
	for _, f := range r.filters {
		synopsis += fmt.Sprintf(" [--%s %s]", f.name, f.metavar)
		flags = append(flags, "--"+f.name)
	}
	fs := newFlagSet(r.plural+" replay", synopsis+" [--all]", stderr)
	var af adminFlags
	af.register(fs)
	vals := r.registerFilters(fs, "bulk: ", true)
	var all bool
	fs.BoolVar(&all, "all", false, "bulk: replay every "+r.name+" the filters match, even with no filter")
	ids, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	bulk := all
	for _, v := range vals {
		bulk = bulk || *v != ""
	}
	switch {
	case len(ids) > 0 && bulk:
		return &usageError{fmt.Sprintf("%s replay: give %s ids or filters, not both", r.plural, r.name)}
	case len(ids) == 0 && !bulk:
		return &usageError{fmt.Sprintf("%s replay: give %s ids, or filters (%s), or --all", r.plural, r.name, strings.Join(flags, ", "))}
	}
	c, err := af.client(getenv)
	if err != nil {
		return err
	}
	if bulk {
		return r.replayMatching(ctx, c, vals, all, stdout)
	}
	return r.replayIDs(ctx, c, ids, stdout, stderr)
}

// replayMatching replays every record the filters match and prints how
// many.
func (r *resource[T, P, D]) replayMatching(ctx context.Context, c *adminClient, vals map[string]*string, all bool, stdout io.Writer) error {
	q, err := r.query(vals, time.Now())
	if err != nil {
		return err
	}
	var out struct {
		Replayed int `json:"replayed"`
	}
	if err := c.post(ctx, "/api/"+r.plural+"/replay", r.bulkBody(q, all), &out); err != nil {
		return err
	}
	var filter []string
	for _, f := range r.filters {
		if v := q.Get(f.name); v != "" {
			filter = append(filter, f.name+"="+v)
		}
	}
	if len(filter) == 0 {
		filter = append(filter, "all "+r.plural)
	}
	noun := r.plural
	if out.Replayed == 1 {
		noun = r.name
	}
	fmt.Fprintf(stdout, "replayed %d %s (%s)\n", out.Replayed, noun, printable(strings.Join(filter, " "), 0))
	return nil
}

// replayIDs replays each of ids; unknown ones are reported and the others
// still replayed, and then the command fails.
func (r *resource[T, P, D]) replayIDs(ctx context.Context, c *adminClient, ids []string, stdout, stderr io.Writer) error {
	failed := 0
	for _, id := range ids {
		var out struct{ ID, Status string }
		err := c.post(ctx, "/api/"+r.plural+"/"+url.PathEscape(id)+"/replay", nil, &out)
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

// printAttempts prints the attempts table of show, or none when there
// are no attempts.
func printAttempts(w io.Writer, attempts []admin.AttemptJSON, none string) error {
	if len(attempts) == 0 {
		fmt.Fprintln(w, "\n"+none)
		return nil
	}
	fmt.Fprintln(w, "\nattempts:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  #\tSTARTED\tSTATUS\tDURATION\tCATEGORY\tERROR\tRESPONSE")
	for _, a := range attempts {
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
