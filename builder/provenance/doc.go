// Package provenance writes the SLSA provenance v1 of an undistro image as
// an in-toto Statement v1: which roles were built from which commit of which
// repository (externalParameters), from which recipes and sources, each with
// its digest (resolvedDependencies), by which builder and version
// (runDetails.builder). sign.Attest signs it as a cosign attestation of
// predicate type https://slsa.dev/provenance/v1.
//
// The statement is deterministic for the same inputs: dependencies are
// sorted, and timestamps appear only when the caller sets them.
package provenance
