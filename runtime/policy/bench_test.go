package policy

import (
	"context"
	"crypto"
	"testing"
)

// BenchmarkVerify measures a full offline verification (signature and SBOM
// attestation) as a node does before a switch.
func BenchmarkVerify(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			f := be.new(b)
			k := newKey(b)
			tg, d := resolved(b, f.refA)
			k.sign(b, tg, d, d)
			k.attest(b, tg, d, PredicateSPDX)
			p := &Policy{Keys: []crypto.PublicKey{k.pub}, RequireSBOM: true}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Verify(context.Background(), f.refA, f.digestA); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzAttachments feeds hostile registry content to every decoder of
// signature and attestation payloads: none may panic.
func FuzzAttachments(f *testing.F) {
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"eyJwcmVkaWNhdGVUeXBlIjoieCIsInN1YmplY3QiOlt7ImRpZ2VzdCI6eyJzaGEyNTYiOiIwMCJ9fV19","signatures":[{"sig":"AA=="}]}`))
	f.Add([]byte(`{"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"sha256:00"},"type":"cosign container image signature"}}`))
	f.Add([]byte(`{"predicateType":"x","subject":[{"digest":{"sha256":"00"}}]}`))
	k := newKey(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = verifyEnvelope(k.pub, b)
		_, _ = decodeSimpleSigning(b)
		if st, err := decodeStatement(b); err == nil {
			_ = st.about("sha256:00")
		}
	})
}
