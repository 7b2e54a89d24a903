// Package pdfsniff tells PDF files apart from the rest.
package pdfsniff

import "bytes"

// header is what every PDF file starts with (ISO 32000-2 §7.5.2).
var header = []byte("%PDF-")

// Is reports whether b starts like a PDF file.
func Is(b []byte) bool { return bytes.HasPrefix(b, header) }
