package httpapi

import (
	"testing"
	"testing/fstest"
)

// TestConsoleContentTypes: every kind of file the console ships gets its
// type, any other application/octet-stream; a tree without index.html is
// refused.
func TestConsoleContentTypes(t *testing.T) {
	fsys := fstest.MapFS{}
	want := map[string]string{
		"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
		"css/app.CSS": "text/css; charset=utf-8", "logo.svg": "image/svg+xml", "blob.bin": "application/octet-stream",
		"noext": "application/octet-stream",
	}
	for name := range want {
		fsys[name] = &fstest.MapFile{Data: []byte(name)}
	}
	c, err := NewConsole(fsys)
	if err != nil {
		t.Fatal(err)
	}
	for name, ct := range want {
		if f := c.files[name]; f == nil || f.contentType != ct || len(f.etag) != 34 {
			t.Errorf("%s: %+v, want Content-Type %q and an ETag", name, f, ct)
		}
	}
	if _, err := NewConsole(fstest.MapFS{"app.js": {}}); err == nil {
		t.Error("files without index.html were accepted")
	}
}
