package archive

import (
	"archive/tar"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// Default limits: far above any real package or source archive, far below
// what would fill a disk by surprise.
const (
	// DefaultMaxFileSize is the largest regular file accepted: 4 GiB.
	DefaultMaxFileSize int64 = 4 << 30
	// DefaultMaxTotalSize is the largest sum of regular file sizes: 64 GiB.
	DefaultMaxTotalSize int64 = 64 << 30
	// DefaultMaxEntries is the largest number of entries: 1<<20.
	DefaultMaxEntries = 1 << 20
)

// Rules says what a tree may hold beyond the fixed rules. The zero value
// is the strictest: no privileged paths and the default limits.
type Rules struct {
	// Privileged lists paths ("/usr/bin/su" or "usr/bin/su") that may carry
	// setuid/setgid bits or be device nodes or fifos. Default: none.
	Privileged []string
	// MaxFileSize is the largest regular file in bytes. 0 means
	// DefaultMaxFileSize (4 GiB).
	MaxFileSize int64
	// MaxTotalSize is the largest sum of regular file sizes in bytes. 0
	// means DefaultMaxTotalSize (64 GiB).
	MaxTotalSize int64
	// MaxEntries is the largest number of entries. 0 means
	// DefaultMaxEntries (1<<20).
	MaxEntries int
	// RelativeLinksOnly refuses absolute symlink targets, for trees whose
	// root is not the root of a file system (a source tree). Default:
	// absolute targets are resolved from the tree's root.
	RelativeLinksOnly bool
	// IgnoreSetuid leaves setuid/setgid bits unjudged, for a writer that
	// drops them (a source tree). Default: they need Privileged.
	IgnoreSetuid bool
	// NoSpecialFiles refuses devices and fifos whatever Privileged says,
	// for trees that never carry them (a source tree). Default: they need
	// Privileged.
	NoSpecialFiles bool
	// NoWhiteouts refuses OCI whiteouts (".wh.NAME", ".wh..wh..opq"), for
	// trees that are not a layer over others: a package's files, which must
	// not delete another package's files on the node. Default: whiteouts are
	// entries of KindWhiteout.
	NoWhiteouts bool
	// Noun is what errors call an entry. Default: "layer entry".
	Noun string
}

func (r Rules) withDefaults() (Rules, error) {
	if r.MaxFileSize < 0 || r.MaxTotalSize < 0 || r.MaxEntries < 0 {
		return r, fmt.Errorf("negative limit (MaxFileSize %d, MaxTotalSize %d, MaxEntries %d): use 0 for the default", r.MaxFileSize, r.MaxTotalSize, r.MaxEntries)
	}
	if r.MaxFileSize == 0 {
		r.MaxFileSize = DefaultMaxFileSize
	}
	if r.MaxTotalSize == 0 {
		r.MaxTotalSize = DefaultMaxTotalSize
	}
	if r.MaxEntries == 0 {
		r.MaxEntries = DefaultMaxEntries
	}
	if r.Noun == "" {
		r.Noun = "layer entry"
	}
	return r, nil
}

// Rule names one of the rules a refused entry broke.
type Rule string

// The rules; see the package documentation.
const (
	RuleName      Rule = "name"
	RuleParent    Rule = "parent"
	RuleSymlink   Rule = "symlink"
	RuleHardlink  Rule = "hardlink"
	RuleSpecial   Rule = "special-file"
	RuleSetuid    Rule = "setuid"
	RuleSize      Rule = "size"
	RuleDuplicate Rule = "duplicate"
	RuleType      Rule = "type"
	RuleWhiteout  Rule = "whiteout"
)

// ErrRefused matches every error that refuses an entry.
var ErrRefused = errors.New("refused")

// Error is a refused entry.
type Error struct {
	Entry  string // the entry's name as it appears in the archive
	Rule   Rule
	Reason string
	Noun   string // what an entry is called; "" means "layer entry"
}

func (e *Error) Error() string {
	noun := e.Noun
	if noun == "" {
		noun = "layer entry"
	}
	return fmt.Sprintf("refusing %s %q: %s", noun, e.Entry, e.Reason)
}

// Is makes errors.Is(err, ErrRefused) true.
func (e *Error) Is(target error) bool { return target == ErrRefused }

func refuse(entry string, rule Rule, format string, args ...any) error {
	return &Error{Entry: entry, Rule: rule, Reason: fmt.Sprintf(format, args...)}
}

// Kind is what an entry is.
type Kind uint8

// Entry kinds.
const (
	KindDir Kind = iota + 1
	KindFile
	KindSymlink
	KindHardlink
	KindSpecial // device or fifo
	KindWhiteout
)

func (k Kind) String() string {
	switch k {
	case KindDir:
		return "directory"
	case KindFile, KindHardlink:
		return "regular file"
	case KindSymlink:
		return "symlink"
	case KindSpecial:
		return "device or fifo"
	case KindWhiteout:
		return "whiteout"
	}
	return "non-directory"
}

// Entry is a checked entry.
type Entry struct {
	// Name is the cleaned name relative to the root, slash-separated, no
	// leading slash; "." for the root itself.
	Name string
	Kind Kind
	// Link is a hardlink's cleaned target name (relative to the root);
	// empty for other kinds.
	Link string
	// Privileged is true when the entry needed Rules.Privileged (setuid,
	// setgid, a device or fifo, or a hardlink to one).
	Privileged bool
	// Whiteout is the path a ".wh.NAME" entry deletes from lower layers;
	// Opaque is the directory a ".wh..wh..opq" entry makes opaque ("." for
	// the root). Set only for KindWhiteout.
	Whiteout, Opaque string
	// Skip is true for entries that carry nothing to write: the root
	// directory itself and PAX global headers.
	Skip bool
}

type seen struct {
	kind       Kind
	privileged bool // setuid/setgid file, device or fifo
}

// Checker applies Rules to the entries of one archive, in order. It is not
// safe for concurrent use.
type Checker struct {
	r       Rules
	priv    map[string]bool
	seen    map[string]seen
	entries int
	bytes   int64
}

// NewChecker returns a Checker for one archive.
func NewChecker(r Rules) (*Checker, error) {
	r, err := r.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Checker{r: r, priv: make(map[string]bool, len(r.Privileged)), seen: map[string]seen{}}
	for _, p := range r.Privileged {
		c.priv[path.Clean("/"+p)] = true
	}
	return c, nil
}

// Entries returns how many entries Check has seen.
func (c *Checker) Entries() int { return c.entries }

// Seen reports the kind of the entry already checked at the clean name,
// if any.
func (c *Checker) Seen(name string) (Kind, bool) {
	s, ok := c.seen[name]
	return s.kind, ok
}

// CleanName returns name relative to the root, or the reason it is
// refused.
func CleanName(name string) (string, string) {
	if name == "" {
		return "", "empty name"
	}
	if strings.HasPrefix(name, "/") {
		return "", "absolute path"
	}
	if strings.ContainsRune(name, 0) {
		return "", "NUL byte in name"
	}
	for c := range strings.SplitSeq(name, "/") {
		if c == ".." {
			return "", `".." component`
		}
	}
	return path.Clean(name), ""
}

// Escapes reports whether the symlink target, read from the directory dir
// (relative to the root, "." for the root), climbs above the root.
// Absolute targets start at the root.
func Escapes(dir, target string) bool {
	depth := 0
	if !strings.HasPrefix(target, "/") && dir != "." {
		depth = strings.Count(dir, "/") + 1
	}
	for c := range strings.SplitSeq(target, "/") {
		switch c {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return true
			}
		default:
			depth++
		}
	}
	return false
}

