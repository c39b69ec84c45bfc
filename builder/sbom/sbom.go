package sbom

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/un-distro/undistro/runtime/imagespec"
)

// Version and data license of the documents Generate writes.
const (
	SPDXVersion = "SPDX-2.3"
	DataLicense = "CC0-1.0"
	DocumentID  = "SPDXRef-DOCUMENT"
	// ImageID is the SPDXID of the package describing the image itself.
	ImageID = "SPDXRef-Image"
	// NamespacePrefix starts every documentNamespace Generate writes.
	NamespacePrefix = "https://github.com/un-distro/undistro/spdx/"
	noAssertion     = "NOASSERTION"
)

// Creator is the creationInfo creator. The CLI sets the version at start.
var Creator = "Tool: undistro"

// Author is the author of the SBOM data (a creator, as NTIA asks) and the
// supplier of the image package: undistro, which ships the recipes and
// roles the image is built from.
var Author = "Organization: undistro"

// Document is an SPDX 2.3 document (the subset undistro writes).
type Document struct {
	SPDXVersion       string         `json:"spdxVersion"`
	DataLicense       string         `json:"dataLicense"`
	SPDXID            string         `json:"SPDXID"`
	Name              string         `json:"name"`
	DocumentNamespace string         `json:"documentNamespace"`
	CreationInfo      CreationInfo   `json:"creationInfo"`
	Packages          []Package      `json:"packages"`
	Relationships     []Relationship `json:"relationships"`
}

// CreationInfo says who made the document and when.
type CreationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

// Package is an SPDX package.
type Package struct {
	SPDXID                string        `json:"SPDXID"`
	Name                  string        `json:"name"`
	VersionInfo           string        `json:"versionInfo,omitempty"`
	Supplier              string        `json:"supplier,omitempty"`
	DownloadLocation      string        `json:"downloadLocation"`
	FilesAnalyzed         bool          `json:"filesAnalyzed"`
	Checksums             []Checksum    `json:"checksums,omitempty"`
	LicenseConcluded      string        `json:"licenseConcluded"`
	LicenseDeclared       string        `json:"licenseDeclared"`
	CopyrightText         string        `json:"copyrightText"`
	SourceInfo            string        `json:"sourceInfo,omitempty"`
	PrimaryPackagePurpose string        `json:"primaryPackagePurpose,omitempty"`
	ExternalRefs          []ExternalRef `json:"externalRefs,omitempty"`
	Comment               string        `json:"comment,omitempty"`
}

// Checksum is an SPDX checksum.
type Checksum struct {
	Algorithm     string `json:"algorithm"`
	ChecksumValue string `json:"checksumValue"`
}

// ExternalRef is an SPDX external reference.
type ExternalRef struct {
	ReferenceCategory string `json:"referenceCategory"`
	ReferenceType     string `json:"referenceType"`
	ReferenceLocator  string `json:"referenceLocator"`
}

// Relationship is an SPDX relationship.
type Relationship struct {
	SPDXElementID      string `json:"spdxElementId"`
	RelationshipType   string `json:"relationshipType"`
	RelatedSPDXElement string `json:"relatedSpdxElement"`
}

var (
	sha256RE  = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
	idCharRE  = regexp.MustCompile(`[^A-Za-z0-9.-]+`)
	licenseRE = regexp.MustCompile(`^[A-Za-z0-9.+:() -]+$`)
)

// Generate returns the SPDX 2.3 JSON SBOM of img, the image at imageRef
// (a registry reference or OCI layout reference, or "") whose manifest
// digest is imageDigest. created is the build's SOURCE_DATE_EPOCH.
//
// The document depends on the image and the registry it is pushed to, never
// on where it was built: an OCI layout reference ("oci:PATH:ROLE") is a
// local path and is left out, so the same image built into two directories
// gets the same bytes. Every package has a supplier (the recipe's, see
// recipe.SupplierOf; the image's is Author), and the document meets the
// NTIA minimum elements ([Validate] checks them).
func Generate(img *imagespec.Image, imageRef, imageDigest string, created time.Time) ([]byte, error) {
	if img == nil {
		return nil, errors.New("generating SBOM: no image metadata")
	}
	if !sha256RE.MatchString(imageDigest) {
		return nil, fmt.Errorf("generating SBOM for %s: image digest %q is not sha256:<64 hex>", img.Role, imageDigest)
	}
	hex := strings.TrimPrefix(imageDigest, "sha256:")
	name := img.Role
	if name == "" {
		name = "image"
	}
	doc := Document{
		SPDXVersion:       SPDXVersion,
		DataLicense:       DataLicense,
		SPDXID:            DocumentID,
		Name:              "undistro-" + name,
		DocumentNamespace: NamespacePrefix + url.PathEscape(name) + "/sha256-" + hex,
		CreationInfo: CreationInfo{
			Created:  created.UTC().Truncate(time.Second).Format(time.RFC3339),
			Creators: []string{Author, Creator},
		},
	}
	imagePkg := Package{
		SPDXID:                ImageID,
		Name:                  name,
		VersionInfo:           imageDigest,
		Supplier:              Author,
		DownloadLocation:      noAssertion,
		Checksums:             []Checksum{{Algorithm: "SHA256", ChecksumValue: hex}},
		LicenseConcluded:      noAssertion,
		LicenseDeclared:       noAssertion,
		CopyrightText:         noAssertion,
		PrimaryPackagePurpose: "CONTAINER",
		ExternalRefs:          []ExternalRef{{"PACKAGE-MANAGER", "purl", imagePURL(name, imageDigest, imageRef)}},
	}
	if imageRef != "" && !strings.HasPrefix(imageRef, "oci:") {
		imagePkg.SourceInfo = "undistro image " + imageRef
	}
	doc.Packages = append(doc.Packages, imagePkg)
	doc.Relationships = append(doc.Relationships, Relationship{DocumentID, "DESCRIBES", ImageID})

	pkgs := append([]imagespec.Package(nil), img.Packages...)
	sort.SliceStable(pkgs, func(i, j int) bool {
		if pkgs[i].Name != pkgs[j].Name {
			return pkgs[i].Name < pkgs[j].Name
		}
		return pkgs[i].Version < pkgs[j].Version
	})
	used := map[string]bool{DocumentID: true, ImageID: true}
	for _, p := range pkgs {
		if p.Name == "" {
			return nil, fmt.Errorf("generating SBOM for %s: a package has no name", name)
		}
		id := uniqueID("SPDXRef-Package-"+sanitize(p.Name)+"-"+sanitize(p.Version), used)
		doc.Packages = append(doc.Packages, packageOf(id, p))
		doc.Relationships = append(doc.Relationships, Relationship{ImageID, "CONTAINS", id})
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding SBOM: %w", err)
	}
	return append(b, '\n'), nil
}

