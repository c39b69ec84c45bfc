package sign

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sigstore/cosign/v2/pkg/cosign"
)

func TestGenerateKey(t *testing.T) {
	cases := []struct {
		name    string
		prepare func(prefix string) // runs before GenerateKey
		pass    PassFunc
		wantErr string
		is      error
	}{
		{name: "fresh prefix", pass: password},
		{name: "key exists", prepare: func(p string) { os.WriteFile(p+".key", []byte("x"), 0o600) },
			pass: password, wantErr: ".key: key file already exists (remove it or choose another --out)", is: ErrKeyExists},
		{name: "pub exists", prepare: func(p string) { os.WriteFile(p+".pub", []byte("x"), 0o600) },
			pass: password, wantErr: ".pub: key file already exists", is: ErrKeyExists},
		{name: "password fails", pass: func() ([]byte, error) { return nil, errors.New("no terminal") },
			wantErr: "generating key: no terminal"},
		{name: "missing directory", prepare: func(p string) { os.RemoveAll(filepath.Dir(p)) },
			pass: password, wantErr: "no such file or directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prefix := filepath.Join(t.TempDir(), "k")
			if tc.prepare != nil {
				tc.prepare(prefix)
			}
			err := GenerateKey(context.Background(), prefix, tc.pass)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("GenerateKey error = %v, want %q", err, tc.wantErr)
				}
				if tc.is != nil && !errors.Is(err, tc.is) {
					t.Fatalf("error %v is not %v", err, tc.is)
				}
				// An existing file is left untouched.
				for _, ext := range []string{".key", ".pub"} {
					if b, err := os.ReadFile(prefix + ext); err == nil && string(b) != "x" {
						t.Errorf("%s was overwritten", ext)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(prefix + ".key")
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("key mode = %v, want 0600", fi.Mode().Perm())
			}
			key, _ := os.ReadFile(prefix + ".key")
			if !strings.HasPrefix(string(key), "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----") {
				t.Errorf("key is not a cosign encrypted key:\n%s", key)
			}
			if _, err := cosign.LoadPrivateKey(key, []byte(testPassword), nil); err != nil {
				t.Errorf("cosign cannot load the key: %v", err)
			}
			if _, err := cosign.LoadPrivateKey(key, []byte("wrong"), nil); err == nil {
				t.Error("key decrypts with a wrong password")
			}
			pub, _ := os.ReadFile(prefix + ".pub")
			if !strings.HasPrefix(string(pub), "-----BEGIN PUBLIC KEY-----") {
				t.Errorf("pub is not a PEM public key:\n%s", pub)
			}
			matches, _ := filepath.Glob(filepath.Join(filepath.Dir(prefix), ".tmp-*"))
			if len(matches) != 0 {
				t.Errorf("temp files left: %v", matches)
			}
		})
	}
}