func isSparse(h *tar.Header) bool {
	if h.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range h.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// Check judges the next header of the archive.
func (c *Checker) Check(h *tar.Header) (Entry, error) {
	e, err := c.check(h)
	var re *Error
	if errors.As(err, &re) && c.r.Noun != "layer entry" {
		re.Noun = c.r.Noun
	}
	return e, err
}

func (c *Checker) check(h *tar.Header) (Entry, error) {
	if h.Typeflag == tar.TypeXGlobalHeader {
		return Entry{Skip: true}, nil
	}
	c.entries++
	if c.entries > c.r.MaxEntries {
		return Entry{}, refuse(h.Name, RuleSize, "more than %d entries in one layer", c.r.MaxEntries)
	}
	name, why := CleanName(h.Name)
	if why != "" {
		return Entry{}, refuse(h.Name, RuleName, "%s", why)
	}
	if name == "." {
		if h.Typeflag != tar.TypeDir {
			return Entry{}, refuse(h.Name, RuleName, "the root must be a directory")
		}
		return Entry{Name: ".", Kind: KindDir, Skip: true}, nil
	}
	if base := path.Base(name); strings.HasPrefix(base, ".wh.") {
		return c.whiteout(h.Name, name, base)
	}
	if err := c.parents(h.Name, name); err != nil {
		return Entry{}, err
	}
	if s, ok := c.seen[name]; ok {
		if s.kind == KindDir && h.Typeflag == tar.TypeDir {
			return Entry{Name: name, Kind: KindDir}, nil
		}
		return Entry{}, refuse(h.Name, RuleDuplicate, "duplicate entry: already unpacked as a %s", s.kind)
	}
	if isSparse(h) {
		return Entry{}, refuse(h.Name, RuleType, "sparse file: repack it without --sparse")
	}
	mode := h.FileInfo().Mode()
	e := Entry{Name: name}
	declared := c.priv["/"+name]
	if !c.r.IgnoreSetuid && (mode&fs.ModeSetuid != 0 || (mode&fs.ModeSetgid != 0 && h.Typeflag != tar.TypeDir)) {
		if !declared {
			return Entry{}, refuse(h.Name, RuleSetuid, "setuid/setgid bit (mode %04o) on a path the image metadata does not declare privileged", h.Mode&0o7777)
		}
		e.Privileged = true
	}
	switch h.Typeflag {
	case tar.TypeReg, tar.TypeRegA:
		switch {
		case h.Size < 0:
			return Entry{}, refuse(h.Name, RuleSize, "negative size %d", h.Size)
		case h.Size > c.r.MaxFileSize:
			return Entry{}, refuse(h.Name, RuleSize, "file size %d exceeds the limit of %d bytes", h.Size, c.r.MaxFileSize)
		case c.bytes+h.Size > c.r.MaxTotalSize:
			return Entry{}, refuse(h.Name, RuleSize, "layer content exceeds the limit of %d bytes", c.r.MaxTotalSize)
		}
		c.bytes += h.Size
		e.Kind = KindFile
	case tar.TypeDir:
		e.Kind = KindDir
	case tar.TypeSymlink:
		switch {
		case h.Linkname == "":
			return Entry{}, refuse(h.Name, RuleSymlink, "empty symlink target")
		case strings.ContainsRune(h.Linkname, 0):
			return Entry{}, refuse(h.Name, RuleSymlink, "NUL byte in symlink target")
		case c.r.RelativeLinksOnly && strings.HasPrefix(h.Linkname, "/"):
			return Entry{}, refuse(h.Name, RuleSymlink, "absolute symlink target %q leaves the tree", h.Linkname)
		case Escapes(path.Dir(name), h.Linkname):
			return Entry{}, refuse(h.Name, RuleSymlink, "symlink target %q escapes the root", h.Linkname)
		}
		e.Kind = KindSymlink
	case tar.TypeLink:
		target, why := CleanName(h.Linkname)
		if why != "" {
			return Entry{}, refuse(h.Name, RuleHardlink, "hardlink target %q: %s", h.Linkname, why)
		}
		s, ok := c.seen[target]
		switch {
		case !ok:
			return Entry{}, refuse(h.Name, RuleHardlink, "hardlink target %q is not an earlier entry of this layer", h.Linkname)
		case s.kind == KindDir:
			return Entry{}, refuse(h.Name, RuleHardlink, "hardlink target %q is a directory", h.Linkname)
		case s.kind == KindSymlink:
			return Entry{}, refuse(h.Name, RuleHardlink, "hardlink target %q is a symlink", h.Linkname)
		case s.kind == KindSpecial && !declared:
			return Entry{}, refuse(h.Name, RuleHardlink, "hardlink to device or fifo %q on a path the image metadata does not declare privileged", h.Linkname)
		case s.privileged && !declared:
			return Entry{}, refuse(h.Name, RuleHardlink, "hardlink to setuid/setgid file %q on a path the image metadata does not declare privileged", h.Linkname)
		}
		e.Kind, e.Link = KindHardlink, target
		e.Privileged = e.Privileged || s.privileged
		c.seen[name] = seen{kind: s.kind, privileged: s.privileged}
		return e, nil
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		what := map[byte]string{tar.TypeChar: "character device", tar.TypeBlock: "block device", tar.TypeFifo: "fifo"}[h.Typeflag]
		if c.r.NoSpecialFiles {
			return Entry{}, refuse(h.Name, RuleSpecial, "%s (device nodes and fifos are never allowed here)", what)
		}
		if !declared {
			return Entry{}, refuse(h.Name, RuleSpecial, "%s on a path the image metadata does not declare privileged", what)
		}
		e.Kind, e.Privileged = KindSpecial, true
	default:
		return Entry{}, refuse(h.Name, RuleType, "unsupported entry type %q", string(h.Typeflag))
	}
	c.seen[name] = seen{kind: e.Kind, privileged: e.Privileged && e.Kind != KindDir}
	return e, nil
}

// parents checks that every parent of name seen so far is a directory.
// Parents not seen are created as directories by a writer; they count as
// seen directories from now on.
func (c *Checker) parents(entry, name string) error {
	dir := path.Dir(name)
	if dir == "." {
		return nil
	}
	// name is clean, so each parent is a prefix of dir ending before a
	// slash: slicing it allocates nothing on this per-entry path.
	for i := 0; ; i++ {
		j := strings.IndexByte(dir[i:], '/')
		p := dir
		if j >= 0 {
			p = dir[:i+j]
		}
		s, ok := c.seen[p]
		switch {
		case !ok:
			c.seen[p] = seen{kind: KindDir}
		case s.kind == KindSymlink:
			return refuse(entry, RuleParent, "parent %q is a symlink", p)
		case s.kind != KindDir:
			return refuse(entry, RuleParent, "parent %q is a %s, not a directory", p, s.kind)
		}
		if j < 0 {
			return nil
		}
		i += j
	}
}

func (c *Checker) whiteout(entry, name, base string) (Entry, error) {
	if err := c.parents(entry, name); err != nil {
		return Entry{}, err
	}
	if c.r.NoWhiteouts {
		return Entry{}, refuse(entry, RuleWhiteout, "%q is an OCI whiteout, which would delete %s from the layers below: a package may only add files, rename it", base, path.Join(path.Dir(name), strings.TrimPrefix(base, ".wh.")))
	}
	dir := path.Dir(name)
	if base == ".wh..wh..opq" {
		return Entry{Name: name, Kind: KindWhiteout, Opaque: dir}, nil
	}
	if strings.HasPrefix(base, ".wh..wh.") {
		return Entry{}, refuse(entry, RuleWhiteout, "unsupported whiteout %q (only .wh.NAME and .wh..wh..opq are OCI whiteouts)", base)
	}
	victim := strings.TrimPrefix(base, ".wh.")
	if victim == "" || victim == "." || victim == ".." {
		return Entry{}, refuse(entry, RuleWhiteout, "whiteout of %q names no file", victim)
	}
	return Entry{Name: name, Kind: KindWhiteout, Whiteout: path.Join(dir, victim)}, nil
}
