package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// This file holds the checks the event and job cases share.

// idsOf lists the IDs of xs in order.
func idsOf[T any](xs []T, id func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = id(x)
	}
	return out
}

// wantIDsOf fails unless got holds exactly want, in order.
func wantIDsOf[T any](t *testing.T, what string, got []T, id func(T) string, want ...string) {
	t.Helper()
	if g := idsOf(got, id); strings.Join(g, ",") != strings.Join(want, ",") {
		t.Fatalf("%s: got %v, want %v", what, g, want)
	}
}

// pageAll follows list's cursors from the first page to the last and
// returns the IDs it saw in order. list reads the page after a cursor ("" for
// the first); filter shows the filter in use for messages. Every page must
// hold at most limit rows, none with a body, and there must be a last page.
func pageAll[T any](t *testing.T, op, noun string, limit int, filter func() any,
	list func(after string) ([]T, string, error), id func(T) string, body func(T) []byte) []string {
	t.Helper()
	var got []string
	after := ""
	for pages := 0; ; pages++ {
		if pages > 30 {
			t.Fatalf("filter %+v: pagination does not end", filter())
		}
		xs, next, err := list(after)
		if err != nil {
			t.Fatalf("%s(%+v): %v", op, filter(), err)
		}
		if len(xs) > limit {
			t.Fatalf("page of %d %s, limit %d", len(xs), noun, limit)
		}
		for _, x := range xs {
			if body(x) != nil {
				t.Fatalf("%s returned a body", op)
			}
			got = append(got, id(x))
		}
		if next == "" {
			return got
		}
		after = next
	}
}

// claimConcurrently has claimers workers each claim batches of 7 and
// finish every item, until nothing is left to claim; an item claimed by
// two workers fails the test. It returns how many distinct items were
// claimed. noun, claimOp and finishOp name what is claimed in messages.
func claimConcurrently(t *testing.T, claimers int, noun, claimOp, finishOp string,
	claim func(ctx context.Context, owner string) ([]string, error), finish func(ctx context.Context, id, owner string) error) int {
	t.Helper()
	var mu sync.Mutex
	owner := map[string]string{}
	var wg sync.WaitGroup
	for c := range claimers {
		name := fmt.Sprintf("worker-%d", c)
		wg.Go(func() {
			for {
				ids, err := claim(context.Background(), name)
				if err != nil {
					t.Errorf("%s: %v", claimOp, err)
					return
				}
				if len(ids) == 0 {
					return
				}
				for _, id := range ids {
					mu.Lock()
					prev, dup := owner[id]
					owner[id] = name
					mu.Unlock()
					if dup {
						t.Errorf("%s %s claimed by %s and %s", noun, id, prev, name)
					}
					if err := finish(context.Background(), id, name); err != nil {
						t.Errorf("%s: %v", finishOp, err)
					}
				}
			}
		})
	}
	wg.Wait()
	return len(owner)
}
