package trust

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func pemOf(t testing.TB, typ string, der []byte) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func pkix(t testing.TB, k crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf(t, "PUBLIC KEY", der)
}

func pkcs8(t testing.TB, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf(t, "PRIVATE KEY", der)
}

type keys struct {
	ec      *ecdsa.PrivateKey
	ed      ed25519.PrivateKey
	rsa     *rsa.PrivateKey
	rsa1024 *rsa.PrivateKey
}

func newKeys(t testing.TB) keys {
	t.Helper()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	r, _ := rsa.GenerateKey(rand.Reader, 2048)
	r1, _ := rsa.GenerateKey(rand.Reader, 1024)
	return keys{ec, ed, r, r1}
}

// tree lists the files under dir (with modes), for before/after checks.
func tree(t testing.TB, dir string) string {
	t.Helper()
	var b strings.Builder
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, _ := d.Info()
		c, _ := os.ReadFile(p)
		b.WriteString(p + " " + fi.Mode().String() + " " + string(c) + "\n")
		return nil
	})
	return b.String()
}

func TestAdd(t *testing.T) {
	k := newKeys(t)
	ecPEC, _ := x509.MarshalECPrivateKey(k.ec)
	cases := []struct {
		name    string
		in      []byte
		algs    []string
		wantErr error
		wantMsg string
	}{
		{name: "ecdsa cosign .pub", in: pkix(t, k.ec.Public()), algs: []string{"ecdsa-p256"}},
		{name: "ed25519", in: pkix(t, k.ed.Public()), algs: []string{"ed25519"}},
		{name: "rsa pkix", in: pkix(t, k.rsa.Public()), algs: []string{"rsa-2048"}},
		{name: "rsa pkcs1", in: pemOf(t, "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)), algs: []string{"rsa-2048"}},
		{name: "two keys in one file", in: append(pkix(t, k.ec.Public()), pkix(t, k.ed.Public())...), algs: []string{"ecdsa-p256", "ed25519"}},
		{name: "pkcs8 private key", in: pkcs8(t, k.ec), wantErr: ErrPrivateKey, wantMsg: "this is a private key: a node needs only the public key"},
		{name: "ec private key", in: pemOf(t, "EC PRIVATE KEY", ecPEC), wantErr: ErrPrivateKey},
		{name: "cosign encrypted private key", in: pemOf(t, "ENCRYPTED SIGSTORE PRIVATE KEY", []byte(`{"kdf":{}}`)), wantErr: ErrPrivateKey},
		{name: "old cosign encrypted private key", in: pemOf(t, "ENCRYPTED COSIGN PRIVATE KEY", []byte(`{}`)), wantErr: ErrPrivateKey},
		{name: "public then private", in: append(pkix(t, k.ec.Public()), pkcs8(t, k.ed)...), wantErr: ErrPrivateKey},
		{name: "private marker in garbage", in: []byte("junk -----BEGIN OPENSSH PRIVATE KEY-----\nabc"), wantErr: ErrPrivateKey},
		{name: "small rsa", in: pkix(t, k.rsa1024.Public()), wantErr: ErrNotKey, wantMsg: "RSA key of 1024 bits, want at least 2048"},
		{name: "certificate", in: pemOf(t, "CERTIFICATE", []byte{1}), wantErr: ErrNotKey, wantMsg: `PEM block 1 ("CERTIFICATE"): want a PUBLIC KEY block`},
		{name: "bad der", in: pemOf(t, "PUBLIC KEY", []byte{1, 2, 3}), wantErr: ErrNotKey},
		{name: "empty", in: nil, wantErr: ErrNotKey, wantMsg: "no PEM block found"},
		{name: "text", in: []byte("hello"), wantErr: ErrNotKey},
		{name: "trailing junk", in: append(pkix(t, k.ec.Public()), "junk"...), wantErr: ErrNotKey, wantMsg: "non-PEM data"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			before := tree(t, root)
			got, err := Add(root, "k.pub", tc.in)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantMsg) || !strings.Contains(err.Error(), "k.pub") {
					t.Fatalf("Add = %v, want %v containing %q and the source name", err, tc.wantErr, tc.wantMsg)
				}
				if after := tree(t, root); after != before {
					t.Fatalf("a refused key changed the root:\n%s\nwas:\n%s", after, before)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.algs) {
				t.Fatalf("added %d keys, want %d", len(got), len(tc.algs))
			}
			for i, k := range got {
				if k.Algorithm != tc.algs[i] {
					t.Errorf("key %d algorithm %s, want %s", i, k.Algorithm, tc.algs[i])
				}
				fi, err := os.Stat(k.Path)
				if err != nil || fi.Mode().Perm() != 0o644 {
					t.Errorf("%s: %v mode %v, want 0644", k.Path, err, fi.Mode())
				}
			}
			if fi, err := os.Stat(Dir(root)); err != nil || fi.Mode().Perm() != 0o700 {
				t.Errorf("keys dir mode %v, want 0700", fi.Mode())
			}
			list, err := List(root)
			if err != nil || len(list) != len(tc.algs) {
				t.Fatalf("List = %v, %v", list, err)
			}
			// Adding again changes nothing.
			before = tree(t, root)
			if _, err := Add(root, "k.pub", tc.in); err != nil {
				t.Fatal(err)
			}
			if tree(t, root) != before {
				t.Error("adding a trusted key again changed the store")
			}
		})
	}
}

