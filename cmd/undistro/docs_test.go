package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/cobra/doc"
)

var update = flag.Bool("update", false, "regenerate the checked-in CLI docs and completions")

// TestDocsUpToDate regenerates the CLI reference (docs/*.md) and the shell
// completions (completions/) and fails when the checked-in copies differ:
// run `go test ./cmd/undistro -run TestDocsUpToDate -update` after changing
// a command.
func TestDocsUpToDate(t *testing.T) {
	t.Setenv("UNDISTRO_ROOT", "") // flag defaults must not depend on this machine
	gen := t.TempDir()
	root := newRootCmd()
	root.DisableAutoGenTag = true
	if err := doc.GenMarkdownTree(root, filepath.Join(gen)); err != nil {
		t.Fatal(err)
	}
	var bash, zsh, fish bytes.Buffer
	if err := root.GenBashCompletionV2(&bash, true); err != nil {
		t.Fatal(err)
	}
	if err := root.GenZshCompletion(&zsh); err != nil {
		t.Fatal(err)
	}
	if err := root.GenFishCompletion(&fish, true); err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{
		"completions/undistro.bash": bash.Bytes(),
		"completions/_undistro":     zsh.Bytes(),
		"completions/undistro.fish": fish.Bytes(),
	}
	entries, err := os.ReadDir(gen)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(gen, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		want["docs/"+e.Name()] = b
	}
	if *update {
		for _, d := range []string{"docs", "completions"} {
			if err := os.RemoveAll(d); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for p, b := range want {
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	for p, b := range want {
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("%s is out of date (%v): run go test ./cmd/undistro -run TestDocsUpToDate -update", p, err)
		}
	}
	for _, d := range []string{"docs", "completions"} {
		have, _ := os.ReadDir(d)
		for _, e := range have {
			if _, ok := want[d+"/"+e.Name()]; !ok {
				t.Errorf("%s/%s documents a command that no longer exists: run with -update", d, e.Name())
			}
		}
	}
}
