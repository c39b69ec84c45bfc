package source

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/un-distro/undistro/internal/atomicfile"
)

// debSrcList derives a one-line-format sources.list of deb-src entries
// from the deb entries of an apt configuration directory (etc is
// normally /etc/apt): sources.list and sources.list.d/*.list (one-line
// format) and sources.list.d/*.sources (deb822). URIs, suites, components
// and signed-by are kept. Inline Signed-By keys are written under keyDir.
func debSrcList(etc, keyDir string) ([]byte, error) {
	var lines []string
	seen := map[string]bool{}
	add := func(l string) {
		if !seen[l] {
			seen[l] = true
			lines = append(lines, l)
		}
	}
	oneLine := []string{filepath.Join(etc, "sources.list")}
	more, _ := filepath.Glob(filepath.Join(etc, "sources.list.d", "*.list"))
	oneLine = append(oneLine, more...)
	for _, f := range oneLine {
		data, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading apt sources: %w", err)
		}
		for _, l := range parseOneLine(data) {
			add(l)
		}
	}
	deb822, _ := filepath.Glob(filepath.Join(etc, "sources.list.d", "*.sources"))
	for _, f := range deb822 {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading apt sources: %w", err)
		}
		ls, err := parseDeb822(data, filepath.Join(keyDir, strings.TrimSuffix(filepath.Base(f), ".sources")))
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", f, err)
		}
		for _, l := range ls {
			add(l)
		}
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("no deb entries in %s/sources.list or %s/sources.list.d; configure apt first", etc, etc)
	}
	return []byte(strings.Join(lines, "\n") + "\n"), nil
}

// parseOneLine turns "deb [opts] URI SUITE COMP..." lines into deb-src lines.
func parseOneLine(data []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		l, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(l)
		if len(f) < 3 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		var opts []string
		if strings.HasPrefix(f[0], "[") {
			// Options run up to the field ending in "]".
			var raw []string
			for len(f) > 0 {
				raw = append(raw, f[0])
				done := strings.HasSuffix(f[0], "]")
				f = f[1:]
				if done {
					break
				}
			}
			joined := strings.Trim(strings.Join(raw, " "), "[] ")
			for _, o := range strings.Fields(joined) {
				if k, _, _ := strings.Cut(o, "="); k == "signed-by" || k == "trusted" {
					opts = append(opts, o)
				}
			}
		}
		if len(f) < 2 {
			continue
		}
		out = append(out, srcLine(opts, f[0], f[1], f[2:]))
	}
	return out
}

func srcLine(opts []string, uri, suite string, comps []string) string {
	var b strings.Builder
	b.WriteString("deb-src ")
	if len(opts) > 0 {
		b.WriteString("[" + strings.Join(opts, " ") + "] ")
	}
	b.WriteString(uri + " " + suite)
	for _, c := range comps {
		b.WriteString(" " + c)
	}
	return b.String()
}

// parseDeb822 turns the deb stanzas of a .sources file into deb-src lines.
// An inline Signed-By key is written to keyPrefix-N.asc.
func parseDeb822(data []byte, keyPrefix string) ([]string, error) {
	var out []string
	for n, st := range deb822Stanzas(data) {
		if !hasField(st["types"], "deb") || strings.EqualFold(strings.TrimSpace(st["enabled"]), "no") {
			continue
		}
		var opts []string
		if sb := strings.TrimSpace(st["signed-by"]); sb != "" {
			if strings.Contains(sb, "BEGIN PGP PUBLIC KEY BLOCK") {
				key := fmt.Sprintf("%s-%d.asc", keyPrefix, n)
				if err := os.MkdirAll(filepath.Dir(key), 0o755); err != nil {
					return nil, err
				}
				if err := atomicfile.WriteFile(key, []byte(sb+"\n"), 0o600); err != nil {
					return nil, err
				}
				sb = key
			}
			opts = append(opts, "signed-by="+strings.Join(strings.Fields(sb), ","))
		}
		if t := strings.TrimSpace(st["trusted"]); t != "" {
			opts = append(opts, "trusted="+t)
		}
		comps := strings.Fields(st["components"])
		for _, uri := range strings.Fields(st["uris"]) {
			for _, suite := range strings.Fields(st["suites"]) {
				out = append(out, srcLine(opts, uri, suite, comps))
			}
		}
	}
	return out, nil
}

// deb822Stanzas splits deb822 text into stanzas of lower-cased field
// names; continuation lines are joined with newlines ("." lines empty).
func deb822Stanzas(data []byte) []map[string]string {
	var out []map[string]string
	cur := map[string]string{}
	last := ""
	flush := func() {
		if len(cur) > 0 {
			out = append(out, cur)
		}
		cur, last = map[string]string{}, ""
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.TrimSpace(l) == "":
			flush()
		case strings.HasPrefix(l, "#"):
		case l[0] == ' ' || l[0] == '\t':
			if last != "" {
				c := strings.TrimSpace(l)
				if c == "." {
					c = ""
				}
				cur[last] += "\n" + c
			}
		default:
			k, v, ok := strings.Cut(l, ":")
			if !ok {
				continue
			}
			last = strings.ToLower(strings.TrimSpace(k))
			cur[last] = strings.TrimSpace(v)
		}
	}
	flush()
	return out
}

func hasField(list, want string) bool {
	for _, f := range strings.Fields(list) {
		if f == want {
			return true
		}
	}
	return false
}
