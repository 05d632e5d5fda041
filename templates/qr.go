package templates

import (
	"fmt"
	"strconv"

	qr "github.com/piglig/go-qr"
)

// quietZone is the light border a QR code needs around it, in modules (ISO/IEC 18004
// §6.3.8 asks for 4).
const quietZone = 4

// qrSVG returns text as a QR code in inline SVG: one path of dark modules on a white
// square, sized by CSS, with a title for screen readers. piglig/go-qr (a port of Project
// Nayuki's reference encoder) hands out the module matrix, so the page draws it itself
// and needs no image. It picks the smallest version for error correction level M and
// raises the level where the same version has room.
func qrSVG(text, title string) (string, error) {
	code, err := qr.EncodeText(text, qr.Medium)
	if err != nil {
		return "", fmt.Errorf("templates: QR code: %w", err)
	}
	size := code.Size()
	n := strconv.Itoa(size + 2*quietZone)
	b := make([]byte, 0, 4096)
	b = append(b, `<svg class="qr" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 `+n+` `+n+`" role="img" aria-label="`+title+`" shape-rendering="crispEdges">`...)
	b = append(b, `<rect width="`+n+`" height="`+n+`" fill="#fff"/><path fill="#000" d="`...)
	// One rectangle per horizontal run of dark modules.
	for y := range size {
		for x := 0; x < size; x++ {
			if !code.Module(x, y) {
				continue
			}
			run := 1
			for code.Module(x+run, y) { // false past the edge
				run++
			}
			b = append(b, 'M')
			b = strconv.AppendInt(b, int64(x+quietZone), 10)
			b = append(b, ' ')
			b = strconv.AppendInt(b, int64(y+quietZone), 10)
			b = append(b, 'h')
			b = strconv.AppendInt(b, int64(run), 10)
			b = append(b, "v1h-"...)
			b = strconv.AppendInt(b, int64(run), 10)
			b = append(b, 'z')
			x += run
		}
	}
	b = append(b, `"/></svg>`...)
	return string(b), nil
}
