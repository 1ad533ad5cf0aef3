// Package console is the admin web console served by `serve` at /console/:
// static files embedded in the binary (Assets), the same for everyone and
// holding nothing per user, which talk to the admin API only.
package console

import (
	"embed"
	"io/fs"
)

//go:embed assets
var assets embed.FS

// Assets are the console's static files, index.html at the root.
var Assets fs.FS = mustSub(assets, "assets")

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // the directory is embedded: it exists
	}
	return sub
}
