package migrate

import (
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0002_b.sql": {Data: []byte("B")},
		"m/0001_a.sql": {Data: []byte("A")},
		"m/README":     {Data: []byte("x")},
	}
	ms, err := Load(fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Version != 1 || ms[1].SQL != "B" {
		t.Fatalf("got %+v", ms)
	}
	for name, f := range map[string]*fstest.MapFile{
		"m/x_a.sql":  {Data: nil},
		"m/0001.sql": {Data: nil},
	} {
		if _, err := Load(fstest.MapFS{name: f}, "m"); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := Load(fstest.MapFS{"m/1_a.sql": {}, "m/0001_b.sql": {}}, "m"); err == nil {
		t.Error("duplicate version: no error")
	}
}
