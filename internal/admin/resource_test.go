package admin_test

import (
	"net/http"
	"testing"
)

// request is one call of an admin endpoint.
type request struct{ method, path, body string }

// endpoints are the four endpoints of the resource under /api/{plural},
// for the record id; the bulk replay replays everything.
func endpoints(plural, id string) []request {
	base := "/api/" + plural
	return []request{
		{http.MethodGet, base, ""},
		{http.MethodGet, base + "/" + id, ""},
		{http.MethodPost, base + "/" + id + "/replay", ""},
		{http.MethodPost, base + "/replay", `{"all":true}`},
	}
}

// testToken checks that every endpoint of plural at url wants the bearer
// token s3cret.
func testToken(t *testing.T, url, plural, id string) {
	t.Helper()
	for _, tc := range endpoints(plural, id) {
		for _, tok := range []string{"", "wrong"} {
			resp, b := do(t, tc.method, url+tc.path, tok, tc.body)
			wantProblem(t, resp, b, http.StatusUnauthorized, "token")
		}
		resp, b := do(t, tc.method, url+tc.path, "s3cret", tc.body)
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s with the token: %d %s", tc.method, tc.path, resp.StatusCode, b)
		}
	}
}

// testStoreDown checks that every endpoint of plural at url answers 503
// when the store is closed.
func testStoreDown(t *testing.T, url, plural, id string) {
	t.Helper()
	for _, tc := range endpoints(plural, id) {
		resp, b := do(t, tc.method, url+tc.path, "", tc.body)
		wantProblem(t, resp, b, http.StatusServiceUnavailable, "closed")
	}
}
