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

const jobsUsage = `Usage:
  fender jobs list   [--kind K] [--upstream U] [--status S] [--since T] [--until T] [--limit N] [--after CURSOR] [--all-pages] [--json]
  fender jobs show   ID [--json]
  fender jobs replay ID...
  fender jobs replay [--kind K] [--upstream U] [--status S] [--since T] [--until T] [--all]

Every subcommand takes --admin URL (default $FENDER_ADMIN_URL, else
http://127.0.0.1:9090) and --token TOKEN (default $FENDER_ADMIN_TOKEN).
Kinds: request (Prefer: respond-async calls), callback (their result
posts). Statuses: pending, succeeded, failed, dead. Times are RFC 3339
(2030-01-02T15:04:05Z) or a duration back from now (90m, 24h).
A bulk replay needs at least one filter, or --all to replay every job.
`

// jobsCmd is `fender jobs`: async jobs over the admin API.
func jobsCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, jobsUsage)
		return &usageError{"jobs: no subcommand given (list, show or replay)"}
	}
	var err error
	switch sub, rest := args[0], args[1:]; sub {
	case "list":
		err = jobsList(ctx, rest, getenv, stdout, stderr)
	case "show":
		err = jobsShow(ctx, rest, getenv, stdout, stderr)
	case "replay":
		err = jobsReplay(ctx, rest, getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, jobsUsage)
		return nil
	default:
		fmt.Fprint(stderr, jobsUsage)
		return &usageError{fmt.Sprintf("jobs: unknown subcommand %q (want list, show or replay)", sub)}
	}
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return reportAPIError(stderr, err)
}

// jobFilterFlags are the filters shared by list and bulk replay.
type jobFilterFlags struct{ kind, upstream, status, since, until string }

func (f *jobFilterFlags) register(fs *flag.FlagSet, prefix string) {
	fs.StringVar(&f.kind, "kind", "", prefix+"jobs of this kind (request or callback)")
	fs.StringVar(&f.upstream, "upstream", "", prefix+"jobs of this upstream")
	fs.StringVar(&f.status, "status", "", prefix+"jobs in this status")
	fs.StringVar(&f.since, "since", "", prefix+"jobs created at or after this time")
	fs.StringVar(&f.until, "until", "", prefix+"jobs created before this time")
}

func (f *jobFilterFlags) set() bool {
	return f.kind != "" || f.upstream != "" || f.status != "" || f.since != "" || f.until != ""
}

// query checks the filters and returns them as query values (times as RFC
// 3339, relative ones resolved against now).
func (f *jobFilterFlags) query(now time.Time) (url.Values, error) {
	q := url.Values{}
	if f.kind != "" {
		if !store.ValidJobKind(f.kind) {
			return nil, &usageError{fmt.Sprintf("--kind %q: want request or callback", f.kind)}
		}
		q.Set("kind", f.kind)
	}
	if f.upstream != "" {
		q.Set("upstream", f.upstream)
	}
	if f.status != "" {
		if !store.ValidJobStatus(f.status) {
			return nil, &usageError{fmt.Sprintf("--status %q: want pending, succeeded, failed or dead", f.status)}
		}
		q.Set("status", f.status)
	}
	for _, tf := range []struct{ name, value string }{{"since", f.since}, {"until", f.until}} {
		if tf.value == "" {
			continue
		}
		t, err := parseTimeFlag(tf.value, now)
		if err != nil {
			return nil, &usageError{fmt.Sprintf("--%s %q: %v", tf.name, tf.value, err)}
		}
		q.Set(tf.name, t.UTC().Format(time.RFC3339Nano))
	}
	return q, nil
}

