// Package docs_test keeps the documentation's promises tied to tests: docs/security.md
// names, in brackets, the test behind each rule, and every name must be a test that exists.
package docs_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestSecurityDocNamesRealTests(t *testing.T) {
	doc, err := os.ReadFile("../../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	defined := map[string]bool{}
	funcRe := regexp.MustCompile(`(?m)^func (Test\w+)\(`)
	err = filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range funcRe.FindAllStringSubmatch(string(src), -1) {
			defined[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	named := 0
	for _, group := range regexp.MustCompile(`\[(Test[^\]]*)\]`).FindAllStringSubmatch(string(doc), -1) {
		for _, name := range strings.Split(group[1], ",") {
			name = strings.TrimSpace(name)
			named++
			if !defined[name] {
				t.Errorf("docs/security.md names %s, which is no test in the repository", name)
			}
		}
	}
	if named < 20 {
		t.Fatalf("docs/security.md names %d tests; the rules should each name theirs", named)
	}
}
