package publish

import (
	"fmt"
	"io"
	"os"
	"strings"
)

func list(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, " ")
}

// WriteText prints the summary for a terminal.
func (s *Summary) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "commit    %s\nregistry  %s\nsigning   %s\n", s.Commit, s.Registry, s.Signing)
	if s.Plan != nil {
		fmt.Fprintf(&b, "packages  %s\nroles     %s\n", list(s.Plan.Packages), list(s.Plan.Roles))
	}
	for _, r := range s.Roles {
		fmt.Fprintf(&b, "%s  %s@%s  built: %s  cached: %s  pulled: %s\n", r.Role, r.Ref, r.Digest, list(r.Built), list(r.Cached), list(r.Pulled))
		if r.Main != "" {
			fmt.Fprintf(&b, "%s  %s moved\n", r.Role, r.Main)
		}
	}
	switch {
	case s.Failed != nil:
		fmt.Fprintf(&b, "FAILED: %s\n", s.Failed.Error)
		if s.Failed.Package != "" {
			fmt.Fprintf(&b, "failed package: %s, log: %s\n", s.Failed.Package, s.Failed.Log)
		}
	case s.Plan != nil && s.Plan.Empty():
		b.WriteString("nothing to publish: the commit changes no package or role\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// AppendMarkdown appends the summary as Markdown to the file at path,
// created if missing: GitHub's step summary ($GITHUB_STEP_SUMMARY) is one
// file every step appends to.
func (s *Summary) AppendMarkdown(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("opening step summary: %w", err)
	}
	if err := s.WriteMarkdown(f); err != nil {
		f.Close()
		return fmt.Errorf("writing step summary %s: %w", path, err)
	}
	return f.Close()
}

// WriteMarkdown writes the summary as GitHub Markdown (for
// $GITHUB_STEP_SUMMARY).
func (s *Summary) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	of := ""
	if s.Commit != "" {
		of = " of `" + s.Commit[:min(12, len(s.Commit))] + "`"
	}
	if s.Failed != nil {
		fmt.Fprintf(&b, "## ❌ undistro publish%s failed\n\n", of)
	} else {
		fmt.Fprintf(&b, "## undistro publish%s\n\n", of)
	}
	if s.Plan != nil {
		fmt.Fprintf(&b, "Planned against `%s`: packages to rebuild: %s; roles: %s. Signing: %s.\n\n",
			s.Plan.Base[:min(12, len(s.Plan.Base))], code(s.Plan.Packages), code(s.Plan.Roles), s.Signing)
	}
	if len(s.Roles) > 0 {
		b.WriteString("| role | image | digest | main | built | cached (pulled) |\n|---|---|---|---|---|---|\n")
		for _, r := range s.Roles {
			main := "not moved"
			if r.Main != "" {
				main = "`" + r.Main + "`"
			}
			fmt.Fprintf(&b, "| %s | `%s` | `%s` | %s | %s | %s (%s) |\n", r.Role, r.Ref, r.Digest, main, code(r.Built), code(r.Cached), code(r.Pulled))
		}
		b.WriteString("\n")
	}
	switch {
	case s.Failed != nil && s.Failed.Package != "":
		fmt.Fprintf(&b, "Package **%s** failed to build; its log is `%s`.\n\n", s.Failed.Package, s.Failed.Log)
		fmt.Fprintf(&b, "```\n%s\n```\n", strings.ReplaceAll(s.Failed.Error, "```", "'''"))
	case s.Failed != nil:
		fmt.Fprintf(&b, "```\n%s\n```\n", strings.ReplaceAll(s.Failed.Error, "```", "'''"))
	case s.Plan != nil && s.Plan.Empty():
		b.WriteString("Nothing to publish: the commit changes no package or role.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func code(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return "`" + strings.Join(s, "`, `") + "`"
}