func TestRemove(t *testing.T) {
	k := newKeys(t)
	root := t.TempDir()
	ecFile := filepath.Join(t.TempDir(), "ec.pub")
	if err := os.WriteFile(ecFile, pkix(t, k.ec.Public()), 0o644); err != nil {
		t.Fatal(err)
	}
	edID := KeyID(k.ed.Public())
	for _, b := range [][]byte{pkix(t, k.ec.Public()), pkix(t, k.ed.Public()), pkix(t, k.rsa.Public())} {
		if _, err := Add(root, "x", b); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name, arg string
		wantID    string
		wantErr   string
	}{
		{name: "by file", arg: ecFile, wantID: KeyID(k.ec.Public())},
		{name: "by prefix", arg: edID[:len("sha256:")+10], wantID: edID},
		{name: "again", arg: edID, wantErr: "no such trusted key"},
		{name: "too short", arg: "abc", wantErr: "neither a key file nor a key ID"},
		{name: "full id", arg: KeyID(k.rsa.Public()), wantID: KeyID(k.rsa.Public())},
	}
	for _, tc := range cases {
		got, err := Remove(root, tc.arg)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: Remove = %v, want %q", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil || len(got) != 1 || got[0].ID != tc.wantID {
			t.Errorf("%s: Remove = %v, %v, want %s", tc.name, got, err, tc.wantID)
		}
	}
	if list, err := List(root); err != nil || len(list) != 0 {
		t.Fatalf("after removing all: %v, %v", list, err)
	}
}

func TestListNamesBadFile(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(Dir(root), 0o700); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(Dir(root), "bad.pub")
	if err := os.WriteFile(bad, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(root); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("Load = %v, want an error naming %s", err, bad)
	}
}

func FuzzParse(f *testing.F) {
	k := newKeys(f)
	f.Add(pkix(f, k.ec.Public()))
	f.Add(pkix(f, k.ed.Public()))
	f.Add(pkcs8(f, k.ec))
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, err := Parse(b)
		if err == nil && len(keys) == 0 {
			t.Fatal("no error and no key")
		}
		if err == nil && strings.Contains(string(b), "PRIVATE KEY-----") {
			t.Fatal("accepted input holding a private key")
		}
	})
}

// TestRemoveKeyKeptTwice: a key kept in two files (an older node's
// InstallKey name and Add's) is gone after one Remove.
func TestRemoveKeyKeptTwice(t *testing.T) {
	k := newKeys(t)
	root := t.TempDir()
	got, err := Add(root, "k.pub", pkix(t, k.ec.Public()))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(Dir(root), "0123abcd.pub"), pkix(t, k.ec.Public()), 0o644); err != nil {
		t.Fatal(err)
	}
	if l, _ := List(root); len(l) != 1 {
		t.Fatalf("List = %v, want the key once", l)
	}
	removed, err := Remove(root, got[0].ID)
	if err != nil || len(removed) != 1 {
		t.Fatalf("Remove = %v, %v", removed, err)
	}
	if keys, err := Load(root); err != nil || len(keys) != 0 {
		t.Fatalf("after Remove: %d keys, %v", len(keys), err)
	}
}
