package templates

import (
	"fmt"
	"strconv"

	qrcode "github.com/yeqown/go-qrcode/v2"
)

// quietZone is the light border a QR code needs around it, in modules (ISO/IEC 18004
// §6.3.8 asks for 4).
const quietZone = 4

// bitmap captures a QR code's modules (qrcode.Writer).
type bitmap [][]bool

func (b *bitmap) Write(m qrcode.Matrix) error { *b = m.Bitmap(); return nil }
func (b *bitmap) Close() error                { return nil }

// qrSVG returns text as a QR code in inline SVG: one path of dark modules on a white
// square, sized by CSS, with a title for screen readers. yeqown/go-qrcode is a
// maintained encoder that hands out the module matrix, so the page draws it itself and
// needs no image.
func qrSVG(text, title string) (string, error) {
	q, err := qrcode.NewWith(text, qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionMedium))
	if err != nil {
		return "", fmt.Errorf("templates: QR code: %w", err)
	}
	var m bitmap
	if err := q.Save(&m); err != nil {
		return "", fmt.Errorf("templates: QR code: %w", err)
	}
	n := strconv.Itoa(len(m) + 2*quietZone)
	b := make([]byte, 0, 4096)
	b = append(b, `<svg class="qr" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 `+n+` `+n+`" role="img" aria-label="`+title+`" shape-rendering="crispEdges">`...)
	b = append(b, `<rect width="`+n+`" height="`+n+`" fill="#fff"/><path fill="#000" d="`...)
	// One rectangle per horizontal run of dark modules.
	for y, row := range m {
		for x := 0; x < len(row); x++ {
			if !row[x] {
				continue
			}
			run := 1
			for x+run < len(row) && row[x+run] {
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