func sanitize(s string) string {
	s = idCharRE.ReplaceAllString(s, "-")
	if s == "" {
		return "none"
	}
	return s
}

func uniqueID(id string, used map[string]bool) string {
	try := id
	for i := 2; used[try]; i++ {
		try = fmt.Sprintf("%s-%d", id, i)
	}
	used[try] = true
	return try
}

// packageOf maps an undistro package to SPDX.
func packageOf(id string, p imagespec.Package) Package {
	version := p.Version
	if p.Revision > 0 {
		version = fmt.Sprintf("%s_%d", p.Version, p.Revision)
	}
	sp := Package{
		SPDXID:           id,
		Name:             p.Name,
		VersionInfo:      version,
		Supplier:         p.Supplier,
		DownloadLocation: noAssertion,
		LicenseConcluded: noAssertion,
		LicenseDeclared:  license(p.License),
		CopyrightText:    noAssertion,
		SourceInfo:       "undistro recipe source " + p.Source,
	}
	if p.SourceSum != "" {
		sp.SourceInfo += " (" + p.SourceSum + ")"
	}
	if sp.Supplier == "" {
		sp.Supplier = noAssertion // Validate refuses it: the metadata predates suppliers
	}
	kind, loc, _ := strings.Cut(p.Source, ":")
	switch kind {
	case "url":
		if u, err := url.Parse(loc); err == nil && u.Scheme != "" && u.Scheme != "file" {
			sp.DownloadLocation = loc
			if sha256RE.MatchString(p.SourceSum) {
				sp.Checksums = []Checksum{{"SHA256", strings.TrimPrefix(p.SourceSum, "sha256:")}}
			}
		}
	case "git":
		if strings.Contains(loc, "://") {
			sp.DownloadLocation = "git+" + loc
		}
	case "gomod":
		sp.ExternalRefs = append(sp.ExternalRefs, ExternalRef{"PACKAGE-MANAGER", "purl", "pkg:golang/" + purlPath(loc)})
	case "deb", "debsrc":
		n, v, _ := strings.Cut(loc, "=")
		if v == "" {
			v = p.Version
		}
		ref := "pkg:deb/debian/" + url.PathEscape(n) + "@" + url.PathEscape(v)
		if kind == "debsrc" {
			ref += "?arch=source"
		}
		sp.ExternalRefs = append(sp.ExternalRefs, ExternalRef{"PACKAGE-MANAGER", "purl", ref})
	}
	if p.BuildKey != "" {
		sp.ExternalRefs = append(sp.ExternalRefs, ExternalRef{"OTHER", "undistro-build-key", p.BuildKey})
	}
	if p.DiffID != "" {
		sp.ExternalRefs = append(sp.ExternalRefs, ExternalRef{"OTHER", "oci-layer-diffid", p.DiffID})
	}
	if sp.LicenseDeclared == noAssertion && p.License != "" {
		sp.Comment = "license as the recipe states it: " + p.License
	}
	return sp
}

// purlPath turns module@version into a purl path (version separator kept).
func purlPath(modVersion string) string {
	m, v, _ := strings.Cut(modVersion, "@")
	parts := strings.Split(m, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	out := strings.Join(parts, "/")
	if v != "" {
		out += "@" + url.PathEscape(v)
	}
	return out
}

// license returns a recipe's license if it reads as an SPDX license
// expression, NOASSERTION otherwise.
func license(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || !licenseRE.MatchString(s) {
		return noAssertion
	}
	return s
}

func imagePURL(name, digest, ref string) string {
	p := "pkg:oci/" + url.PathEscape(name) + "@" + url.QueryEscape(digest)
	if ref != "" && !strings.HasPrefix(ref, "oci:") {
		repo := ref
		if i := strings.LastIndex(repo, "@"); i >= 0 {
			repo = repo[:i]
		}
		if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
			repo = repo[:i]
		}
		p += "?repository_url=" + url.QueryEscape(repo)
	}
	return p
}
