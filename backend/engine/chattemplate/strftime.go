package chattemplate

import (
	"fmt"
	"strings"
	"time"
)

// strftime formats t as Python's time.strftime does in the C locale, for
// transformers' strftime_now (Llama 3.1 and 3.2 put today's date in the
// system prompt with "%d %b %Y"). It knows %a %A %b %B %c %d %e %f %H %I
// %j %m %M %p %S %u %w %x %X %y %Y %z %Z %%, and glibc's "-" flag (%-d)
// that drops the padding; other directives are kept as they are.
func strftime(t time.Time, format string) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] != '%' || i+1 == len(format) {
			b.WriteByte(format[i])
			continue
		}
		i++
		unpadded := format[i] == '-' && i+1 < len(format)
		if unpadded {
			i++
		}
		s, ok := strftimeField(t, format[i])
		if !ok {
			b.WriteString(format[i-1 : i+1])
			continue
		}
		if unpadded {
			s = strings.TrimLeft(s, "0 ")
			if s == "" {
				s = "0"
			}
		}
		b.WriteString(s)
	}
	return b.String()
}

func strftimeField(t time.Time, c byte) (string, bool) {
	if s, ok := strftimeNumber(t, c); ok {
		return s, true
	}
	switch c {
	case 'a':
		return t.Format("Mon"), true
	case 'A':
		return t.Format("Monday"), true
	case 'b':
		return t.Format("Jan"), true
	case 'B':
		return t.Format("January"), true
	case 'p':
		return t.Format("PM"), true
	case 'z':
		return t.Format("-0700"), true
	case 'Z':
		return t.Format("MST"), true
	case 'c':
		return t.Format("Mon Jan _2 15:04:05 2006"), true
	case 'x':
		return t.Format("01/02/06"), true
	case 'X':
		return t.Format("15:04:05"), true
	case '%':
		return "%", true
	}
	return "", false
}

func strftimeNumber(t time.Time, c byte) (string, bool) {
	switch c {
	case 'd':
		return fmt.Sprintf("%02d", t.Day()), true
	case 'e':
		return fmt.Sprintf("%2d", t.Day()), true
	case 'm':
		return fmt.Sprintf("%02d", int(t.Month())), true
	case 'y':
		return fmt.Sprintf("%02d", t.Year()%100), true
	case 'Y':
		return fmt.Sprintf("%d", t.Year()), true
	case 'H':
		return fmt.Sprintf("%02d", t.Hour()), true
	case 'I':
		return fmt.Sprintf("%02d", (t.Hour()+11)%12+1), true
	case 'M':
		return fmt.Sprintf("%02d", t.Minute()), true
	case 'S':
		return fmt.Sprintf("%02d", t.Second()), true
	case 'f':
		return fmt.Sprintf("%06d", t.Nanosecond()/1000), true
	case 'j':
		return fmt.Sprintf("%03d", t.YearDay()), true
	case 'w':
		return fmt.Sprintf("%d", int(t.Weekday())), true
	case 'u':
		return fmt.Sprintf("%d", (int(t.Weekday())+6)%7+1), true
	}
	return "", false
}
