// Package migrate reads a backend's versioned SQL migrations from an fs.FS.
// It only parses and orders them: applying them is each backend's job,
// because how a step is made atomic and exclusive differs per database.
package migrate

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migration is one schema step. Version is the number the file name starts
// with; it is what schema_migrations records.
type Migration struct {
	Version int64
	Name    string
	SQL     string
}

// Load returns the migrations in dir of fsys, ascending by version. File
// names look like 0001_init.sql. A missing, malformed or repeated version is
// an error, because silently skipping a file would leave a schema that
// differs between installs.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("migrate: read %s: %w", dir, err)
	}
	var out []Migration
	seen := make(map[int64]string)
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		if !ok {
			return nil, fmt.Errorf("migrate: %s: name must be <version>_<title>.sql", name)
		}
		v, err := strconv.ParseInt(num, 10, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migrate: %s: version %q is not a positive integer", name, num)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrate: %s and %s share version %d", prev, name, v)
		}
		seen[v] = name
		b, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("migrate: read %s: %w", name, err)
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(b)})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("migrate: no migrations in %s", dir)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}
