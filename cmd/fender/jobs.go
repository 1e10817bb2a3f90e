package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

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
	return jobsResource.cmd(ctx, args, getenv, stdout, stderr)
}

// jobsResource is what `fender jobs` lists, shows and replays.
var jobsResource = &resource[admin.JobJSON, admin.JobListJSON, admin.JobDetailJSON]{
	name:   "job",
	plural: "jobs",
	usage:  jobsUsage,
	filters: []filterFlag{
		{name: "kind", metavar: "K", help: "jobs of this kind (request or callback)",
			valid: store.ValidJobKind, want: "want request or callback"},
		{name: "upstream", metavar: "U", help: "jobs of this upstream"},
		{name: "status", metavar: "S", help: "jobs in this status",
			valid: store.ValidJobStatus, want: "want pending, succeeded, failed or dead"},
		{name: "since", metavar: "T", help: "jobs created at or after this time", isTime: true},
		{name: "until", metavar: "T", help: "jobs created before this time", isTime: true},
	},
	page:   func(l *admin.JobListJSON) (*[]admin.JobJSON, *string) { return &l.Jobs, &l.Next },
	header: "ID\tKIND\tUPSTREAM\tSTATUS\tATTEMPTS\tCREATED\tREQUEST\tRESPONSE\tLAST ERROR",
	row: func(w io.Writer, j admin.JobJSON) {
		resp := "-"
		if j.ResponseStatus != 0 {
			resp = strconv.Itoa(j.ResponseStatus)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", printable(j.ID, 40), j.Kind, orDash(printable(j.Upstream, 24)),
			j.Status, j.Attempts, formatTime(&j.CreatedAt), printable(jobRequestLine(j), 48), resp, printable(j.LastError, 60))
	},
	print: printJob,
	bulkBody: func(q url.Values, all bool) any {
		return admin.JobReplayFilterJSON{Kind: q.Get("kind"), Upstream: q.Get("upstream"), Status: q.Get("status"),
			Since: q.Get("since"), Until: q.Get("until"), All: all}
	},
}

// jobRequestLine is "METHOD /path?query" for a request job, "POST URL" for
// a callback.
func jobRequestLine(j admin.JobJSON) string {
	if j.Kind == store.JobCallback {
		return j.Method + " " + j.Path
	}
	return j.Method + " /" + strings.TrimPrefix(j.Path, "/")
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

	return printAttempts(w, j.Attempts, "no attempts yet")
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
