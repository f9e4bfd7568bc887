package migrate

import (
	"testing"
	"testing/fstest"
)

func TestLoadOrdersByVersion(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0010_later.sql": {Data: []byte("B")},
		"m/0002_next.sql":  {Data: []byte("A")},
		"m/README.md":      {Data: []byte("ignored")},
	}
	got, err := Load(fsys, "m")
	if err != nil {
		t.Fatalf("Load: got error %v, want nil", err)
	}
	if len(got) != 2 || got[0].Version != 2 || got[1].Version != 10 || got[0].SQL != "A" {
		t.Fatalf("Load: got %+v, want versions 2 then 10", got)
	}
}

func TestLoadRejectsBadSets(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"no version":    {"m/init.sql": {}},
		"bad version":   {"m/x1_init.sql": {}},
		"zero version":  {"m/0000_init.sql": {}},
		"duplicate":     {"m/0001_a.sql": {}, "m/1_b.sql": {}},
		"no migrations": {"m/README.md": {}},
	} {
		if _, err := Load(fsys, "m"); err == nil {
			t.Errorf("Load(%s): got nil error, want an error", name)
		}
	}
}
