package proxy

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func backend(t *testing.T, name string) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, name) }))
	t.Cleanup(s.Close)
	return s
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestProxyBalancesAndFollowsTheFile(t *testing.T) {
	a, b, c := backend(t, "a"), backend(t, "b"), backend(t, "c")
	host := func(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }
	file := filepath.Join(t.TempDir(), "upstreams")
	write := func(lines ...string) {
		if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("# rendered from peers \"backends\"", host(a), "", host(b)+"  # web1")
	p, err := New(t.Context(), file)
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(p)
	defer front.Close()
	seen := func(n int) []string {
		var got []string
		for range n {
			code, body := get(t, front.URL)
			if code != http.StatusOK {
				t.Fatalf("status %d: %s", code, body)
			}
			if !slices.Contains(got, body) {
				got = append(got, body)
			}
		}
		slices.Sort(got)
		return got
	}
	if got := seen(6); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("served by %v, want a and b", got)
	}
	// An upstream that stops answering is skipped at once.
	b.Close()
	if got := seen(6); !slices.Equal(got, []string{"a"}) {
		t.Errorf("with b down served by %v, want a", got)
	}
	// A re-rendered file, reloaded, changes where traffic goes.
	write(host(c))
	if err := p.Load(); err != nil {
		t.Fatal(err)
	}
	if got := seen(4); !slices.Equal(got, []string{"c"}) {
		t.Errorf("after reload served by %v, want c", got)
	}
	// A malformed file keeps the old list and names the line.
	write(host(c), "not an address")
	if err := p.Load(); err == nil || !strings.Contains(err.Error(), "upstreams:2: upstream \"not an address\": want HOST:PORT") {
		t.Errorf("Load of a bad file: %v", err)
	}
	if got := p.Upstreams(); !slices.Equal(got, []string{host(c)}) {
		t.Errorf("after a bad file upstreams are %v", got)
	}
	// Nobody left: 502 naming why.
	write()
	if err := p.Load(); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, front.URL); code != http.StatusBadGateway || !strings.Contains(body, "no upstream") {
		t.Errorf("no upstreams: %d %q", code, body)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
		err      string
	}{
		{"empty", "", nil, ""},
		{"comments and blanks", "# x\n\n 10.0.0.1:80 # a\n[::1]:8080\n", []string{"10.0.0.1:80", "[::1]:8080"}, ""},
		{"no port", "10.0.0.1\n", nil, "f:1: upstream \"10.0.0.1\": want HOST:PORT"},
		{"url", "10.0.0.1:80\nhttp://x:80/\n", nil, "f:2:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parse("f", strings.NewReader(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("parse = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	if _, err := New(t.Context(), filepath.Join(t.TempDir(), "missing")); err != nil {
		t.Errorf("a missing file (not rendered yet) is an empty list, got %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("10.0.0.1:80\n# c\n")
	f.Add("[::1]:1\nx")
	f.Fuzz(func(t *testing.T, in string) {
		ups, err := parse("f", strings.NewReader(in))
		if err != nil {
			return
		}
		for _, u := range ups {
			if strings.ContainsAny(u, " \t\n#/") {
				t.Fatalf("accepted %q", u)
			}
		}
	})
}
