// Package scaffold starts a recipe from a source archive URL: `undistro
// recipe new NAME --url URL`. It downloads with the url source fetcher
// (builder/source), lists the archive with the shared archive reader
// (internal/archive), guesses the version and build system, and writes a
// skeleton recipe that builder/recipe parses. It sits beside the schema
// rather than inside it because it needs the fetchers, which need the
// schema.
package scaffold