func jobsList(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("jobs list", "[flags]", stderr)
	var af adminFlags
	af.register(fs)
	var jf jobFilterFlags
	jf.register(fs, "only ")
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
		return &usageError{fmt.Sprintf("jobs list: unexpected argument %q", pos[0])}
	}
	if limit < 0 || limit > store.MaxLimit {
		return &usageError{fmt.Sprintf("jobs list: --limit %d: want 1 to %d", limit, store.MaxLimit)}
	}
	q, err := jf.query(time.Now())
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

	all := admin.JobListJSON{Jobs: []admin.JobJSON{}}
	for {
		if after != "" {
			q.Set("after", after)
		}
		var page admin.JobListJSON
		if err := c.get(ctx, "/api/jobs?"+q.Encode(), &page); err != nil {
			return err
		}
		all.Jobs = append(all.Jobs, page.Jobs...)
		all.Next = page.Next
		if !allPages || page.Next == "" {
			break
		}
		if page.Next == after {
			return fmt.Errorf("jobs list: the admin API returned the same cursor %q twice", after)
		}
		after = page.Next
	}
	if asJSON {
		return writeIndented(stdout, all)
	}
	if len(all.Jobs) == 0 {
		fmt.Fprintln(stdout, "no jobs")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tUPSTREAM\tSTATUS\tATTEMPTS\tCREATED\tREQUEST\tRESPONSE\tLAST ERROR")
	for _, j := range all.Jobs {
		resp := "-"
		if j.ResponseStatus != 0 {
			resp = strconv.Itoa(j.ResponseStatus)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", printable(j.ID, 40), j.Kind, orDash(printable(j.Upstream, 24)),
			j.Status, j.Attempts, formatTime(&j.CreatedAt), printable(jobRequestLine(j), 48), resp, printable(j.LastError, 60))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if all.Next != "" {
		fmt.Fprintf(stderr, "more jobs: add --after %s (or --all-pages)\n", all.Next)
	}
	return nil
}

// jobRequestLine is "METHOD /path?query" for a request job, "POST URL" for
// a callback.
func jobRequestLine(j admin.JobJSON) string {
	if j.Kind == store.JobCallback {
		return j.Method + " " + j.Path
	}
	return j.Method + " /" + strings.TrimPrefix(j.Path, "/")
}

func jobsShow(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("jobs show", "ID [flags]", stderr)
	var af adminFlags
	af.register(fs)
	asJSON := fs.Bool("json", false, "print the API's JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] == "" {
		return &usageError{"jobs show: give exactly one job id"}
	}
	c, err := af.client(getenv)
	if err != nil {
		return err
	}
	path := "/api/jobs/" + url.PathEscape(pos[0])
	if *asJSON {
		var raw json.RawMessage
		if err := c.get(ctx, path, &raw); err != nil {
			return err
		}
		return writeIndented(stdout, raw)
	}
	var j admin.JobDetailJSON
	if err := c.get(ctx, path, &j); err != nil {
		return err
	}
	return printJob(stdout, j)
}

func printJob(w io.Writer, j admin.JobDetailJSON) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	field := func(name, value string) { fmt.Fprintf(tw, "%s\t%s\n", name, value) }
	field("id", printable(j.ID, 0))
	field("kind", j.Kind)
	field("upstream", orDash(printable(j.Upstream, 0)))
	field("request", printable(jobRequestLine(j.JobJSON), 0))
	field("status", j.Status)
	field("attempts", strconv.Itoa(len(j.Attempts)))
	field("created_at", formatTime(&j.CreatedAt))
	field("next_at", formatTime(j.NextAt))
	field("finished_at", formatTime(j.FinishedAt))
	if j.Kind == store.JobCallback {
		field("job", orDash(printable(j.ParentID, 0)))
	} else {
		field("callback", orDash(printable(j.CallbackURL, 0)))
		field("idempotency_key", orDash(printable(j.IdempotencyKey, 0)))
	}
	field("last_error", orDash(printable(j.LastError, 0)))
	printHeaders(field, "header", j.Headers)
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w, "\nbody:")
	fmt.Fprintln(w, bodyText(j.Body, j.BodyBase64))

	if r := j.Response; r != nil {
		fmt.Fprintf(w, "\nresponse: %d\n", r.Status)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		printHeaders(func(name, value string) { fmt.Fprintf(tw, "  %s\t%s\n", name, value) }, "header", r.Headers)
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(w, bodyText(r.Body, r.BodyBase64))
	} else {
		fmt.Fprintln(w, "\nno response stored")
	}

	if len(j.Attempts) == 0 {
		fmt.Fprintln(w, "\nno attempts yet")
		return nil
	}
	fmt.Fprintln(w, "\nattempts:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  #\tSTARTED\tSTATUS\tDURATION\tCATEGORY\tERROR\tRESPONSE")
	for _, a := range j.Attempts {
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

// printHeaders prints h sorted by name, one line per value.
func printHeaders(field func(name, value string), label string, h map[string][]string) {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range h[k] {
			field(label, printable(k, 0)+": "+printable(v, 0))
		}
	}
}

func jobsReplay(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("jobs replay", "ID... | [--kind K] [--upstream U] [--status S] [--since T] [--until T] [--all]", stderr)
	var af adminFlags
	af.register(fs)
	var jf jobFilterFlags
	jf.register(fs, "bulk: ")
	var all bool
	fs.BoolVar(&all, "all", false, "bulk: replay every job the filters match, even with no filter")
	ids, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	bulk := jf.set() || all
	switch {
	case len(ids) > 0 && bulk:
		return &usageError{"jobs replay: give job ids or filters, not both"}
	case len(ids) == 0 && !bulk:
		return &usageError{"jobs replay: give job ids, or filters (--kind, --upstream, --status, --since, --until), or --all"}
	}
	c, err := af.client(getenv)
	if err != nil {
		return err
	}

	if bulk {
		q, err := jf.query(time.Now())
		if err != nil {
			return err
		}
		body := admin.JobReplayFilterJSON{Kind: q.Get("kind"), Upstream: q.Get("upstream"), Status: q.Get("status"),
			Since: q.Get("since"), Until: q.Get("until"), All: all}
		var out struct {
			Replayed int `json:"replayed"`
		}
		if err := c.post(ctx, "/api/jobs/replay", body, &out); err != nil {
			return err
		}
		var filter []string
		for _, k := range []string{"kind", "upstream", "status", "since", "until"} {
			if v := q.Get(k); v != "" {
				filter = append(filter, k+"="+v)
			}
		}
		if len(filter) == 0 {
			filter = append(filter, "all jobs")
		}
		noun := "jobs"
		if out.Replayed == 1 {
			noun = "job"
		}
		fmt.Fprintf(stdout, "replayed %d %s (%s)\n", out.Replayed, noun, printable(strings.Join(filter, " "), 0))
		return nil
	}

	failed := 0
	for _, id := range ids {
		var out struct{ ID, Status string }
		err := c.post(ctx, "/api/jobs/"+url.PathEscape(id)+"/replay", nil, &out)
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
