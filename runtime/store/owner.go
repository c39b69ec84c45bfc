package store

import (
	"cmp"
	"io/fs"
	"slices"
	"strings"
	"syscall"
)

type ids struct{ uid, gid int }

func owner(fi fs.FileInfo) ids {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return ids{int(st.Uid), int(st.Gid)}
	}
	return ids{}
}

func sortDeepestFirst(names []string) {
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(strings.Count(b, "/"), strings.Count(a, "/")), strings.Compare(a, b))
	})
}
