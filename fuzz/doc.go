// Package fuzz holds the node's fuzz targets and their seed corpora
// (testdata/fuzz/<Target>/). `make test` runs each target briefly; `make
// fuzz` runs them for longer. Every target checks invariants against a
// reference (a model or a second implementation), not only "no panic".
package fuzz
