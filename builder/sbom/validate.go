package sbom

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// The rules below are the SPDX 2.3 JSON schema (spdx-schema.json of the
// SPDX 2.3 specification) written as Go: for each object its required and
// allowed properties (additionalProperties is false throughout), their
// types, patterns and enumerations. Validate adds the specification's rules
// that the schema cannot express (fixed values, unique SPDXIDs, relationship
// ends that exist).

type check func(path string, v any) []string

type object struct {
	required []string
	props    map[string]check
}

var (
	dateRE   = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T(([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]|23:59:60)Z$`)
	spdxIDRE = regexp.MustCompile(`^SPDXRef-[a-zA-Z0-9.-]+$`)
	hexRE    = regexp.MustCompile(`^[0-9a-fA-F]+$`)
)

func str(path string, v any) []string {
	if _, ok := v.(string); !ok {
		return []string{fmt.Sprintf("%s: want a string, got %T", path, v)}
	}
	return nil
}

func boolean(path string, v any) []string {
	if _, ok := v.(bool); !ok {
		return []string{fmt.Sprintf("%s: want a boolean, got %T", path, v)}
	}
	return nil
}

func integer(path string, v any) []string {
	n, ok := v.(json.Number)
	if _, err := n.Int64(); !ok || err != nil {
		return []string{fmt.Sprintf("%s: want an integer, got %v", path, v)}
	}
	return nil
}

func pattern(re *regexp.Regexp) check {
	return func(path string, v any) []string {
		s, ok := v.(string)
		if !ok {
			return str(path, v)
		}
		if !re.MatchString(s) {
			return []string{fmt.Sprintf("%s: %q does not match %s", path, s, re)}
		}
		return nil
	}
}

func enum(vals ...string) check {
	return func(path string, v any) []string {
		s, ok := v.(string)
		if !ok {
			return str(path, v)
		}
		for _, e := range vals {
			if s == e {
				return nil
			}
		}
		return []string{fmt.Sprintf("%s: %q is not one of %s", path, s, strings.Join(vals, ", "))}
	}
}

func array(item check, minItems int) check {
	return func(path string, v any) []string {
		a, ok := v.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want an array, got %T", path, v)}
		}
		var errs []string
		if len(a) < minItems {
			errs = append(errs, fmt.Sprintf("%s: want at least %d item(s)", path, minItems))
		}
		for i, x := range a {
			errs = append(errs, item(fmt.Sprintf("%s[%d]", path, i), x)...)
		}
		return errs
	}
}

func (o object) check(path string, v any) []string {
	m, ok := v.(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("%s: want an object, got %T", path, v)}
	}
	var errs []string
	for _, r := range o.required {
		if _, ok := m[r]; !ok {
			errs = append(errs, fmt.Sprintf("%s: missing required property %q", path, r))
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		c, ok := o.props[k]
		if !ok {
			errs = append(errs, fmt.Sprintf("%s: unknown property %q", path, k))
			continue
		}
		errs = append(errs, c(path+"."+k, m[k])...)
	}
	return errs
}

func anyObject(path string, v any) []string {
	if _, ok := v.(map[string]any); !ok {
		return []string{fmt.Sprintf("%s: want an object, got %T", path, v)}
	}
	return nil
}

var (
	checksumAlgorithms = []string{"SHA1", "BLAKE3", "SHA3-384", "SHA256", "SHA384", "BLAKE2b-512", "BLAKE2b-256", "SHA3-512", "MD2", "ADLER32", "MD4", "SHA3-256", "BLAKE2b-384", "SHA512", "MD6", "MD5", "SHA224"}
	checksumSchema     = object{[]string{"algorithm", "checksumValue"}, map[string]check{
		"algorithm": enum(checksumAlgorithms...), "checksumValue": pattern(hexRE)}}.check
	annotationSchema = object{[]string{"annotationDate", "annotationType", "annotator", "comment"}, map[string]check{
		"annotationDate": pattern(dateRE), "annotationType": enum("OTHER", "REVIEW"), "annotator": str, "comment": str}}.check
	externalRefSchema = object{[]string{"referenceCategory", "referenceLocator", "referenceType"}, map[string]check{
		"comment": str, "referenceCategory": enum("OTHER", "PERSISTENT-ID", "PERSISTENT_ID", "SECURITY", "PACKAGE-MANAGER", "PACKAGE_MANAGER"),
		"referenceLocator": str, "referenceType": str}}.check
	packageSchema = object{[]string{"SPDXID", "downloadLocation", "name"}, map[string]check{
		"SPDXID": pattern(spdxIDRE), "annotations": array(annotationSchema, 0), "attributionTexts": array(str, 0),
		"builtDate": pattern(dateRE), "checksums": array(checksumSchema, 0), "comment": str, "copyrightText": str,
		"description": str, "downloadLocation": str, "externalRefs": array(externalRefSchema, 0), "filesAnalyzed": boolean,
		"hasFiles": array(str, 0), "homepage": str, "licenseComments": str, "licenseConcluded": str, "licenseDeclared": str,
		"licenseInfoFromFiles": array(str, 0), "name": str, "originator": str, "packageFileName": str,
		"packageVerificationCode": object{[]string{"packageVerificationCodeValue"}, map[string]check{
			"packageVerificationCodeExcludedFiles": array(str, 0), "packageVerificationCodeValue": str}}.check,
		"primaryPackagePurpose": enum("OTHER", "INSTALL", "ARCHIVE", "FIRMWARE", "APPLICATION", "FRAMEWORK", "LIBRARY", "CONTAINER", "SOURCE", "DEVICE", "OPERATING-SYSTEM", "FILE"),
		"releaseDate":           pattern(dateRE), "sourceInfo": str, "summary": str, "supplier": str, "validUntilDate": pattern(dateRE), "versionInfo": str,
	}}.check
	relationshipTypes  = []string{"VARIANT_OF", "COPY_OF", "PATCH_FOR", "TEST_DEPENDENCY_OF", "CONTAINED_BY", "DATA_FILE_OF", "OPTIONAL_COMPONENT_OF", "ANCESTOR_OF", "GENERATES", "CONTAINS", "OPTIONAL_DEPENDENCY_OF", "FILE_ADDED", "REQUIREMENT_DESCRIPTION_FOR", "DEV_DEPENDENCY_OF", "DEPENDENCY_OF", "BUILD_DEPENDENCY_OF", "DESCRIBES", "PREREQUISITE_FOR", "HAS_PREREQUISITE", "PROVIDED_DEPENDENCY_OF", "DYNAMIC_LINK", "DESCRIBED_BY", "METAFILE_OF", "DEPENDENCY_MANIFEST_OF", "PATCH_APPLIED", "RUNTIME_DEPENDENCY_OF", "TEST_OF", "TEST_TOOL_OF", "DEPENDS_ON", "SPECIFICATION_FOR", "FILE_MODIFIED", "DISTRIBUTION_ARTIFACT", "AMENDS", "DOCUMENTATION_OF", "GENERATED_FROM", "STATIC_LINK", "OTHER", "BUILD_TOOL_OF", "TEST_CASE_OF", "PACKAGE_OF", "DESCENDANT_OF", "FILE_DELETED", "EXPANDED_FROM_ARCHIVE", "DEV_TOOL_OF", "EXAMPLE_OF"}
	relationshipSchema = object{[]string{"spdxElementId", "relatedSpdxElement", "relationshipType"}, map[string]check{
		"spdxElementId": str, "comment": str, "relatedSpdxElement": str, "relationshipType": enum(relationshipTypes...)}}.check
	documentSchema = object{[]string{"SPDXID", "creationInfo", "dataLicense", "name", "spdxVersion", "documentNamespace"}, map[string]check{
		"$schema": str, "SPDXID": str, "annotations": array(annotationSchema, 0), "comment": str,
		"creationInfo": object{[]string{"created", "creators"}, map[string]check{
			"comment": str, "created": pattern(dateRE), "creators": array(str, 1), "licenseListVersion": str}}.check,
		"dataLicense": str, "externalDocumentRefs": array(anyObject, 0), "hasExtractedLicensingInfos": array(anyObject, 0),
		"name": str, "revieweds": array(anyObject, 0), "spdxVersion": str, "documentNamespace": str,
		"documentDescribes": array(str, 0), "packages": array(packageSchema, 0), "files": array(anyObject, 0),
		"snippets": array(anyObject, 0), "relationships": array(relationshipSchema, 0),
	}}.check
)

// Validate checks that b is an SPDX 2.3 JSON document that meets the NTIA
// minimum elements (see ntia). The error lists every problem, each with
// its JSON path.
func Validate(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("decoding SPDX JSON: %w", err)
	}
	errs := documentSchema("$", v)
	if len(errs) == 0 {
		errs = semantic(v.(map[string]any))
	}
	if len(errs) == 0 {
		errs = ntia(v.(map[string]any))
	}
	if len(errs) > 0 {
		return errors.New("invalid SPDX 2.3 document:\n  " + strings.Join(errs, "\n  "))
	}
	return nil
}

// semantic checks the specification's rules beyond the schema.
func semantic(doc map[string]any) []string {
	var errs []string
	want := map[string]string{"spdxVersion": SPDXVersion, "dataLicense": DataLicense, "SPDXID": DocumentID}
	for _, k := range []string{"spdxVersion", "dataLicense", "SPDXID"} {
		if doc[k] != want[k] {
			errs = append(errs, fmt.Sprintf("$.%s: %q, want %q", k, doc[k], want[k]))
		}
	}
	ns, _ := doc["documentNamespace"].(string)
	if u, err := url.Parse(ns); err != nil || !u.IsAbs() || u.Fragment != "" || strings.Contains(ns, "#") {
		errs = append(errs, fmt.Sprintf("$.documentNamespace: %q is not an absolute URI without a fragment", ns))
	}
	ids := map[string]bool{DocumentID: true}
	pkgs, _ := doc["packages"].([]any)
	for i, p := range pkgs {
		pm := p.(map[string]any)
		id := pm["SPDXID"].(string)
		if ids[id] {
			errs = append(errs, fmt.Sprintf("$.packages[%d].SPDXID: %q is not unique", i, id))
		}
		ids[id] = true
		if fa, ok := pm["filesAnalyzed"].(bool); ok && !fa {
			if _, ok := pm["packageVerificationCode"]; ok {
				errs = append(errs, fmt.Sprintf("$.packages[%d]: packageVerificationCode with filesAnalyzed false", i))
			}
		}
	}
	rels, _ := doc["relationships"].([]any)
	describes := false
	for i, r := range rels {
		rm := r.(map[string]any)
		for _, k := range []string{"spdxElementId", "relatedSpdxElement"} {
			id := rm[k].(string)
			if !ids[id] && id != "NONE" && id != "NOASSERTION" && !strings.HasPrefix(id, "DocumentRef-") {
				errs = append(errs, fmt.Sprintf("$.relationships[%d].%s: %q names no element of the document", i, k, id))
			}
		}
		if rm["spdxElementId"] == DocumentID && rm["relationshipType"] == "DESCRIBES" {
			describes = true
		}
	}
	if _, ok := doc["documentDescribes"]; !describes && !ok {
		errs = append(errs, "$.relationships: the document DESCRIBES nothing")
	}
	return errs
}

// supplierRE is an SPDX supplier naming someone: NOASSERTION does not meet
// the NTIA minimum elements.
var supplierRE = regexp.MustCompile(`^(Organization|Person): \S`)

// ntia checks the NTIA minimum elements of an SBOM: every package has a
// supplier (Organization or Person), a name, a version and a unique
// identifier (the schema checked name and SPDXID); every package but the
// described one takes part in a relationship; the document names its
// author (an Organization or Person creator) and a timestamp (created,
// checked by the schema).
func ntia(doc map[string]any) []string {
	var errs []string
	author := false
	ci, _ := doc["creationInfo"].(map[string]any)
	creators, _ := ci["creators"].([]any)
	for _, c := range creators {
		if s, _ := c.(string); supplierRE.MatchString(s) {
			author = true
		}
	}
	if !author {
		errs = append(errs, `$.creationInfo.creators: no "Organization: X" or "Person: X": the author of the SBOM data is missing`)
	}
	related := map[string]bool{}
	rels, _ := doc["relationships"].([]any)
	for _, r := range rels {
		rm := r.(map[string]any)
		if rm["spdxElementId"] != DocumentID {
			related[rm["spdxElementId"].(string)] = true
		}
		related[rm["relatedSpdxElement"].(string)] = true
	}
	pkgs, _ := doc["packages"].([]any)
	for i, p := range pkgs {
		pm := p.(map[string]any)
		if s, _ := pm["supplier"].(string); !supplierRE.MatchString(s) {
			errs = append(errs, fmt.Sprintf("$.packages[%d].supplier: %q: want \"Organization: X\" or \"Person: X\" (set supplier in the recipe)", i, s))
		}
		if v, _ := pm["versionInfo"].(string); v == "" {
			errs = append(errs, fmt.Sprintf("$.packages[%d].versionInfo: missing", i))
		}
		if id := pm["SPDXID"].(string); !related[id] {
			errs = append(errs, fmt.Sprintf("$.packages[%d]: %s takes part in no relationship", i, id))
		}
	}
	return errs
}
